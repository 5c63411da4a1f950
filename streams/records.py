"""Typed records that flow between the stages.

``RawStory``   the decoded input envelope (``news.raw``)
``Segmented``  the story split into its parts (``news.segmented``)
``Enriched``   ``Segmented`` plus language, entities, places, ... (``news.enriched``)
``NormalizedStory`` the v1 output contract (``news.stories``), see ``schemas/normalized_story.v1.json``

Field names of ``NormalizedStory`` are a contract with downstream consumers
(``shared/ARCHITECTURE.md``): add optional fields, never rename or remove within v1.
Records are ``msgspec.Struct`` so the internal topics decode into typed objects with
validation in one call.
"""

from __future__ import annotations

from typing import Literal

import msgspec

SCHEMA_VERSION = "1"

ContentKind = Literal["text", "html", "wire", "empty"]
EntityType = Literal["PERSON", "ORG", "LOC", "MISC"]
DedupStatus = Literal["original", "duplicate", "near_duplicate", "update"]


class Source(msgspec.Struct, kw_only=True):
    name: str | None = None
    url: str | None = None
    domain: str | None = None
    feed: str | None = None


class RawStory(msgspec.Struct, kw_only=True):
    """A raw story after decoding: the payload text plus what the envelope said about it."""

    story_id: str
    body: str
    content_type: str | None = None  # e.g. "text/html", "text/plain"; None = sniff
    source: Source = msgspec.field(default_factory=Source)
    title: str | None = None
    published_at: str | None = None  # ISO-8601 UTC
    fetched_at: str | None = None  # ISO-8601 UTC
    language: str | None = None


class Dateline(msgspec.Struct, kw_only=True):
    place: str | None
    text: str
    time: str | None = None  # ISO-8601 UTC when the dateline carries a time


class Byline(msgspec.Struct, kw_only=True):
    authors: list[str] = msgspec.field(default_factory=list)
    editors: list[str] = msgspec.field(default_factory=list)
    agency: str | None = None


class Caption(msgspec.Struct, kw_only=True):
    text: str
    credit: str | None = None


class Comment(msgspec.Struct, kw_only=True):
    author: str | None
    posted_at: str | None  # ISO-8601 UTC
    text: str


class Segmented(msgspec.Struct, kw_only=True):
    story_id: str
    source: Source
    content_kind: ContentKind
    fetched_at: str | None = None
    published_at: str | None = None
    headline: str | None = None
    dateline: Dateline | None = None
    byline: Byline = msgspec.field(default_factory=Byline)
    lead: str | None = None
    body: list[str] = msgspec.field(default_factory=list)
    captions: list[Caption] = msgspec.field(default_factory=list)
    comments: list[Comment] = msgspec.field(default_factory=list)
    language_hint: str | None = None
    has_article: bool = True
    # Time the raw message was produced/received, for end-to-end latency (epoch seconds).
    received_at: float | None = None


class Entity(msgspec.Struct, kw_only=True):
    text: str
    type: EntityType
    count: int


class Place(msgspec.Struct, kw_only=True):
    name: str
    country_code: str | None
    lat: float | None
    lon: float | None


class Quote(msgspec.Struct, kw_only=True):
    text: str
    speaker: str | None


class DateRef(msgspec.Struct, kw_only=True):
    """A relative day reference ("on Tuesday", "yesterday") and the date it names."""

    text: str
    date: str  # YYYY-MM-DD, the UTC calendar of published_at


class Fingerprints(msgspec.Struct, kw_only=True):
    exact: str  # hex digest of the normalized article text


class Enriched(msgspec.Struct, kw_only=True):
    segmented: Segmented
    language: str
    published_at: str | None = None
    entities: list[Entity] = msgspec.field(default_factory=list)
    places: list[Place] = msgspec.field(default_factory=list)
    countries: list[str] = msgspec.field(default_factory=list)
    quotes: list[Quote] = msgspec.field(default_factory=list)
    keywords: list[str] = msgspec.field(default_factory=list)
    topics: list[str] = msgspec.field(default_factory=list)
    word_count: int = 0
    reading_time_seconds: int = 0
    fingerprints: Fingerprints = msgspec.field(default_factory=lambda: Fingerprints(exact=""))
    flags: list[str] = msgspec.field(default_factory=list)
    dates: list[DateRef] = msgspec.field(default_factory=list)


class Dedup(msgspec.Struct, kw_only=True, omit_defaults=True):
    status: DedupStatus
    canonical_id: str | None
    similarity: float
    # The event cluster: story_id of the cluster's first story; None (left out of the JSON)
    # when that is the canonical story itself.  Optional, added within v1.
    cluster_id: str | None = None


class Pipeline(msgspec.Struct, kw_only=True):
    version: str
    processed_at: str


class NormalizedStory(msgspec.Struct, kw_only=True):
    """``news.stories`` v1. Field names and meaning are a contract."""

    story_id: str
    source: Source
    fetched_at: str | None
    published_at: str | None
    language: str
    headline: str | None
    dateline: Dateline | None
    byline: Byline
    lead: str | None
    body: list[str]
    captions: list[Caption]
    comments: list[Comment]
    entities: list[Entity]
    places: list[Place]
    countries: list[str]
    quotes: list[Quote]
    keywords: list[str]
    topics: list[str]
    word_count: int
    dedup: Dedup
    pipeline: Pipeline
    # Optional additions within v1.
    schema_version: str = SCHEMA_VERSION
    reading_time_seconds: int = 0
    has_article: bool = True
    flags: list[str] = msgspec.field(default_factory=list)
    dates: list[DateRef] = msgspec.field(default_factory=list)


_ENCODER = msgspec.json.Encoder()


def encode(record: msgspec.Struct) -> bytes:
    """Serialize any record to JSON bytes."""
    return _ENCODER.encode(record)


_SEGMENTED_DECODER = msgspec.json.Decoder(Segmented)
_ENRICHED_DECODER = msgspec.json.Decoder(Enriched)


def decode_segmented(data: bytes) -> Segmented:
    return _SEGMENTED_DECODER.decode(data)


def decode_enriched(data: bytes) -> Enriched:
    return _ENRICHED_DECODER.decode(data)


def to_builtins(record: msgspec.Struct) -> dict[str, object]:
    out = msgspec.to_builtins(record)
    assert isinstance(out, dict)
    return out
