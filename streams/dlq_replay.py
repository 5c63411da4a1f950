"""``newsflow dlq replay``: send chosen dead letters back into the pipeline after a fix.

Reads ``news.dlq`` from its first offset up to the end offsets seen at start (messages that
arrive meanwhile are left for the next run), keeps the messages that match every filter
(``--reason``, ``--stage``, ``--partition``, ``--from-offset``/``--to-offset`` on the DLQ's own
offsets) and sends each one's original key and bytes, unchanged, to ``news.raw``. A header
``replayed_from`` (``topic:partition:offset`` of the dead letter) is added for tracing; the
pipeline ignores it, and since ``story_id`` is stable a replayed story gets the same id.

A dead letter whose ``source_topic`` is not ``news.raw`` (it failed in enrich or dedup) holds an
*internal* record, not a raw story: sending it to ``news.raw`` would only dead-letter it again.
Those are skipped and counted unless ``--to-source`` is given, which sends every chosen message
back to the topic it came from instead. The DLQ is read without a consumer group (nothing is
committed, nothing is deleted): a replay can be repeated, and ``--dry-run`` only counts.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka_io import _OVERHEAD, kafka_client_kwargs, producer
from streams.settings import Settings

REPLAYED_FROM = "replayed_from"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters to replay; an empty filter matches everything."""

    reasons: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None  # inclusive

    def matches(self, headers: dict[str, str], partition: int, offset: int) -> bool:
        if self.reasons and headers.get("reason") not in self.reasons:
            return False
        if self.stages and headers.get("stage") not in self.stages:
            return False
        if self.partition is not None and partition != self.partition:
            return False
        if self.from_offset is not None and offset < self.from_offset:
            return False
        return self.to_offset is None or offset <= self.to_offset


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class Summary:
    dlq_topic: str
    scanned: int = 0
    matched: int = 0
    sent: int = 0
    skipped_not_raw: int = 0
    dry_run: bool = False
    by_reason: Counter[str] = field(default_factory=Counter)
    destinations: Counter[str] = field(default_factory=Counter)
    first_offsets: dict[int, int] = field(default_factory=dict)
    last_offsets: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dlq_topic": self.dlq_topic,
            "scanned": self.scanned,
            "matched": self.matched,
            "sent": self.sent,
            "skipped_not_raw": self.skipped_not_raw,
            "dry_run": self.dry_run,
            "by_reason": dict(sorted(self.by_reason.items())),
            "destinations": dict(sorted(self.destinations.items())),
            "offsets": {
                str(p): [self.first_offsets[p], self.last_offsets[p]]
                for p in sorted(self.first_offsets)
            },
        }


def plan(
    letters: Sequence[DeadLetter],
    selection: Selection,
    settings: Settings,
    *,
    to_source: bool = False,
) -> tuple[list[tuple[str, DeadLetter]], Summary]:
    """The (destination topic, dead letter) pairs to send, and the summary so far."""
    summary = Summary(settings.topic_dlq)
    out: list[tuple[str, DeadLetter]] = []
    for letter in letters:
        summary.scanned += 1
        if not selection.matches(letter.headers, letter.partition, letter.offset):
            continue
        summary.matched += 1
        source = letter.headers.get("source_topic") or settings.topic_raw
        if source != settings.topic_raw and not to_source:
            summary.skipped_not_raw += 1
            continue
        dest = source if to_source else settings.topic_raw
        summary.by_reason[letter.headers.get("reason", "?")] += 1
        summary.destinations[dest] += 1
        summary.first_offsets.setdefault(letter.partition, letter.offset)
        summary.last_offsets[letter.partition] = letter.offset
        out.append((dest, letter))
    return out, summary


async def read_dlq(
    settings: Settings, partition: int | None = None, timeout: float = 60.0
) -> list[DeadLetter]:
    """Every message on the DLQ up to the end offsets seen now (bounded by ``timeout``)."""
    consumer = AIOKafkaConsumer(
        **kafka_client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=settings.max_message_bytes + _OVERHEAD,
        max_partition_fetch_bytes=settings.max_message_bytes + _OVERHEAD,
    )
    await consumer.start()
    try:
        partitions = await _partitions(settings, settings.topic_dlq)
        tps = [
            TopicPartition(settings.topic_dlq, p)
            for p in partitions
            if partition is None or p == partition
        ]
        if not tps:
            return []
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while remaining:
            if loop.time() > deadline:
                raise TimeoutError(f"reading {settings.topic_dlq} took over {timeout:.0f}s")
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= end[tp]:
                        continue
                    headers = {k: v.decode("utf-8", "replace") for k, v in (r.headers or ())}
                    letters.append(
                        DeadLetter(tp.partition, r.offset, r.key, r.value or b"", headers)
                    )
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        letters.sort(key=lambda d: (d.partition, d.offset))
        return letters
    finally:
        await consumer.stop()


async def _partitions(settings: Settings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**kafka_client_kwargs(settings))
    await admin.start()
    try:
        (desc,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if desc.get("error_code"):
        raise LookupError(f"topic {topic} does not exist")
    return sorted(int(p["partition"]) for p in desc.get("partitions", ()))


async def replay(
    settings: Settings,
    selection: Selection,
    *,
    to_source: bool = False,
    dry_run: bool = False,
    limit: int | None = None,
) -> Summary:
    letters = await read_dlq(settings, selection.partition)
    chosen, summary = plan(letters, selection, settings, to_source=to_source)
    if limit is not None and len(chosen) > limit:
        chosen = chosen[:limit]
        summary = _recount(summary, chosen)
    summary.dry_run = dry_run
    if dry_run or not chosen:
        return summary
    prod = producer(settings)
    await prod.start()
    try:
        futures = []
        for dest, letter in chosen:
            origin = f"{settings.topic_dlq}:{letter.partition}:{letter.offset}"
            futures.append(
                await prod.send(
                    dest,
                    letter.value,
                    key=letter.key,
                    headers=[(REPLAYED_FROM, origin.encode())],
                )
            )
        for fut in futures:
            await fut
            summary.sent += 1
    finally:
        await prod.stop()
    return summary


def _recount(summary: Summary, chosen: list[tuple[str, DeadLetter]]) -> Summary:
    """The summary of only the first ``len(chosen)`` matches (``--limit``)."""
    out = Summary(summary.dlq_topic, scanned=summary.scanned, matched=summary.matched)
    out.skipped_not_raw = summary.skipped_not_raw
    for dest, letter in chosen:
        out.by_reason[letter.headers.get("reason", "?")] += 1
        out.destinations[dest] += 1
        out.first_offsets.setdefault(letter.partition, letter.offset)
        out.last_offsets[letter.partition] = letter.offset
    return out


def main(args: Any, settings: Settings) -> int:
    """``newsflow dlq replay`` (arguments parsed by streams/cli.py)."""
    if None not in (args.from_offset, args.to_offset) and args.from_offset > args.to_offset:
        print("newsflow dlq replay: --from-offset is after --to-offset", file=sys.stderr)
        return 2
    selection = Selection(
        reasons=frozenset(args.reason or ()),
        stages=frozenset(args.stage or ()),
        partition=args.partition,
        from_offset=args.from_offset,
        to_offset=args.to_offset,
    )
    try:
        summary = asyncio.run(
            replay(
                settings,
                selection,
                to_source=args.to_source,
                dry_run=args.dry_run,
                limit=args.limit,
            )
        )
    except LookupError as exc:
        print(f"newsflow dlq replay: {exc}", file=sys.stderr)
        return 2
    print(orjson.dumps({"summary": summary.as_dict()}).decode())
    if summary.skipped_not_raw:
        print(
            f"newsflow dlq replay: skipped {summary.skipped_not_raw} dead letters that came from "
            "another topic than news.raw (use --to-source to send them back to their source)",
            file=sys.stderr,
        )
    return 0
