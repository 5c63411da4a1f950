"""The dedup stage: decide whether a story was seen before, over a key-value state.

The state is three mappings (Faust tables on RocksDB in the worker, dicts in
``newsflow process``):

``stories``       story_id -> ``SeenStory`` (its fingerprint and the verdict it got)
``fingerprints``  exact fingerprint -> story_id (UTF-8) of the first story with that content
``urls``          canonical URL -> story_id (UTF-8) of the first story at that URL

Rules, in order:
1. same story_id, same content: a replay; the stored verdict is returned unchanged.
2. same story_id (or same canonical URL), new content: ``update`` of the first version.
3. same content as another story: ``duplicate`` of that story's canonical story.
4. otherwise ``original``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

import msgspec

from streams.decode import canonical_url
from streams.records import Dedup, Enriched


class SeenStory(msgspec.Struct, kw_only=True):
    fingerprint: str
    status: str
    canonical_id: str | None
    similarity: float
    seen_at: float


_SEEN_ENCODER = msgspec.json.Encoder()
_SEEN_DECODER = msgspec.json.Decoder(SeenStory)


@dataclass(slots=True)
class DedupState:
    stories: MutableMapping[str, bytes]
    fingerprints: MutableMapping[str, bytes]
    urls: MutableMapping[str, bytes]

    @classmethod
    def in_memory(cls) -> DedupState:
        return cls(stories={}, fingerprints={}, urls={})

    def seen(self, story_id: str) -> SeenStory | None:
        raw = self.stories.get(story_id)
        return None if raw is None else _SEEN_DECODER.decode(raw)

    def remember(self, story_id: str, seen: SeenStory) -> None:
        self.stories[story_id] = _SEEN_ENCODER.encode(seen)

    def first_with_fingerprint(self, fingerprint: str) -> str | None:
        raw = self.fingerprints.get(fingerprint)
        return None if raw is None else raw.decode()

    def first_at_url(self, url_key: str) -> str | None:
        raw = self.urls.get(url_key)
        return None if raw is None else raw.decode()


def _canonical_of(state: DedupState, story_id: str) -> str:
    seen = state.seen(story_id)
    if seen is not None and seen.canonical_id:
        return seen.canonical_id
    return story_id


def decide(item: Enriched, state: DedupState, now: float) -> Dedup:
    """The verdict for one story; updates ``state``. Deterministic for replays."""
    story_id = item.segmented.story_id
    fingerprint = item.fingerprints.exact
    url = item.segmented.source.url
    url_key = canonical_url(url) if url else None

    previous = state.seen(story_id)
    if previous is not None and previous.fingerprint == fingerprint:
        return Dedup(
            status=previous.status,  # type: ignore[arg-type]
            canonical_id=previous.canonical_id,
            similarity=previous.similarity,
        )

    verdict: Dedup
    first_at_url = state.first_at_url(url_key) if url_key else None
    first_same = state.first_with_fingerprint(fingerprint)
    if previous is not None:
        verdict = Dedup(
            status="update", canonical_id=previous.canonical_id or story_id, similarity=0.0
        )
    elif first_at_url is not None and first_at_url != story_id:
        verdict = Dedup(
            status="update", canonical_id=_canonical_of(state, first_at_url), similarity=0.0
        )
    elif first_same is not None and first_same != story_id:
        verdict = Dedup(
            status="duplicate", canonical_id=_canonical_of(state, first_same), similarity=1.0
        )
    else:
        verdict = Dedup(status="original", canonical_id=story_id, similarity=0.0)

    state.remember(
        story_id,
        SeenStory(
            fingerprint=fingerprint,
            status=verdict.status,
            canonical_id=verdict.canonical_id,
            similarity=verdict.similarity,
            seen_at=now,
        ),
    )
    if first_same is None:
        state.fingerprints[fingerprint] = story_id.encode()
    if url_key and first_at_url is None:
        state.urls[url_key] = story_id.encode()
    return verdict
