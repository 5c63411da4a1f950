"""Dead-letter records: the original bytes plus why they failed, for topics and files."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from streams.decode import DecodeError

MAX_ERROR_CHARS = 1000
# A dead letter keeps at most this much of an oversized key (it is only for finding the input).
MAX_DEAD_KEY_BYTES = 4096


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


def fit_dead_letter(
    key: bytes | None, value: bytes | None, budget: int
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """Key, value and extra headers of a dead letter that fits in ``budget`` bytes.

    The original bytes go to the DLQ unchanged whenever they fit. A message can reach a
    worker bigger than the producer may send (a batch compressed by its producer passes the
    broker's size check compressed, e.g. 20 MB of one byte in a 20 KB gzip batch); then the
    key is cut to ``MAX_DEAD_KEY_BYTES`` and the value to what is left, and the headers
    ``dlq_truncated``, ``original_key_bytes`` and ``original_value_bytes`` say so, instead
    of a send that raises and crashes the agent.
    """
    key_len, value_len = len(key or b""), len(value or b"")
    if key_len + value_len <= budget:
        return key, value, []
    if key is not None and key_len > MAX_DEAD_KEY_BYTES:
        key = key[:MAX_DEAD_KEY_BYTES]
    if value is not None:
        value = value[: max(0, budget - len(key or b""))]
    return (
        key,
        value,
        [
            ("dlq_truncated", b"true"),
            ("original_key_bytes", str(key_len).encode()),
            ("original_value_bytes", str(value_len).encode()),
        ],
    )


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
