"""Dateline detection and timezone normalization."""

from __future__ import annotations

import pytest

from streams.segment.dateline import inline_dateline, parse_datetime, standalone_dateline


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Tue Jan 21, 2014 8:16am EST", "2014-01-21T13:16:00Z"),
        ("Mon Jul 14, 2014 8:16am EDT", "2014-07-14T12:16:00Z"),
        ("Dec 27, 2007, 1:56 PM PST", "2007-12-27T21:56:00Z"),
        ("Jan 9 2008 7:51 PM CST", "2008-01-10T01:51:00Z"),
        ("Saturday, 12 January 2008, 14:30 GMT", "2008-01-12T14:30:00Z"),
        ("5 Jan 2008 14:00 CET", "2008-01-05T13:00:00Z"),
        ("5 Jul 2008 14:00 CEST", "2008-07-05T12:00:00Z"),
        ("June 3, 2013 10:00 BST", "2013-06-03T09:00:00Z"),
        ("Saturday, December 29, 2007 03:05 IST", "2007-12-28T21:35:00Z"),
        ("March 1, 2011 9:00 JST", "2011-03-01T00:00:00Z"),
        ("June 3, 2013 10:00 ET", "2013-06-03T14:00:00Z"),  # DST resolved through the tz database
        ("January 3, 2013 10:00 ET", "2013-01-03T15:00:00Z"),
        ("2008-01-17 15:17 UTC", "2008-01-17T15:17:00Z"),
    ],
)
def test_zones(text: str, iso: str) -> None:
    pt = parse_datetime(text)
    assert pt is not None
    assert pt.iso == iso


def test_no_time_keeps_date_only() -> None:
    pt = parse_datetime("Tuesday, January 15, 2008")
    assert pt is not None
    assert pt.iso is None
    assert pt.date == "2008-01-15"
    assert not pt.has_time


def test_unknown_zone_is_not_guessed() -> None:
    pt = parse_datetime("Jan 3, 2014 9:00 QQT")
    assert pt is not None
    assert pt.iso is None  # the zone is unknown: no silent UTC/local assumption
    assert pt.zone == "QQT"
    assert not pt.zone_known


def test_no_zone_is_not_guessed() -> None:
    pt = parse_datetime("Jan 3, 2014 9:00")
    assert pt is not None and pt.iso is None and pt.has_time


def test_standalone_dateline_with_place() -> None:
    d = standalone_dateline("MOSCOW Tue Jan 21, 2014 8:16am EST")
    assert d is not None
    assert (d.place, d.text, d.time) == (
        "MOSCOW",
        "MOSCOW Tue Jan 21, 2014 8:16am EST",
        "2014-01-21T13:16:00Z",
    )


def test_standalone_dateline_without_time() -> None:
    d = standalone_dateline("NEW YORK January 15, 2008")
    assert d is not None
    assert d.place == "NEW YORK"
    assert d.time is None


def test_not_a_dateline() -> None:
    assert standalone_dateline("The minister said on Tuesday that talks would resume.") is None
    assert parse_datetime("no date here") is None


@pytest.mark.parametrize(
    ("para", "place", "text", "agency"),
    [
        ("MOSCOW (Reuters) - Russian President ...", "MOSCOW", "MOSCOW (Reuters) -", "Reuters"),
        ("SALVADOR, Feb 26 - Showers continued", "SALVADOR", "SALVADOR, Feb 26 -", None),
        ("WASHINGTON (AP) \u2014 The Senate", "WASHINGTON", "WASHINGTON (AP) \u2014", "AP"),
        (
            "SAN FRANCISCO, Calif. (AP) -- A judge",
            "SAN FRANCISCO, Calif.",
            "SAN FRANCISCO, Calif. (AP) --",
            "AP",
        ),
        (
            "LONDON, January 5 (Reuters) - Shares",
            "LONDON",
            "LONDON, January 5 (Reuters) -",
            "Reuters",
        ),
        ("Paris (AFP) - Le", "Paris", "Paris (AFP) -", "AFP"),
    ],
)
def test_inline(para: str, place: str, text: str, agency: str | None) -> None:
    d = inline_dateline(para)
    assert d is not None
    assert (d.place, d.text, d.agency) == (place, text, agency)


def test_inline_none() -> None:
    assert inline_dateline("The president said - in a speech - that") is None
    assert inline_dateline("IT - the sector - grew") is None
