"""HTML parsing is bounded in size and depth (issue 8, item 10).

Size: a message over ``NEWSFLOW_MAX_MESSAGE_BYTES`` is refused by decoding (``too_large``)
before any parsing. Depth: libxml2's HTML parser (lxml, ``huge_tree`` off) stops nesting at
256 levels, and the renderer's walk (streams/segment/html.py) cuts its recursion at 400; so a
page nested 200,000 levels deep costs linear time, little memory and no RecursionError.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from streams.decode import DecodeError
from streams.pipeline import segment_message
from streams.segment.html import render


def nested(levels: int, inner: str = "Deep words here.") -> str:
    return (
        "<html><body><p>The council met on Tuesday.</p>"
        + "<div>" * levels
        + inner
        + "</div>" * levels
        + "</body></html>"
    )


@pytest.mark.parametrize("levels", [1_000, 15_000, 200_000])
def test_deep_nesting_costs_linear_time_and_little_memory(levels: int) -> None:
    src = nested(levels)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        out = render(src)
        seg = segment_message(src.encode(), b"deep", max_bytes=5_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 5.0
    assert peak < 100_000_000
    assert "The council met on Tuesday." in out.lines  # what precedes the nesting is kept
    assert seg.story_id


def test_ordinary_nesting_is_rendered_in_full() -> None:
    assert "Deep words here." in render(nested(100)).lines


def test_size_is_bounded_before_parsing() -> None:
    src = nested(10, "word " * 300_000).encode()
    started = time.perf_counter()
    with pytest.raises(DecodeError) as err:
        segment_message(src, b"big", max_bytes=1_000_000)
    assert err.value.reason == "too_large"
    assert time.perf_counter() - started < 0.5
