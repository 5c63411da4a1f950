"""The dedup stage: decide whether a story was seen before, over a key-value state.

The state is three mappings (Faust tables on RocksDB in the worker, dicts in
``newsflow process``), all ``str -> bytes``:

``stories``       story_id -> ``SeenStory`` (msgpack): exact key, verdict, event time, MinHash
                  state, feature-set size, shingle hashes, normalized text + key tokens (for the
                  number/name check), anchors, event keys, cluster id, URL keys, earlier versions
``fingerprints``  exact key (headline + article text) -> story_id (UTF-8) of the first story
``urls``          canonical URL -> story_id (UTF-8) of the first story at that URL

The candidate index (MinHash-LSH bands, anchors, the eviction heap) lives in memory and is
derived from ``stories``: it is rebuilt lazily on the first decision after a start, a restart or
:meth:`DedupState.invalidate`.  The state is bounded by an event-time window (stories older than
the newest event time seen minus ``window_hours`` are evicted) and a size cap (``max_entries``,
oldest first).

Rules, in order:
1. same story_id, same content as this or an earlier version: a replay; the stored verdict is
   returned unchanged.
2. same story_id, new content: ``update`` of the first version.
3. same content as another story (exact key): ``duplicate`` of that story's canonical story.
4. same canonical URL, new content: ``update`` of the first story at that URL.
5. a verified near match (MinHash-LSH / anchor candidates, Jaccard or containment above the
   thresholds, numbers and names agreeing, not on boilerplate alone -- shingles many held
   stories brought in, ``boilerplate.py``): ``near_duplicate`` of its canonical story.
6. otherwise ``original``.

Every verdict also carries the story's event cluster (``cluster_id``, the story id of the
cluster's first story; ``None`` when that is the verdict's canonical story): a copy or update
joins its canonical story's cluster; an original joins the cluster of the held story within
``cluster_window_hours`` that shares the most of its names and tickers (at least
``min_event_keys`` of them and ``event_overlap`` of the smaller set; keys held by
``max_posting`` or more stories are too common to count; different tickers never cluster).

``similarity`` is the verified similarity to the matched story (1.0 for duplicates; for an
update the similarity to the version it replaces; for an original the best score of a candidate
that did not pass, 0.0 when there was none).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from streams.decode import canonical_url
from streams.dedup.boilerplate import (
    ShingleCounts,
    new_shingles,
    passes_on_boilerplate,
)
from streams.dedup.features import (
    FeatureParams,
    Features,
    article_text,
    extract,
    restore_minhash,
    shingle_set,
    slot_agreement,
    stored_slots,
)
from streams.dedup.index import CandidateIndex
from streams.records import Dedup, Enriched

__all__ = ["DedupParams", "DedupState", "FeatureParams", "SeenStory", "decide"]


@dataclass(frozen=True, slots=True)
class DedupParams:
    """Thresholds of the near-duplicate decision (chosen on the dev half, docs/dedup.md)."""

    features: FeatureParams = field(default_factory=FeatureParams)
    lsh_bands: int = 32  # 128 perms / 32 bands = 4 rows: P(candidate) 0.5 at J ~ 0.42
    min_shared_anchors: int = 2
    jaccard_threshold: float = 0.45
    containment_threshold: float = 0.65
    min_containment_size: int = 10  # smaller shingle set must have this many
    # Veto when at least ``min_contradictions`` key-token contexts (the word left or right of
    # a number, name or month) contradict -- the same word beside another number or name --
    # and they are at least this share of the contexts both stories have.
    max_contradictions: float = 0.2
    min_contradictions: int = 2
    # Boilerplate: a shingle that this many held stories brought in (a site's header or
    # footer, a template line) cannot carry a match alone -- without such shingles an
    # accepted pair must still share ``boilerplate_containment`` of the smaller rest, if
    # both keep ``boilerplate_min_size`` shingles.  0: off.
    boilerplate_count: int = 8
    boilerplate_min_size: int = 10
    boilerplate_containment: float = 0.4
    # Event clusters (``cluster_id``): names + tickers shared with a held story.
    cluster_window_hours: float = 36.0
    min_event_keys: int = 3
    event_overlap: float = 0.5
    event_common: int = 8  # a name held by this many stories in the window does not count


class Version(msgspec.Struct, array_like=True):
    fingerprint: str
    status: str
    canonical_id: str | None
    similarity: float


class SeenStory(msgspec.Struct, kw_only=True, array_like=True, tag=2):
    fingerprint: str
    status: str
    canonical_id: str | None
    similarity: float
    seen_at: float
    event_time: float = 0.0
    size: int = 0
    signature: bytes = b""
    shingles: bytes = b""  # u32 little endian, text order
    text: str = ""  # normalized tokens joined by spaces (capped)
    keys: str = ""  # key tokens joined by spaces
    tickers: list[int] = msgspec.field(default_factory=list)
    anchors: list[int] = msgspec.field(default_factory=list)
    url_keys: list[str] = msgspec.field(default_factory=list)
    versions: list[Version] = msgspec.field(default_factory=list)  # earlier contents
    event_keys: list[int] = msgspec.field(default_factory=list)
    cluster_id: str | None = None  # None: the story's canonical story (or itself)

    def cluster(self, story_id: str) -> str:
        return self.cluster_id or self.canonical_id or story_id


class _SeenV1(msgspec.Struct, kw_only=True, array_like=True):
    """The records of the first MinHash stage (shingles as a list, two-sided slots)."""

    fingerprint: str
    status: str
    canonical_id: str | None
    similarity: float
    seen_at: float
    event_time: float = 0.0
    size: int = 0
    signature: bytes = b""
    shingles: list[int] = msgspec.field(default_factory=list)
    slots: list[int] = msgspec.field(default_factory=list)
    tickers: list[int] = msgspec.field(default_factory=list)
    anchors: list[int] = msgspec.field(default_factory=list)
    url_keys: list[str] = msgspec.field(default_factory=list)
    versions: list[Version] = msgspec.field(default_factory=list)


class _Forget(msgspec.Struct, array_like=True, tag=2):
    """What eviction needs of a record, the rest skipped undecoded."""

    fingerprint: str
    status: msgspec.Raw
    canonical_id: msgspec.Raw
    similarity: msgspec.Raw
    seen_at: msgspec.Raw
    event_time: msgspec.Raw
    size: msgspec.Raw
    signature: msgspec.Raw
    shingles: msgspec.Raw
    text: msgspec.Raw
    keys: msgspec.Raw
    tickers: msgspec.Raw
    anchors: msgspec.Raw
    url_keys: list[str] = msgspec.field(default_factory=list)
    versions: list[Version] = msgspec.field(default_factory=list)


class _LegacySeen(msgspec.Struct, kw_only=True):
    fingerprint: str
    status: str
    canonical_id: str | None
    similarity: float
    seen_at: float


_SEEN_ENCODER = msgspec.msgpack.Encoder()
_SEEN_DECODER = msgspec.msgpack.Decoder(SeenStory)
_FORGET_DECODER = msgspec.msgpack.Decoder(_Forget)
_V1_DECODER = msgspec.msgpack.Decoder(_SeenV1)
_LEGACY_DECODER = msgspec.json.Decoder(_LegacySeen)
_MAX_VERSIONS = 8


def _decode_seen(raw: bytes) -> SeenStory | None:
    try:
        return _SEEN_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    try:  # the first MinHash stage: replays and exact matches still work, not indexed
        v1 = _V1_DECODER.decode(raw)
        return SeenStory(fingerprint=v1.fingerprint, status=v1.status,
                         canonical_id=v1.canonical_id, similarity=v1.similarity,
                         seen_at=v1.seen_at, event_time=v1.event_time, url_keys=v1.url_keys,
                         versions=v1.versions)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    try:  # the JSON records of the exact-hash-only stage: no signature, not indexed
        old = _LEGACY_DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return SeenStory(fingerprint=old.fingerprint, status=old.status,
                     canonical_id=old.canonical_id, similarity=old.similarity,
                     seen_at=old.seen_at, event_time=old.seen_at)


def _forget_view(raw: bytes) -> tuple[list[str], list[str]]:
    """(fingerprints, URL keys) of a stored record, cheaply."""
    try:
        view = _FORGET_DECODER.decode(raw)
        return [view.fingerprint, *(v.fingerprint for v in view.versions)], view.url_keys
    except (msgspec.DecodeError, msgspec.ValidationError):
        seen = _decode_seen(raw)
        if seen is None:
            return [], []
        return [seen.fingerprint, *(v.fingerprint for v in seen.versions)], seen.url_keys


@dataclass(slots=True)
class DedupState:
    stories: MutableMapping[str, bytes]
    fingerprints: MutableMapping[str, bytes]
    urls: MutableMapping[str, bytes]
    window_hours: float = 72.0
    max_entries: int = 2_000_000
    params: DedupParams = field(default_factory=DedupParams)
    _index: CandidateIndex | None = field(default=None, init=False, repr=False)

    @classmethod
    def in_memory(cls, window_hours: float = 72.0, max_entries: int = 2_000_000,
                  params: DedupParams | None = None) -> DedupState:
        return cls(stories={}, fingerprints={}, urls={}, window_hours=window_hours,
                   max_entries=max_entries, params=params or DedupParams())

    # -- stored records -------------------------------------------------------------------
    def seen(self, story_id: str) -> SeenStory | None:
        raw = self.stories.get(story_id)
        return None if raw is None else _decode_seen(raw)

    def remember(self, story_id: str, seen: SeenStory) -> None:
        self.stories[story_id] = _SEEN_ENCODER.encode(seen)

    def first_with_fingerprint(self, fingerprint: str) -> str | None:
        raw = self.fingerprints.get(fingerprint)
        return None if raw is None else raw.decode()

    def first_at_url(self, url_key: str) -> str | None:
        raw = self.urls.get(url_key)
        return None if raw is None else raw.decode()

    # -- the derived index ----------------------------------------------------------------
    def invalidate(self) -> None:
        """Forget the in-memory index; the next decision rebuilds it from ``stories``.

        Call after the tables were recovered or reassigned (e.g. on partitions assigned).
        """
        self._index = None

    @property
    def index(self) -> CandidateIndex:
        if self._index is None:
            self._index = self._rebuild()
        return self._index

    def _rebuild(self) -> CandidateIndex:
        fp = self.params.features
        index = CandidateIndex(num_perm=fp.num_perm, num_bands=self.params.lsh_bands,
                               max_event_posting=self.params.event_common,
                               window_seconds=self.window_hours * 3600.0)
        held: list[tuple[float, str, SeenStory]] = []
        for story_id, raw in list(self.stories.items()):
            if raw is None:
                continue
            seen = _decode_seen(raw)
            if seen is None:
                continue
            index.add(story_id, _minhash_of(seen, fp), seen.anchors, seen.event_time,
                      seen.event_keys, seen.cluster(story_id), seen.tickers)
            held.append((seen.event_time, story_id, seen))
        for event_time, story_id, seen in sorted(held, key=lambda h: (h[0], h[1])):
            self._recount(index.counts, story_id, seen, event_time)
        return index

    def _recount(self, counts: ShingleCounts, story_id: str, seen: SeenStory,
                 watermark: float) -> None:
        """Shingle counts of a held story on a rebuild (in event-time order, so the counts'
        generations roll as they did): a copy's relative to its canonical story (the story it
        matched is not stored; its canonical is the closest we have)."""
        if seen.status == "duplicate" or not seen.shingles:
            return
        canonical = None
        if seen.status != "original" and seen.canonical_id and seen.canonical_id != story_id:
            canonical = self.seen(seen.canonical_id)
        if canonical is None or not canonical.shingles:
            counts.add(seen.shingles, watermark)
        else:
            counts.add(new_shingles(shingle_set(seen.shingles), shingle_set(canonical.shingles)),
                       watermark)

    def __len__(self) -> int:
        return len(self.index)

    # -- eviction -------------------------------------------------------------------------
    def evict(self) -> int:
        """Drop stories outside the event-time window and above the size cap; returns count."""
        index = self.index
        evicted = 0
        while len(index) > self.max_entries:
            sid = index.pop_oldest(None)
            if sid is None:
                break
            self._forget(sid)
            evicted += 1
        if index.watermark != float("-inf"):
            cutoff = index.watermark - self.window_hours * 3600.0
            while True:
                sid = index.pop_oldest(cutoff)
                if sid is None:
                    break
                self._forget(sid)
                evicted += 1
        if evicted:
            index.compact_heap()
        return evicted

    def _forget(self, story_id: str) -> None:
        raw = self.stories.pop(story_id, None)
        if raw is None:
            return
        fingerprints, url_keys = _forget_view(raw)
        mine = story_id.encode()
        for fingerprint in set(fingerprints):
            if self.fingerprints.get(fingerprint) == mine:
                del self.fingerprints[fingerprint]
        for url_key in url_keys:
            if self.urls.get(url_key) == mine:
                del self.urls[url_key]


def _minhash_of(seen: SeenStory, fp: FeatureParams) -> Any:
    if not seen.signature:
        return None
    try:
        return restore_minhash(seen.signature, fp)
    except Exception:  # noqa: BLE001 - a record from other parameters: not indexed
        return None


def _epoch(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


LATE_GRACE_SECONDS = 3600.0


def event_time(item: Enriched, now: float) -> float:
    """Published time (else fetched time, else ``now``), never later than ``now`` + 1 day."""
    seg = item.segmented
    for value in (item.published_at, seg.published_at, seg.fetched_at):
        t = _epoch(value)
        if t is not None and math.isfinite(t):
            return min(t, now + 86_400.0)
    return now


def exact_key(features: Features) -> str:
    """Digest of the normalized headline + article tokens."""
    return features.digest or hashlib.blake2b(
        " ".join(features.tokens).encode("utf-8"), digest_size=16).hexdigest()


def _canonical_of(state: DedupState, story_id: str) -> tuple[str, str]:
    """(canonical story, event cluster) of a held story."""
    seen = state.seen(story_id)
    if seen is not None and seen.canonical_id:
        return seen.canonical_id, seen.cluster(story_id)
    return story_id, seen.cluster(story_id) if seen is not None else story_id


@dataclass(slots=True)
class Match:
    story_id: str
    score: float
    seen: SeenStory


def similarity(features: Features, seen: SeenStory, params: DedupParams,
               counts: ShingleCounts | None = None) -> tuple[float, bool]:
    """(score, accepted) of a stored story against a new one: the verification step.

    Exact Jaccard and containment of the two shingle sets; accepted above either threshold
    unless the key tokens veto it: both stories carry tickers and share none, or the numbers,
    names and months contradict (:func:`streams.dedup.features.slot_agreement`: at least
    ``min_contradictions`` contexts, and ``max_contradictions`` of those both stories have);
    or (given the held stories' shingle ``counts``) the pair passes only on boilerplate
    (:func:`streams.dedup.boilerplate.boilerplate_veto`).
    """
    if not seen.shingles or not features.shingles:
        return 0.0, False
    mine = features.shingle_set
    theirs = shingle_set(seen.shingles)
    inter = len(mine & theirs)
    size_a, size_b = len(mine), len(theirs)
    jac = inter / (size_a + size_b - inter)
    small = min(size_a, size_b)
    con = inter / small
    score = max(jac, con)
    if jac >= params.jaccard_threshold:
        accepted = True
    elif con >= params.containment_threshold:
        accepted = small >= params.min_containment_size
    else:
        accepted = False
    if accepted and features.tickers and seen.tickers and set(features.tickers).isdisjoint(
            seen.tickers):
        accepted = False
    if accepted and seen.keys:
        agree, contra = slot_agreement(features.slots,
                                       stored_slots(seen.text, seen.keys.split(" ")))
        if (contra >= params.min_contradictions
                and contra >= params.max_contradictions * (agree + contra)):
            accepted = False
    if accepted and counts is not None and params.boilerplate_count:
        accepted = not passes_on_boilerplate(
            mine, theirs, counts, params.boilerplate_count, params.boilerplate_min_size,
            params.boilerplate_containment)
    return score, accepted


def find_match(features: Features, state: DedupState, exclude: str) -> tuple[Match | None, float]:
    """The best verified near match among the candidates, and the best score seen at all."""
    params = state.params
    best: Match | None = None
    best_score = 0.0
    for sid in state.index.candidates(features.minhash, features.anchors,
                                      params.min_shared_anchors):
        if sid == exclude:
            continue
        seen = state.seen(sid)
        if seen is None:
            continue
        score, accepted = similarity(features, seen, params, state.index.counts)
        best_score = max(best_score, score)
        if accepted and (best is None or score > best.score
                         or (score == best.score and sid < best.story_id)):
            best = Match(sid, score, seen)
    return best, best_score


def find_event(features: Features, state: DedupState, t: float, exclude: str) -> str | None:
    """The event cluster of the held story that shares the most names and tickers, if any."""
    params = state.params
    return state.index.event_cluster(
        features.event_keys, features.tickers, t, params.cluster_window_hours * 3600.0,
        params.min_event_keys, params.event_overlap, exclude, params.event_common)


def decide(item: Enriched, state: DedupState, now: float) -> Dedup:
    """The verdict for one story; updates ``state``. Deterministic for replays."""
    seg = item.segmented
    story_id = seg.story_id
    params = state.params
    features = extract(article_text(seg.headline, seg.body, seg.lead), params.features)
    fingerprint = features.digest
    url = seg.source.url
    url_key = canonical_url(url) if url else None
    index = state.index

    previous = state.seen(story_id)
    if previous is not None:
        if previous.fingerprint == fingerprint:
            return _verdict(previous.status, previous.canonical_id, previous.similarity,
                            previous.cluster_id)
        for version in previous.versions:
            if version.fingerprint == fingerprint:
                return Dedup(status=version.status,  # type: ignore[arg-type]
                             canonical_id=version.canonical_id, similarity=version.similarity,
                             cluster_id=previous.cluster_id)

    t = event_time(item, now)
    verdict: Dedup
    cluster: str
    basis: SeenStory | None = None  # the held story this one was compared to and follows
    first_same = state.first_with_fingerprint(fingerprint)
    first_at_url = state.first_at_url(url_key) if url_key else None
    if previous is not None:
        score, _ = similarity(features, previous, params)
        verdict = Dedup(status="update", canonical_id=previous.canonical_id or story_id,
                        similarity=round(score, 4))
        cluster, basis = previous.cluster(story_id), previous
    elif first_same is not None and first_same != story_id and first_same in state.stories:
        canonical, cluster = _canonical_of(state, first_same)
        verdict = Dedup(status="duplicate", canonical_id=canonical, similarity=1.0)
    elif (first_at_url is not None and first_at_url != story_id
          and (url_seen := state.seen(first_at_url)) is not None):
        score, _ = similarity(features, url_seen, params)
        verdict = Dedup(status="update", canonical_id=url_seen.canonical_id or first_at_url,
                        similarity=round(score, 4))
        cluster, basis = url_seen.cluster(first_at_url), url_seen
    else:
        match, best_score = find_match(features, state, story_id)
        if match is None:
            verdict = Dedup(status="original", canonical_id=story_id,
                            similarity=round(best_score, 4))
            cluster = find_event(features, state, t, story_id) or story_id
        else:
            status = "duplicate" if match.seen.fingerprint == fingerprint else "near_duplicate"
            verdict = Dedup(status=status,  # type: ignore[arg-type]
                            canonical_id=match.seen.canonical_id or match.story_id,
                            similarity=1.0 if status == "duplicate" else round(match.score, 4))
            cluster, basis = match.seen.cluster(match.story_id), match.seen
    cluster_id = None if cluster == verdict.canonical_id else cluster
    verdict.cluster_id = cluster_id

    versions: list[Version] = []
    if previous is not None:
        versions = [*previous.versions, Version(previous.fingerprint, previous.status,
                                                previous.canonical_id, previous.similarity)]
        versions = versions[-_MAX_VERSIONS:]
    url_keys = list(previous.url_keys) if previous is not None else []
    if url_key and (first_at_url is None or first_at_url == story_id
                    or first_at_url not in state.stories):
        state.urls[url_key] = story_id.encode()
        if url_key not in url_keys:
            url_keys.append(url_key)
    if first_same is None or first_same not in state.stories:
        state.fingerprints[fingerprint] = story_id.encode()
    # A story older than the window's trailing edge (a late or backfilled one) is kept for
    # a grace period instead of being evicted at once, so its own late copies still match.
    if index.watermark != float("-inf"):
        window = state.window_hours * 3600.0
        t = max(t, index.watermark - window + min(LATE_GRACE_SECONDS, window / 2))
    fp = params.features
    state.remember(story_id, SeenStory(
        fingerprint=fingerprint, status=verdict.status, canonical_id=verdict.canonical_id,
        similarity=verdict.similarity, seen_at=now, event_time=t, size=features.size,
        signature=features.minhash.__getstate__(), shingles=features.shingles,
        text=features.text[: fp.max_text], keys=" ".join(sorted(features.keys)),
        tickers=features.tickers, anchors=features.anchors, url_keys=url_keys,
        versions=versions, event_keys=features.event_keys, cluster_id=cluster_id,
    ))
    index.add(story_id, features.minhash, features.anchors, t, features.event_keys,
              cluster, features.tickers)
    if verdict.status != "duplicate" and features.shingles:
        index.counts.add(_brought_in(features, basis), index.watermark)
    state.evict()
    return verdict


def _brought_in(features: Features, basis: SeenStory | None) -> bytes:
    """The shingles a story adds to the held ones' counts: all of an original's, only the new
    ones of a copy or an update (its text counts once however often it is re-published)."""
    if basis is None or not basis.shingles:
        return features.shingles
    return new_shingles(features.shingle_set, shingle_set(basis.shingles))


def _verdict(status: str, canonical_id: str | None, similarity: float,
             cluster_id: str | None) -> Dedup:
    return Dedup(status=status,  # type: ignore[arg-type]
                 canonical_id=canonical_id, similarity=similarity, cluster_id=cluster_id)
