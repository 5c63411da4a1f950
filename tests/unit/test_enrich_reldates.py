"""Relative day references resolved against published_at (streams/enrich/reldates.py)."""

from __future__ import annotations

import pytest

from streams.enrich import enrich
from streams.enrich.reldates import published_date, resolve_relative_dates
from streams.normalize import normalize
from streams.records import Dedup, Segmented, Source, to_builtins

# 2014-01-21 is a Tuesday.
PUB = "2014-01-21T13:16:00Z"


def dates(text: str, published_at: str | None = PUB, headline: str | None = None) -> dict[str, str]:
    return {d.text: d.date for d in resolve_relative_dates(headline, [text], published_at)}


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("The minister said on Monday that talks failed.", "on Monday", "2014-01-20"),
        ("The minister said on Tuesday that talks failed.", "on Tuesday", "2014-01-21"),
        ("Prices rose on Wednesday, traders said.", "on Wednesday", "2014-01-15"),
        ("Shares fell sharply on Friday.", "on Friday", "2014-01-17"),
        ("Rebels attacked the town last Friday.", "last Friday", "2014-01-17"),
        ("He arrived last Tuesday.", "last Tuesday", "2014-01-14"),
        ("The team will play next Tuesday.", "next Tuesday", "2014-01-28"),
        ("The vote is this Friday.", "this Friday", "2014-01-24"),
        ("Police arrested him yesterday.", "yesterday", "2014-01-20"),
        ("Markets are closed today.", "today", "2014-01-21"),
        ("Results are due tomorrow.", "tomorrow", "2014-01-22"),
        ("Fighting broke out last night.", "last night", "2014-01-20"),
        ("He left the day before yesterday.", "the day before yesterday", "2014-01-19"),
        ("On Sunday, protesters gathered in the square.", "On Sunday", "2014-01-19"),
        ("Tuesday's meeting ended without a deal.", "Tuesday's", "2014-01-21"),
        ("The blast on Saturday night killed five.", "on Saturday night", "2014-01-18"),
    ],
)
def test_past_and_fixed_offsets(text: str, phrase: str, expected: str) -> None:
    assert dates(text)[phrase] == expected


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("The leaders will meet on Friday in Geneva.", "on Friday", "2014-01-24"),
        ("The company is due to report results on Thursday.", "on Thursday", "2014-01-23"),
        ("The committee on Monday will vote on the bill.", "on Monday", "2014-01-27"),
        ("Talks are scheduled to resume on Wednesday.", "on Wednesday", "2014-01-22"),
        ("He will be sworn in on Sunday.", "on Sunday", "2014-01-26"),
        ("Funaro travels to Washington to meet bankers on Friday.", "on Friday", "2014-01-24"),
        ("A bargaining session has been scheduled Friday in Milwaukee.", "Friday", "2014-01-24"),
    ],
)
def test_future_clauses_look_ahead(text: str, phrase: str, expected: str) -> None:
    assert dates(text)[phrase] == expected


def test_reporting_verb_before_the_day_is_past() -> None:
    # "will" earlier in the clause, but "said on Monday" reports the past.
    got = dates("He will step down, the company said on Monday.")
    assert got == {"on Monday": "2014-01-20"}


def test_headline_infinitive_is_future() -> None:
    got = resolve_relative_dates("Putin to visit Japan on Thursday", [], PUB)
    assert [(d.text, d.date) for d in got] == [("on Thursday", "2014-01-23")]


def test_named_days_are_not_references() -> None:
    text = (
        "Black Monday was recalled. Super Tuesday looms. Good Friday is a holiday. "
        "The Sunday Times reported it."
    )
    assert dates(text) == {}


def test_weekday_before_month_is_kept() -> None:
    assert dates("The deal was signed on Monday January 20.") == {"on Monday": "2014-01-20"}


def test_order_and_distinct() -> None:
    got = resolve_relative_dates(
        "Talks collapse",
        ["Talks collapsed on Monday.", "Yesterday's collapse and Monday's walkout.", "Monday."],
        PUB,
    )
    assert [(d.text, d.date) for d in got] == [
        ("on Monday", "2014-01-20"),
        ("Yesterday", "2014-01-20"),
        ("Monday's", "2014-01-20"),
        ("Monday", "2014-01-20"),
    ]


def test_utc_calendar_and_offsets() -> None:
    # 23:30 in New York on Monday is Tuesday in UTC: the UTC calendar decides.
    assert published_date("2014-01-20T23:30:00-05:00").isoformat() == "2014-01-21"  # type: ignore[union-attr]
    assert published_date("2014-01-21") is not None
    assert published_date("not a date") is None
    assert dates("It happened yesterday.", published_at="2014-03-01T08:00:00Z") == {
        "yesterday": "2014-02-28"
    }


def test_no_published_at_resolves_nothing() -> None:
    assert dates("He said on Monday it happened yesterday.", published_at=None) == {}


def test_enrich_record_carries_dates_and_validates() -> None:
    seg = Segmented(
        story_id="s1",
        source=Source(name="test"),
        content_kind="wire",
        published_at=PUB,
        headline="Minister resigns",
        body=[
            "The finance minister resigned on Monday after a row over the budget, officials "
            "said. He had told parliament yesterday that he would stay, and the cabinet will "
            "meet on Thursday to choose a successor, the prime minister's office said in a "
            "statement issued in the capital on Tuesday afternoon."
        ],
    )
    item = enrich(seg)
    assert [(d.text, d.date) for d in item.dates] == [
        ("on Monday", "2014-01-20"),
        ("yesterday", "2014-01-20"),
        ("on Thursday", "2014-01-23"),
        ("on Tuesday afternoon", "2014-01-21"),
    ]
    record = to_builtins(
        normalize(item, Dedup(status="original", canonical_id=None, similarity=0.0))
    )
    assert record["dates"][0] == {"text": "on Monday", "date": "2014-01-20"}
    jsonschema = pytest.importorskip("jsonschema")
    import json
    from pathlib import Path

    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "schemas/normalized_story.v1.json").read_text()
    )
    jsonschema.validate(record, schema)
