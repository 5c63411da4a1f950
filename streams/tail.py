"""``newsflow tail``: news.stories (or news.dlq with its reasons) for people."""

from __future__ import annotations

import sys

import orjson

from streams.kafka_io import Received, consume
from streams.settings import Settings


def format_story(msg: Received) -> str:
    try:
        rec = orjson.loads(msg.value)
    except orjson.JSONDecodeError:
        return f"[{msg.partition}:{msg.offset}] <not JSON: {len(msg.value)} bytes>"
    dedup = rec.get("dedup") or {}
    status = dedup.get("status", "?")
    if status != "original":
        status += f" of {dedup.get('canonical_id')}"
    ents = ", ".join(e["text"] for e in (rec.get("entities") or [])[:5])
    return (
        f"[{msg.partition}:{msg.offset}] {rec.get('story_id')} ({status})\n"
        f"  {rec.get('headline') or '(no headline)'}\n"
        f"  published {rec.get('published_at')}  lang {rec.get('language')}  "
        f"{rec.get('word_count')} words  countries {','.join(rec.get('countries') or [])}\n"
        f"  entities: {ents}"
    )


def format_dead_letter(msg: Received) -> str:
    h = msg.headers
    preview = msg.value[:80].decode("utf-8", "replace").replace("\n", " ")
    return (
        f"[{msg.offset}] {h.get('stage')}/{h.get('reason')} from "
        f"{h.get('source_topic')}[{h.get('source_partition')}]@{h.get('source_offset')}: "
        f"{h.get('error_message')}\n  payload: {preview!r}"
    )


async def tail(
    settings: Settings, *, dlq: bool, follow: bool, from_beginning: bool, raw: bool
) -> int:
    topic = settings.topic_dlq if dlq else settings.topic_stories
    count = 0
    async for msg in consume(
        settings, [topic], from_beginning=from_beginning, idle_timeout=None if follow else 3.0
    ):
        count += 1
        if raw:
            doc = (
                {"headers": msg.headers, "value": msg.value.decode("utf-8", "replace")}
                if dlq
                else msg.json()
            )
            sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        else:
            print(format_dead_letter(msg) if dlq else format_story(msg), flush=True)
    print(f"{count} records on {topic}", file=sys.stderr)
    return 0
