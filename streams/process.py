"""``newsflow process IN OUT``: the same stages over a JSONL file, without Kafka.

Each input line is a raw message exactly as it would sit on ``news.raw`` (a JSON envelope,
or a bare payload when the line is not a JSON object). Output: one normalized JSON record
per line, in input order. Failures: one JSON line each on the ``--dlq`` file (or stderr),
never a traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson

from streams.dedup import DedupState, decide
from streams.dlq import Failure, dlq_file_record
from streams.enrich import enrich_batch
from streams.normalize import normalize
from streams.pipeline import segment_message
from streams.records import Enriched, NormalizedStory, Segmented, encode
from streams.settings import Settings


@dataclass
class Summary:
    read: int = 0
    written: int = 0
    failed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        rate = self.read / self.seconds if self.seconds else 0.0
        return {
            "read": self.read,
            "written": self.written,
            "failed": self.failed,
            "reasons": self.reasons,
            "seconds": round(self.seconds, 3),
            "stories_per_second": round(rate, 1),
        }


@dataclass
class Outcome:
    line_no: int
    payload: bytes
    record: NormalizedStory | None = None
    failure: Failure | None = None


def _batches(lines: Iterable[bytes], size: int) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    for line_no, line in enumerate(lines, start=1):
        payload = line.rstrip(b"\r\n")
        if not payload.strip():
            continue  # blank lines separate nothing in JSONL; they are not messages
        batch.append((line_no, payload))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def process_lines(
    lines: Iterable[bytes],
    settings: Settings,
    state: DedupState | None = None,
    batch_size: int = 32,
) -> Iterator[Outcome]:
    """Run segment -> enrich -> dedup over raw lines; yields one outcome per message, in order."""
    state = state or DedupState.in_memory(
        window_hours=settings.dedup_window_hours, max_entries=settings.dedup_max_entries
    )
    for batch in _batches(lines, batch_size):
        outcomes = [Outcome(n, p) for n, p in batch]
        segmented: list[tuple[Outcome, Segmented]] = []
        for outcome in outcomes:
            try:
                seg = segment_message(outcome.payload, None, max_bytes=settings.max_message_bytes)
                segmented.append((outcome, seg))
            except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
                outcome.failure = Failure.from_exception("segment", exc)
        enriched: list[Enriched | Failure]
        try:
            enriched = list(enrich_batch([s for _, s in segmented], batch_size))
        except Exception:  # noqa: BLE001 - a failing story goes to the DLQ
            enriched = []
            for _, seg in segmented:
                try:
                    enriched.append(enrich_batch([seg])[0])
                except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
                    enriched.append(Failure.from_exception("enrich", exc))
        for (outcome, _), item in zip(segmented, enriched, strict=True):
            if isinstance(item, Failure):
                outcome.failure = item
                continue
            try:
                outcome.record = normalize(item, decide(item, state, now=time.time()))
            except Exception as exc:  # noqa: BLE001 - a failing story goes to the DLQ
                outcome.failure = Failure.from_exception("dedup", exc)
        yield from outcomes


def run(
    src: BinaryIO,
    out: BinaryIO,
    dlq: BinaryIO,
    settings: Settings,
    batch_size: int = 32,
    progress: bool = False,
) -> Summary:
    summary = Summary()
    started = time.perf_counter()
    for outcome in process_lines(src, settings, batch_size=batch_size):
        summary.read += 1
        if outcome.record is not None:
            out.write(encode(outcome.record) + b"\n")
            summary.written += 1
        elif outcome.failure is not None:
            dlq.write(
                orjson.dumps(dlq_file_record(outcome.failure, outcome.line_no, outcome.payload))
                + b"\n"
            )
            summary.failed += 1
            summary.reasons[outcome.failure.reason] = (
                summary.reasons.get(outcome.failure.reason, 0) + 1
            )
        if progress and summary.read % 100 == 0:
            rate = summary.read / (time.perf_counter() - started)
            print(
                f"\rprocessed {summary.read} stories ({rate:.0f}/s), {summary.failed} failed",
                end="",
                file=sys.stderr,
                flush=True,
            )
    out.flush()
    dlq.flush()
    summary.seconds = time.perf_counter() - started
    if progress and summary.read >= 100:
        print(file=sys.stderr)
    return summary
