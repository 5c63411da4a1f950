"""Segmentation fixes: page-at-once line tests, comment headers, credits, dates, titles."""

from __future__ import annotations

import re
from pathlib import Path

from streams.records import RawStory
from streams.segment import segment
from streams.segment.captions import split_embedded_credit
from streams.segment.comments import _meta
from streams.segment.core import clean_title
from streams.segment.dateline import parse_datetime
from streams.segment.features import PageText, ends_punct

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_pagetext_matches_per_line_tests() -> None:
    lines = [
        "Hello World, 2008!",
        "tourguide88 wrote:",
        "Straße ist groß – naïve café",
        "ends with a quote\u201d",
        "x_y 12 foo-bar",
        "Photo: Jane Doe",
        "emoji \U0001f600 word",
        "trailing punct.  ",
    ]
    page = PageText(lines)
    assert page.words().tolist() == [len(re.findall(r"\w+", s)) for s in lines]
    end = re.compile(r"[.!?\"\u201d\u2019')\]:;]\s*$")
    assert ends_punct(page).tolist() == [bool(end.search(s)) for s in lines]
    assert page.with_keys(("photo",)).tolist() == ["photo" in s.lower() for s in lines]
    assert page.has_digit().tolist() == [bool(re.search(r"\d", s)) for s in lines]


def test_username_digits_are_not_a_year() -> None:
    got = parse_datetime("tourguide88 February 17, 2026 11:20 GMT")
    assert got is not None and got.iso == "2026-02-17T11:20:00Z"
    got = parse_datetime("Tue Jan 21, 2014 8:16am EST")
    assert got is not None and got.iso == "2014-01-21T13:16:00Z"


def test_name_then_date_comment_header() -> None:
    assert _meta("harbourwatch February 17, 2026 10:05 GMT") == (
        "author",
        "harbourwatch",
        "2026-02-17T10:05:00Z",
    )
    assert _meta("tourguide88 February 17, 2026 11:20 GMT")[:2] == ("author", "tourguide88")
    assert _meta("Posted January 5, 2008")[0] == "date"
    assert _meta("Tuesday, January 15, 2008")[0] == "date"


def test_labelled_credit_inside_a_caption() -> None:
    got = split_embedded_credit(
        "Cruise ships moored at the old port of Valletta, Malta. Photo: John Borg/Coastal Herald"
    )
    assert got == (
        "Cruise ships moored at the old port of Valletta, Malta.",
        "John Borg/Coastal Herald",
    )
    assert split_embedded_credit("He said the following: nothing at all was wrong") is None


def test_clean_title() -> None:
    assert clean_title("Mischa Barton jailed\n| Entertainment\n| Reuters", split=True) == (
        "Mischa Barton jailed"
    )
    assert clean_title("Obama - the man", split=False) == "Obama - the man"
    assert clean_title("  ") is None


def test_sample_html_comments_and_caption() -> None:
    s = segment(RawStory(story_id="s2", body=(SAMPLES / "02_article.html").read_text("utf-8")))
    assert [c.author for c in s.comments] == ["harbourwatch", "tourguide88"]
    assert [c.posted_at for c in s.comments] == ["2026-02-17T10:05:00Z", "2026-02-17T11:20:00Z"]
    assert s.captions and s.captions[0].credit == "John Borg/Coastal Herald"
    assert not s.captions[0].text.endswith("Herald")


def test_sample_dump_headline_is_not_the_dateline() -> None:
    s = segment(RawStory(story_id="s1", body=(SAMPLES / "01_page_dump.txt").read_text("utf-8")))
    assert (
        s.headline == "Norway opens Arctic rail link to Sweden after decade of work, officials say"
    )
    assert s.dateline is not None and s.dateline.place == "OSLO"
