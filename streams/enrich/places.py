"""Locations -> places with country and coordinates; countries from places and demonyms.

Order of evidence:

1. the dateline ("PORTLAND, Ore.", "SALVADOR", "MOSCOW"): a qualifier after the comma (US
   state or Canadian province in AP style, a country) pins the country and picks the city
   within it; a bare city is resolved with the story's other countries as context;
2. LOC entities, resolved by :meth:`Gazetteer.resolve` with the context countries (country
   names and demonyms in the story, the dateline country) and population;
3. demonyms in MISC entities ("Japanese", "Russian-Japanese").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from streams.enrich.demonyms import demonym_country
from streams.enrich.gazetteer import Candidate, Gazetteer
from streams.records import Entity, Place

# AP-style state abbreviations and names -> GeoNames admin1 code (keys: casefolded, no dots).
US_STATES: dict[str, str] = {
    "ala": "AL", "alaska": "AK", "ariz": "AZ", "ark": "AR", "calif": "CA", "cal": "CA",
    "colo": "CO", "conn": "CT", "del": "DE", "dc": "DC", "fla": "FL", "ga": "GA",
    "hawaii": "HI", "idaho": "ID", "ill": "IL", "ind": "IN", "iowa": "IA", "kan": "KS",
    "kans": "KS", "ky": "KY", "la": "LA", "maine": "ME", "md": "MD", "mass": "MA",
    "mich": "MI", "minn": "MN", "miss": "MS", "mo": "MO", "mont": "MT", "neb": "NE",
    "nebr": "NE", "nev": "NV", "nh": "NH", "nj": "NJ", "nm": "NM", "ny": "NY", "nc": "NC",
    "nd": "ND", "ohio": "OH", "okla": "OK", "ore": "OR", "oreg": "OR", "pa": "PA",
    "penn": "PA", "ri": "RI", "sc": "SC", "sd": "SD", "tenn": "TN", "tex": "TX",
    "texas": "TX", "utah": "UT", "vt": "VT", "va": "VA", "wash": "WA", "wva": "WV",
    "wis": "WI", "wisc": "WI", "wyo": "WY",
}  # fmt: skip
CA_PROVINCES: dict[str, str] = {
    "alberta": "01", "alta": "01", "british columbia": "02", "bc": "02", "manitoba": "03",
    "man": "03", "new brunswick": "04", "nb": "04", "newfoundland": "05", "nfld": "05",
    "nova scotia": "07", "ns": "07", "ontario": "08", "ont": "08",
    "prince edward island": "09", "pei": "09", "quebec": "10", "que": "10", "saskatchewan": "11",
    "sask": "11",
}  # fmt: skip
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# A dateline at the start of a body paragraph: "WASHINGTON, Feb 26 -", "MOSCOW (Reuters) -".
_LEADING_DATELINE = re.compile(
    r"^\s*(?P<place>[A-Z][A-Z.'’ -]{1,40}[A-Z.](?:,\s+[A-Z][A-Za-z.]+(?:\s[A-Z][A-Za-z.]+)?\.?)?)"
    r"(?:,?\s+" + _MONTH + r"\s+\d{1,2})?\s*(?:\((?:Reuters|AP|AFP|Reuter)\)\s*)?[-–—]+\s",
    re.IGNORECASE,
)


def _norm(text: str) -> str:
    return " ".join(text.replace(".", "").casefold().split())


def leading_dateline_place(paragraph: str) -> str | None:
    """The place of a wire dateline that opens ``paragraph``, if there is one."""
    m = _LEADING_DATELINE.match(paragraph[:120])
    if not m:
        return None
    place = m.group("place").strip(" ,")
    head = place.split(",")[0]
    if sum(c.isupper() for c in head) < sum(c.islower() for c in head):
        return None  # the city part of a dateline is written in capitals
    return place


def split_dateline_place(place: str) -> tuple[str, str | None]:
    """("PORTLAND, Ore.") -> ("PORTLAND", "Ore."); a date part after the place is dropped."""
    parts = [p.strip() for p in place.split(",") if p.strip()]
    parts = [p for p in parts if not re.match(_MONTH + r"\s+\d", p)]
    if not parts:
        return place.strip(), None
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _title(name: str) -> str:
    return name.title() if name.isupper() else name


def resolve_dateline(
    gaz: Gazetteer, place: str, context: frozenset[str] = frozenset()
) -> tuple[Candidate | None, str | None]:
    """The dateline's place (if in the gazetteer) and its country code (if known)."""
    city, qualifier = split_dateline_place(place)
    city = _title(city)
    country: str | None = None
    admin1: str | None = None
    if qualifier:
        q = _norm(qualifier)
        if q in US_STATES:
            country, admin1 = "US", US_STATES[q]
        elif q in CA_PROVINCES:
            country, admin1 = "CA", CA_PROVINCES[q]
        else:
            qc = gaz.resolve(_title(qualifier))
            if qc is not None:
                country = qc.country_code
                if qc.kind == "state":
                    admin1 = qc.admin1
    if country is None:
        cand = gaz.resolve(city, context)
        return cand, (cand.country_code if cand else None)
    cands = [c for c in gaz.candidates(city) if c.country_code == country and c.kind != "country"]
    if admin1:
        cands = [c for c in cands if c.admin1 == admin1 or c.kind == "state"] or cands
    best = max(cands, key=lambda c: c.population, default=None)
    if best is None:  # a town too small for the gazetteer: the country is still known
        return Candidate(city, country, None, None, 0, "city", admin1 or ""), country
    return best, country


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
        _, code = resolve_dateline(gaz, dateline_place, frozenset(codes))
        if code is not None:
            codes.add(code)
    return frozenset(codes)


@dataclass(slots=True)
class Evidence:
    """Why a story is about a country: dateline, mentions, mentions in headline/lead."""

    dateline: bool = False
    mentions: int = 0
    early: bool = False  # named in the headline or the first paragraph
    demonym_only: bool = True


def country_evidence(
    gaz: Gazetteer,
    dateline_place: str | None,
    entities: Sequence[Entity],
    early_text: str = "",
) -> tuple[list[Place], dict[str, Evidence]]:
    """Places (dateline first, then LOC entities in order) and the evidence per country."""
    context = context_countries(gaz, dateline_place, entities)
    early = early_text.casefold()
    found: list[Candidate] = []
    evidence: dict[str, Evidence] = {}
    if dateline_place:
        cand, code = resolve_dateline(gaz, dateline_place, context)
        if cand is not None:
            found.append(cand)
        if code is not None:
            ev = evidence.setdefault(code, Evidence())
            ev.dateline = True
            ev.demonym_only = False
    for ent in entities:
        codes: set[str] = set()
        if ent.type == "LOC":
            cand = gaz.resolve(ent.text, context)
            if cand is not None:
                found.append(cand)
                codes.add(cand.country_code)
        elif ent.type == "MISC":
            codes = {c for c in (demonym_country(part) for part in ent.text.split("-")) if c}
        is_early = bool(early) and ent.text.casefold() in early
        for code in codes:
            ev = evidence.setdefault(code, Evidence())
            ev.mentions += ent.count
            ev.early = ev.early or is_early
            ev.demonym_only = ev.demonym_only and ent.type == "MISC"
    places: list[Place] = []
    seen: set[str] = set()
    for cand in found:
        key = f"{cand.name}|{cand.country_code}"
        if key not in seen:
            seen.add(key)
            places.append(
                Place(name=cand.name, country_code=cand.country_code, lat=cand.lat, lon=cand.lon)
            )
    return places, evidence


def keep_country(ev: Evidence) -> bool:
    """The story is about a country when its dateline or headline/lead name it, or it is
    mentioned more than once; a single passing mention deep in the story is not enough."""
    return ev.dateline or ev.early or ev.mentions >= MIN_MENTIONS


MIN_MENTIONS = 2


def resolve_places(
    gaz: Gazetteer,
    dateline_place: str | None,
    entities: Sequence[Entity],
    early_text: str = "",
) -> tuple[list[Place], list[str]]:
    """Places (dateline first, then LOC entities in order) and the story's countries."""
    places, evidence = country_evidence(gaz, dateline_place, entities, early_text)
    countries = [code for code, ev in evidence.items() if keep_country(ev)]
    return places, countries
