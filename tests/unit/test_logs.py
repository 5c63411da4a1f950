"""Structured logs: JSON lines whose fields locate the story (story_id, stage, offsets)."""

from __future__ import annotations

import io
import logging
import logging.config
import threading
from collections.abc import Iterator

import orjson
import pytest

from streams.logs import context_fields, log_context, log_event, logging_config
from streams.settings import Settings


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The project's logging config, with its stderr handler writing into a buffer."""
    stream = io.StringIO()
    config = logging_config(Settings(log_format="json", log_level="debug"))
    config["handlers"]["stderr"]["stream"] = stream
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        root.handlers[:], root.level = saved


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_context_fields_land_on_every_line_of_any_logger(captured: io.StringIO) -> None:
    with log_context(stage="dedup", topic="news.enriched", partition=0, offset=41):
        with log_context(story_id="s-1"):
            logging.getLogger("somewhere.deep").warning("odd input")
        log_event(logging.getLogger("newsflow.agents"), "story written", status="original")
    logging.getLogger("x").info("outside")
    first, second, third = lines(captured)
    assert first["msg"] == "odd input" and first["level"] == "warning"
    assert (first["stage"], first["partition"], first["offset"], first["story_id"]) == (
        "dedup",
        0,
        41,
        "s-1",
    )
    assert second["offset"] == 41 and second["status"] == "original"
    assert "story_id" not in second  # the inner block ended
    assert "offset" not in third and "stage" not in third
    assert {"ts", "level", "logger", "msg"} <= set(third)


def test_explicit_fields_win_over_the_context(captured: io.StringIO) -> None:
    with log_context(stage="segment", offset=1):
        log_event(logging.getLogger("t"), "m", offset=7)
    (line,) = lines(captured)
    assert (line["stage"], line["offset"]) == ("segment", 7)


def test_context_is_per_thread_and_restored() -> None:
    seen: list[dict[str, object]] = []
    with log_context(stage="enrich"):
        worker = threading.Thread(target=lambda: seen.append(context_fields()))
        worker.start()
        worker.join()
        assert context_fields() == {"stage": "enrich"}
    assert context_fields() == {}
    assert seen == [{}]  # a new thread starts without the caller's fields
