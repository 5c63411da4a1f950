"""The stage functions as the agents and ``newsflow process`` call them.

Each function takes what arrives on its input (bytes or typed records) and returns typed
records or raises; routing failures to the DLQ is the caller's job.
"""

from __future__ import annotations

from streams.decode import decode_message
from streams.records import Segmented
from streams.segment import segment


def segment_message(
    value: bytes | None, key: bytes | None, *, max_bytes: int, received_at: float | None = None
) -> Segmented:
    """Raw message bytes -> ``Segmented``; raises ``DecodeError`` for bad input."""
    raw = decode_message(value, key, max_bytes=max_bytes)
    seg = segment(raw)
    seg.received_at = received_at
    return seg
