"""Places: dateline parsing, resolution with context, country evidence."""

from __future__ import annotations

import pytest

from streams.enrich.demonyms import demonym_country
from streams.enrich.gazetteer import Gazetteer, gazetteer
from streams.enrich.places import (
    Evidence,
    keep_country,
    leading_dateline_place,
    resolve_dateline,
    resolve_places,
    split_dateline_place,
)
from streams.records import Entity


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return gazetteer()


def test_split_dateline_place() -> None:
    assert split_dateline_place("PORTLAND, Ore.") == ("PORTLAND", "Ore.")
    assert split_dateline_place("MOSCOW") == ("MOSCOW", None)
    assert split_dateline_place("WESTPORT, Conn., Feb 26") == ("WESTPORT", "Conn.")


def test_leading_dateline_place() -> None:
    assert leading_dateline_place("WASHINGTON, Feb 26 - The U.S. said") == "WASHINGTON"
    assert leading_dateline_place("MOSCOW (Reuters) - Russia said") == "MOSCOW"
    assert leading_dateline_place("PORTLAND, Ore., Feb 26 - Red Lion") == "PORTLAND, Ore."
    assert leading_dateline_place("The minister said - nothing") is None


@pytest.mark.parametrize(
    ("place", "code", "name"),
    [
        ("PORTLAND, Ore.", "US", "Portland"),
        ("SANTA CRUZ, Calif.", "US", "Santa Cruz"),
        ("CALGARY, Alberta", "CA", "Calgary"),
        ("PARIS, Texas", "US", "Paris"),
        ("PARIS", "FR", "Paris"),
        ("SAO PAULO", "BR", "São Paulo"),
    ],
)
def test_resolve_dateline(gaz: Gazetteer, place: str, code: str, name: str) -> None:
    cand, country = resolve_dateline(gaz, place)
    assert country == code
    assert cand is not None and cand.name == name


def test_small_town_dateline_still_gives_the_country(gaz: Gazetteer) -> None:
    cand, country = resolve_dateline(gaz, "TINYVILLE, Neb.")
    assert country == "US"
    assert cand is not None and cand.lat is None


def test_context_disambiguates(gaz: Gazetteer) -> None:
    assert gaz.resolve("Georgia").country_code == "GE"  # type: ignore[union-attr]
    assert gaz.resolve("Georgia", frozenset({"US"})).country_code == "US"  # type: ignore[union-attr]
    assert gaz.resolve("White House").country_code == "US"  # type: ignore[union-attr]


def test_demonyms() -> None:
    assert demonym_country("Japanese") == "JP"
    assert demonym_country("Russians") == "RU"
    assert demonym_country("West German") == "DE"
    assert demonym_country("Martian") is None


def test_keep_country_rule() -> None:
    assert keep_country(Evidence(dateline=True))
    assert keep_country(Evidence(mentions=1, early=True))
    assert keep_country(Evidence(mentions=2))
    assert not keep_country(Evidence(mentions=1))


def test_resolve_places_with_dateline_and_demonyms(gaz: Gazetteer) -> None:
    ents = [
        Entity(text="Japan", type="LOC", count=2),
        Entity(text="Russian", type="MISC", count=1),
        Entity(text="Mexico", type="LOC", count=1),
    ]
    places, countries = resolve_places(gaz, "MOSCOW", ents, early_text="Russian leader visits")
    assert [p.name for p in places][:2] == ["Moscow", "Japan"]
    assert countries[:2] == ["RU", "JP"]
    assert "MX" not in countries  # one passing mention deep in the story
    assert any(p.name == "Mexico" for p in places)
