"""Enriched story + dedup verdict -> the ``news.stories`` v1 record."""

from __future__ import annotations

from datetime import UTC, datetime

from streams import __version__
from streams.records import Dedup, Enriched, NormalizedStory, Pipeline


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize(item: Enriched, dedup: Dedup, processed_at: str | None = None) -> NormalizedStory:
    seg = item.segmented
    return NormalizedStory(
        story_id=seg.story_id,
        source=seg.source,
        fetched_at=seg.fetched_at,
        published_at=item.published_at,
        language=item.language,
        headline=seg.headline,
        dateline=seg.dateline,
        byline=seg.byline,
        lead=seg.lead,
        body=seg.body,
        captions=seg.captions,
        comments=seg.comments,
        entities=item.entities,
        places=item.places,
        countries=item.countries,
        quotes=item.quotes,
        keywords=item.keywords,
        topics=item.topics,
        word_count=item.word_count,
        dedup=dedup,
        pipeline=Pipeline(version=__version__, processed_at=processed_at or utc_now_iso()),
        reading_time_seconds=item.reading_time_seconds,
        has_article=seg.has_article,
        flags=item.flags,
        dates=item.dates,
    )
