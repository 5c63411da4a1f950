"""Locations -> places with country and coordinates; countries from places and demonyms."""

from __future__ import annotations

import re
from collections.abc import Sequence

from streams.enrich.demonyms import demonym_country
from streams.enrich.gazetteer import Gazetteer
from streams.records import Entity, Place

_WORD = re.compile(r"[A-Z][a-z]+(?:[- ][A-Z][a-z]+)?")


def context_countries(
    gaz: Gazetteer, dateline_place: str | None, entities: Sequence[Entity]
) -> frozenset[str]:
    """Countries the story is unambiguously about: country names and demonyms it uses."""
    codes: set[str] = set()
    for ent in entities:
        if ent.type == "MISC":
            for part in ent.text.split("-"):
                code = demonym_country(part)
                if code:
                    codes.add(code)
        elif ent.type == "LOC":
            codes.update(c.country_code for c in gaz.candidates(ent.text) if c.kind == "country")
    if dateline_place:
        best = gaz.resolve(dateline_place.title(), frozenset(codes))
        if best is not None:
            codes.add(best.country_code)
    return frozenset(codes)


def resolve_places(
    gaz: Gazetteer, dateline_place: str | None, entities: Sequence[Entity]
) -> tuple[list[Place], list[str]]:
    """Places (dateline first, then LOC entities in order) and the story's countries."""
    context = context_countries(gaz, dateline_place, entities)
    names: list[str] = []
    if dateline_place:
        names.append(dateline_place.title() if dateline_place.isupper() else dateline_place)
    names.extend(e.text for e in entities if e.type == "LOC")
    places: list[Place] = []
    seen: set[str] = set()
    countries: list[str] = []
    for name in names:
        cand = gaz.resolve(name, context)
        if cand is None:
            continue
        key = f"{cand.name}|{cand.country_code}"
        if key not in seen:
            seen.add(key)
            places.append(
                Place(name=cand.name, country_code=cand.country_code, lat=cand.lat, lon=cand.lon)
            )
        if cand.country_code not in countries:
            countries.append(cand.country_code)
    for ent in entities:
        if ent.type != "MISC":
            continue
        for part in ent.text.split("-"):
            code = demonym_country(part)
            if code and code not in countries:
                countries.append(code)
    return places, countries
