"""Dateline detection and date/time parsing with explicit timezone resolution.

A dateline is the place (and often the time) a story was filed:
``MOSCOW Tue Jan 21, 2014 8:16am EST`` (a standalone line on a web page),
``MOSCOW (Reuters) - ...`` or ``SALVADOR, Feb 26 - ...`` (the start of the first paragraph).

Named zones are resolved through :data:`TZ_OFFSETS` / :data:`TZ_REGIONS`; a zone name that is
not in the table makes the time unknown (``None``) instead of being silently ignored.
Ambiguous abbreviations are resolved to one reading, documented in the table.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import parser as _dparser

from streams.records import Dateline

_H = 3600

#: Fixed-offset zone abbreviations (seconds east of UTC).
TZ_OFFSETS: dict[str, int] = {
    "UTC": 0,
    "GMT": 0,
    "UT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 1 * _H,  # British Summer Time (not Bangladesh)
    "IST": 5 * _H + 1800,  # India Standard Time (not Irish/Israel): the common reading in news
    "CET": 1 * _H,
    "MET": 1 * _H,
    "WEST": 1 * _H,
    "WAT": 1 * _H,
    "CEST": 2 * _H,
    "MEST": 2 * _H,
    "EET": 2 * _H,
    "SAST": 2 * _H,
    "CAT": 2 * _H,
    "EEST": 3 * _H,
    "MSK": 3 * _H,
    "EAT": 3 * _H,
    "AST": -4 * _H,  # Atlantic Standard Time
    "ADT": -3 * _H,
    "NST": -3 * _H - 1800,
    "NDT": -2 * _H - 1800,
    "EST": -5 * _H,
    "EDT": -4 * _H,
    "CST": -6 * _H,  # US Central (not China Standard Time)
    "CDT": -5 * _H,
    "MST": -7 * _H,
    "MDT": -6 * _H,
    "PST": -8 * _H,
    "PDT": -7 * _H,
    "AKST": -9 * _H,
    "AKDT": -8 * _H,
    "HST": -10 * _H,
    "BRT": -3 * _H,
    "ART": -3 * _H,
    "PKT": 5 * _H,
    "NPT": 5 * _H + 2700,
    "ICT": 7 * _H,
    "WIB": 7 * _H,
    "HKT": 8 * _H,
    "SGT": 8 * _H,
    "PHT": 8 * _H,
    "AWST": 8 * _H,
    "MYT": 8 * _H,
    "JST": 9 * _H,
    "KST": 9 * _H,
    "ACST": 9 * _H + 1800,
    "ACDT": 10 * _H + 1800,
    "AEST": 10 * _H,
    "AEDT": 11 * _H,
    "NZST": 12 * _H,
    "NZDT": 13 * _H,
}

#: Generic (DST-dependent) zone names resolved through the tz database at the given date.
TZ_REGIONS: dict[str, str] = {
    "ET": "America/New_York",
    "CT": "America/Chicago",
    "MT": "America/Denver",
    "PT": "America/Los_Angeles",
}

_TZINFOS: dict[str, tzinfo] = {k: timezone(timedelta(seconds=v), k) for k, v in TZ_OFFSETS.items()}

_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_WEEKDAYS = (
    r"(?:Mon(?:day)?|Tue(?:s(?:day)?)?|Wed(?:nesday)?|Thu(?:r(?:s(?:day)?)?)?|Fri(?:day)?|"
    r"Sat(?:urday)?|Sun(?:day)?)\.?"
)
MONTH_RE = re.compile(r"\b" + _MONTHS + r"(?![a-z])", re.I)
_TIME_RE = re.compile(
    r"\b\d{1,2}(?:[:.]\d{2}(?:[:.]\d{2})?\s*(?:[ap]\.?\s?m\b\.?)?|\s*[ap]\.?\s?m\b\.?)", re.I
)
_ZONE_TOKEN = re.compile(r"(?<![A-Za-z])([A-Z]{1,5})(?![A-Za-z])")
_OFFSET_RE = re.compile(r"(?:GMT|UTC)\s*[+-]\s*\d{1,2}(?::?\d{2})?|(?<=\d)\s*[+-]\d{2}:?\d{2}\b")
_NUMERIC_DATE = re.compile(r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4})\b")
_WORDY_DATE = re.compile(
    r"(?:" + _WEEKDAYS + r",?\s+)?(?:" + _MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?,?(?:\s+\d{4})?"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+" + _MONTHS + r",?(?:\s+\d{4})?)",
    re.I,
)
# Words allowed in a line that is "just a date": labels, weekdays, months, zones, connectors.
_DATE_FILLER = re.compile(
    r"\b(?:posted|updated|published|last|edited|modified|created|date|filed|on|at|by|am|pm|a\.m|p\.m|"
    r"the|of|local|time|hrs?|gmt|utc|[A-Z]{2,5})\b|"
    + _WEEKDAYS
    + "|"
    + _MONTHS
    + r"|\d+(?:st|nd|rd|th)?|[^\w]+",
    re.I,
)
_NOT_ZONES = {"AM", "PM", "A", "P", "M", "AD", "BC", "I", "ON", "AT"}


@dataclass(frozen=True, slots=True)
class ParsedTime:
    """Result of parsing a date/time expression."""

    iso: str | None  # UTC "YYYY-MM-DDTHH:MM:SSZ" when date, year, time and zone are all known
    date: str | None  # "YYYY-MM-DD" when at least a full date (with year) is known
    has_time: bool
    zone: str | None  # the zone token as written, when present
    zone_known: bool


def _zone_in(text: str) -> tuple[str | None, bool]:
    m = _OFFSET_RE.search(text)
    if m:
        return m.group(0).strip(), True
    for tok in _ZONE_TOKEN.findall(text):
        if tok in _NOT_ZONES:
            continue
        if tok in TZ_OFFSETS or tok in TZ_REGIONS:
            return tok, True
        if len(tok) >= 3 and tok.endswith("T") and (tok[-2] in "SD" or len(tok) == 3):
            return tok, False  # looks like a zone we don't know: do not guess
    return None, False


_DEFAULT_A = datetime(1904, 1, 1, 0, 0, 0)
_DEFAULT_B = datetime(1908, 2, 2, 1, 1, 1)


def _to_utc_iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_MIXED_TOKEN = re.compile(r"\b(?=[^\W\d_]*\d)(?=\d*[^\W\d_])\w+\b")
_DATEY_TOKEN = re.compile(
    r"\d{1,2}(?:st|nd|rd|th|[ap]m?|h|hrs?)|\d{1,4}[tT]\d{1,2}|\d{1,2}[zZ]", re.I
)


def _keep_datey(m: re.Match[str]) -> str:
    return m.group(0) if _DATEY_TOKEN.fullmatch(m.group(0)) else " "


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> ParsedTime | None:
    """Parse a free-form date/time like ``Tue Jan 21, 2014 8:16am EST``.

    Returns ``None`` when no date can be read. ``iso`` is set only when the expression has a
    full date, a time of day and a zone we can resolve; ``date`` when it has a full date.
    """
    s = " ".join(text.split())
    if not s or len(s) > 120:
        return None
    if not (MONTH_RE.search(s) or _NUMERIC_DATE.search(s)):
        return None
    zone, zone_known = _zone_in(s)
    # Words mixing letters and digits ("tourguide88", "A380") are not dates: dateutil's fuzzy
    # mode would read "88" as a year. Ordinals, times and ISO pieces stay.
    s = _MIXED_TOKEN.sub(_keep_datey, s)
    cleaned = re.sub(r"(\d)\s*([ap])\.\s?m\.?", r"\1\2m", s, flags=re.I)
    cleaned = re.sub(r"\s+--?\s+|[|@]", " ", cleaned)
    if zone is not None:
        cleaned = cleaned.replace(zone, " ")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = _dparser.parse(cleaned, default=_DEFAULT_A, fuzzy=True)
            b = _dparser.parse(cleaned, default=_DEFAULT_B, fuzzy=True)
    except (ValueError, OverflowError, TypeError, _dparser.ParserError):
        return None
    if a.year != b.year or a.month != b.month or a.day != b.day:
        return None  # no full date (year missing or day missing)
    if not 1900 <= a.year <= 2100:
        return None
    has_time = (a.hour, a.minute) == (b.hour, b.minute) and bool(_TIME_RE.search(s))
    date = f"{a.year:04d}-{a.month:02d}-{a.day:02d}"
    iso: str | None = None
    if has_time:
        naive = a.replace(
            tzinfo=None, second=a.second if a.second == b.second else 0, microsecond=0
        )
        if a.tzinfo is not None and zone is not None and zone_known and zone not in TZ_OFFSETS:
            iso = _to_utc_iso(a)  # numeric offset parsed by dateutil
        elif zone is not None and zone_known:
            if zone in TZ_OFFSETS:
                iso = _to_utc_iso(naive.replace(tzinfo=_TZINFOS[zone]))
            elif zone in TZ_REGIONS:
                iso = _to_utc_iso(naive.replace(tzinfo=ZoneInfo(TZ_REGIONS[zone])))
            else:
                off = _parse_offset(zone)
                if off is not None:
                    iso = _to_utc_iso(naive.replace(tzinfo=timezone(off)))
        elif a.tzinfo is not None:
            iso = _to_utc_iso(a)
    return ParsedTime(iso=iso, date=date, has_time=has_time, zone=zone, zone_known=zone_known)


def _parse_offset(token: str) -> timedelta | None:
    m = re.search(r"([+-])\s*(\d{1,2}):?(\d{2})?", token)
    if not m:
        return timedelta(0) if token.upper() in ("GMT", "UTC") else None
    sign = -1 if m.group(1) == "-" else 1
    return sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))


_ANY_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=8192)
def is_date_line(line: str) -> bool:
    """True when a short line is essentially only a date/time (plus labels such as 'Posted:')."""
    if len(line) > 80 or not _ANY_DIGIT.search(line):
        return False
    if not (MONTH_RE.search(line) or _NUMERIC_DATE.search(line)):
        return False
    rest = _DATE_FILLER.sub(" ", line).split()
    return len(rest) <= 1


# --- standalone and inline datelines ---------------------------------------------------------

_UPPER_WORD = r"[A-Z][A-Z.'\u2019\-]+"
_PLACE = _UPPER_WORD + r"(?:[ /]" + _UPPER_WORD + r"){0,3}"
_STATE = r"(?:,\s*[A-Z][A-Za-z.]+(?:\s[A-Z][A-Za-z.]+)?)"
_AGENCY_TAG = r"\((?P<agency>[A-Za-z][A-Za-z .&'\-]{0,40}?)\)"
_DASH = r"(?:--|[-\u2013\u2014])"

_STANDALONE_RE = re.compile(r"^(?P<place>" + _PLACE + _STATE + r"?),?\s+(?P<when>.+)$")
_INLINE_RE = re.compile(
    r"^(?P<head>(?P<place>" + _PLACE + r"|[A-Z][a-z]+(?:\s[A-Z][a-z]+)?(?=,?\s*\())"
    r"(?P<state>" + _STATE + r")?"
    r"(?:,\s*(?P<date>"
    + _MONTHS
    + r"\s+\d{1,2}(?:,\s*\d{4})?|\d{1,2}\s+"
    + _MONTHS
    + r"(?:\s+\d{4})?))?"
    r"\s*(?:" + _AGENCY_TAG + r")?"
    r"\s*" + _DASH + r")\s+(?=\S)"
)
_INLINE_AGENCY_ONLY = re.compile(r"^(?P<head>" + _AGENCY_TAG + r"\s*" + _DASH + r")\s+(?=\S)")
_INLINE_DATE_ONLY = re.compile(
    r"^(?P<head>(?:"
    + _WEEKDAYS
    + r",?\s+)?(?:\d{1,2}\s+"
    + _MONTHS
    + r",?\s+\d{4}|"
    + _MONTHS
    + r"\s+\d{1,2},?\s+\d{4})\s*"
    + _DASH
    + r")\s+(?=\S)"
)
_PLACE_STOP = {
    "THE",
    "A",
    "AN",
    "I",
    "IT",
    "WE",
    "IN",
    "ON",
    "AT",
    "BY",
    "TV",
    "US",
    "UK",
    "EU",
    "UN",
    "AND",
    "OR",
    "BUT",
    "IF",
}


@dataclass(frozen=True, slots=True)
class InlineDateline:
    """A dateline found at the start of a paragraph (the paragraph keeps it)."""

    place: str | None
    text: str
    agency: str | None
    date: str | None  # the wire date, e.g. "Feb 26", when present


def inline_dateline(paragraph: str) -> InlineDateline | None:
    """Read the dateline prefix of a body paragraph: ``MOSCOW (Reuters) - ``, ``SALVADOR, Feb 26 - ``."""
    m = _INLINE_RE.match(paragraph)
    if m:
        place = m.group("place")
        upper = place.isupper()
        if not upper and not m.group("agency"):
            return None
        if (
            upper
            and not (m.group("agency") or m.group("date") or m.group("state"))
            and len(place) < 3
        ):
            return None
        if place.split()[0].rstrip(".") in _PLACE_STOP and not m.group("agency"):
            return None
        full_place = place + (m.group("state") or "")
        return InlineDateline(
            place=full_place.strip(" ,"),
            text=m.group("head").strip(),
            agency=m.group("agency"),
            date=m.group("date"),
        )
    m = _INLINE_AGENCY_ONLY.match(paragraph)
    if m:
        return InlineDateline(
            place=None, text=m.group("head").strip(), agency=m.group("agency"), date=None
        )
    m = _INLINE_DATE_ONLY.match(paragraph)
    if m:
        return InlineDateline(place=None, text=m.group("head").strip(), agency=None, date=None)
    return None


def looks_like_dateline(line: str) -> bool:
    """Cheap test (no date parsing) for :func:`standalone_dateline` candidates."""
    s = line.strip()
    if not s or len(s) > 100 or not _ANY_DIGIT.search(s):
        return False
    if is_date_line(s):
        return True
    m = _STANDALONE_RE.match(s)
    return bool(m and is_date_line(m.group("when")))


def standalone_dateline(line: str) -> Dateline | None:
    """Read a dateline that stands on its own line: ``MOSCOW Tue Jan 21, 2014 8:16am EST``,
    or a bare date/time line (``Mon Jan 14, 2008 9:42pm EST``) which yields ``place=None``."""
    s = line.strip()
    if not s or len(s) > 100:
        return None
    m = _STANDALONE_RE.match(s)
    if m and m.group("place").split()[0].rstrip(",") not in _PLACE_STOP:
        when = m.group("when")
        if is_date_line(when):
            pt = parse_datetime(when)
            if pt is not None:
                return Dateline(place=m.group("place").rstrip(", "), text=s, time=pt.iso)
    if is_date_line(s):
        pt = parse_datetime(s)
        if pt is not None:
            return Dateline(place=None, text=s, time=pt.iso)
    return None
