"""Dead-letter records: the original bytes plus why they failed, for topics and files."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from streams.decode import DecodeError

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Failure:
    stage: str
    reason: str
    error_class: str
    message: str

    @classmethod
    def from_exception(cls, stage: str, exc: BaseException) -> Failure:
        reason = exc.reason if isinstance(exc, DecodeError) else "stage_error"
        return cls(stage, reason, type(exc).__name__, str(exc)[:MAX_ERROR_CHARS])


def dlq_headers(
    failure: Failure, source_topic: str, partition: int | None, offset: int | None
) -> list[tuple[str, bytes]]:
    """Headers of a ``news.dlq`` message (the value is the original bytes, unchanged)."""
    return [
        ("source_topic", source_topic.encode()),
        ("source_partition", str(partition if partition is not None else -1).encode()),
        ("source_offset", str(offset if offset is not None else -1).encode()),
        ("stage", failure.stage.encode()),
        ("reason", failure.reason.encode()),
        ("error_class", failure.error_class.encode()),
        ("error_message", failure.message.encode("utf-8", "replace")),
    ]


def dlq_file_record(failure: Failure, line_no: int, payload: bytes) -> dict[str, object]:
    """A JSON line for ``newsflow process --dlq``: the failure and the original payload."""
    record: dict[str, object] = {
        "line": line_no,
        "stage": failure.stage,
        "reason": failure.reason,
        "error_class": failure.error_class,
        "error_message": failure.message,
    }
    try:
        record["payload"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload_b64"] = base64.b64encode(payload).decode("ascii")
    return record
