"""The seed page (shared/data/000_f0e4afc2f3b2e801.txt) must come out exactly right."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.records import RawStory
from streams.segment import segment

SEED = Path(__file__).resolve().parents[2].parent / "shared/data/000_f0e4afc2f3b2e801.txt"


@pytest.fixture(scope="module")
def seg():  # type: ignore[no-untyped-def]
    if not SEED.exists():
        pytest.skip(f"seed page not found: {SEED}")
    return segment(RawStory(story_id="x", body=SEED.read_text(encoding="utf-8")))


def test_kind_and_headline(seg) -> None:  # type: ignore[no-untyped-def]
    assert seg.content_kind == "text"
    assert seg.has_article
    assert seg.headline == "Russia's Putin accepts Japan invitation, minister says"


def test_dateline_and_time(seg) -> None:  # type: ignore[no-untyped-def]
    assert seg.dateline is not None
    assert seg.dateline.place == "MOSCOW"
    assert seg.dateline.text == "MOSCOW Tue Jan 21, 2014 8:16am EST"
    assert seg.dateline.time == "2014-01-21T13:16:00Z"
    assert seg.published_at == "2014-01-21T13:16:00Z"


def test_caption(seg) -> None:  # type: ignore[no-untyped-def]
    assert len(seg.captions) == 1
    cap = seg.captions[0]
    assert cap.text == (
        "Russian President Vladimir Putin answers a journalist's question during a televised news "
        "conference in Sochi January 19, 2014."
    )
    assert cap.credit == "Reuters/Alexei Nikolsky/RIA Novosti/Kremlin"


def test_byline(seg) -> None:  # type: ignore[no-untyped-def]
    assert seg.byline.authors == ["Steve Gutterman"]
    assert seg.byline.editors == ["Timothy Heritage"]
    assert seg.byline.agency == "Reuters"


def test_body(seg) -> None:  # type: ignore[no-untyped-def]
    body = seg.body
    assert len(body) == 8
    assert body[0].startswith("MOSCOW (Reuters) - Russian President Vladimir Putin has accepted ")
    assert body[-1].endswith(
        "the first official visit to Moscow by a Japanese prime minister in a decade."
    )
    assert seg.lead == body[0]
    text = "\n".join(body)
    for junk in (
        "Related Topics",
        "REUTERS/",
        "Credit:",
        "Writing by",
        "We welcome comments",
        "De-Americanizing",
        "Report as abuse",
        "Comments (1)",
        "answers a journalist",
    ):
        assert junk not in text


def test_comment(seg) -> None:  # type: ignore[no-untyped-def]
    assert len(seg.comments) == 1
    c = seg.comments[0]
    assert c.author == "tmc"
    assert c.posted_at == "2014-01-21T15:03:00Z"
    assert c.text == "just part of De-Americanizing the world."


def test_ids_copied(seg) -> None:  # type: ignore[no-untyped-def]
    assert seg.story_id == "x"
    assert seg.received_at is None
