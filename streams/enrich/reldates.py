"""Relative day references ("on Tuesday", "yesterday", "last Friday") resolved to dates.

News copy names days relative to its publication: "said on Tuesday", "yesterday", "will meet
on Friday". Given ``published_at`` (ISO-8601 UTC) each reference becomes a calendar date
(``YYYY-MM-DD``) in the publication's UTC calendar:

* ``today``, ``tonight``, ``this morning/afternoon/evening`` -> the publication date;
  ``yesterday``, ``last night`` -> one day before; ``tomorrow`` -> one day after;
  ``the day before yesterday`` / ``the day after tomorrow`` -> two days before / after;
* a weekday name ("on Tuesday", "Tuesday's", "Tuesday night") -> by news convention the most
  recent such day on or before the publication date (0-6 days back), unless the clause
  speaks of the future ("will meet on Friday", "is due to report on Monday", a headline
  "Putin to visit Japan on Tuesday"): then the next such day on or after it (0-6 days ahead).
  A reporting verb right before the day ("said on Tuesday", "announced Monday") is past
  whatever comes before it ("He will resign, the company said on Tuesday");
* ``last Friday`` -> the most recent Friday strictly before (1-7 days back); ``next Friday``
  -> the first Friday strictly after (1-7 days ahead); ``this Friday`` -> 0-6 days ahead.

Named days that are not references ("Black Monday", "Super Tuesday", "Good Friday", "the
Sunday Times") are skipped. No published date -> nothing is resolved.
Known limits: the calendar is the UTC date of ``published_at`` (a story filed late in the
evening west of Greenwich is already "tomorrow" in UTC); "last week", "next month" and explicit
dates ("Feb 26") are not resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from streams.records import DateRef

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_OFFSETS = {
    "the day before yesterday": -2,
    "the day after tomorrow": 2,
    "yesterday": -1,
    "last night": -1,
    "today": 0,
    "tonight": 0,
    "this morning": 0,
    "this afternoon": 0,
    "this evening": 0,
    "tomorrow": 1,
}
_RELATIVE = re.compile(
    r"\b(?:the day before yesterday|the day after tomorrow|yesterday|last night|today|tonight"
    r"|this (?:morning|afternoon|evening)|tomorrow)\b",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    r"\b(?:(?P<mod>[Oo]n|[Ll]ast|[Nn]ext|[Tt]his|[Ss]ince|[Uu]ntil|[Bb]y)\s+)?"
    r"(?P<day>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b"
    r"(?P<tail>'s|’s)?(?:\s+(?P<part>morning|afternoon|evening|night))?"
)
# A capitalised word before the day that makes it a name, not a reference.
_NAMED_DAY_PREFIX = frozenset(
    [
        "black",
        "super",
        "good",
        "ash",
        "holy",
        "maundy",
        "easter",
        "palm",
        "cyber",
        "blue",
        "bloody",
        "shrove",
        "whit",
        "low",
        "plough",
        "trinity",
        "spy",
    ]
)
_MONTHS = frozenset(
    [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)
_FUTURE_CUE = re.compile(
    r"\b(?:will|shall|won't|wo n't|(?:is|are|was|were)\s+(?:due|scheduled|expected|set|slated"
    r"|going|planning)|due\s+to|scheduled|expected\s+to|expects?\s+to|hopes?\s+to"
    r"|intends?\s+to|plans?\s+to|planned\s+for|to\s+be\s+held|upcoming|ahead\s+of"
    r"|to\s+(?:meet|visit|hold|begin|start|resume|reopen|vote|sign|travel|fly|arrive|attend))\b"
    r"|'ll\b|’ll\b",
    re.IGNORECASE,
)
_REPORTING_BEFORE = re.compile(
    r"\b(?:said|says|told|announced|reported|added|stated|disclosed|confirmed|denied|"
    r"wrote|quoted|cited|noted|indicated)\s*,?\s*(?:(?:late|early)\s+)?(?:on\s+)?$",
    re.IGNORECASE,
)
_HEADLINE_FUTURE = re.compile(r"\bto\s+[a-z]+\b")
_CLAUSE_START = re.compile(r"[.!?;:]\s|\n")


def published_date(published_at: str | None) -> date | None:
    """The UTC calendar date of an ISO-8601 timestamp, or None."""
    if not published_at:
        return None
    try:
        stamp = datetime.fromisoformat(published_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.date()


def _clause_before(text: str, start: int, limit: int = 200) -> str:
    window = text[max(0, start - limit) : start]
    cut = 0
    for m in _CLAUSE_START.finditer(window):
        cut = m.end()
    return window[cut:]


def _is_future(text: str, start: int, end: int, headline: bool) -> bool:
    before = _clause_before(text, start)
    if _REPORTING_BEFORE.search(before):
        return False
    if _FUTURE_CUE.search(before):
        return True
    if re.match(r"\s*(?:will|'ll|shall)\b", text[end : end + 12], re.IGNORECASE):
        return True  # "The committee on Tuesday will vote"
    return headline and bool(_HEADLINE_FUTURE.search(before))


def _weekday_date(pub: date, day: int, mod: str, future: bool) -> date:
    back = (pub.weekday() - day) % 7  # 0..6 days back to that weekday
    ahead = (day - pub.weekday()) % 7  # 0..6 days ahead
    if mod == "last":
        return pub - timedelta(days=back or 7)
    if mod == "next":
        return pub + timedelta(days=ahead or 7)
    if mod == "this" or mod == "until" or future:
        return pub + timedelta(days=ahead)
    return pub - timedelta(days=back)


def _named_day(text: str, start: int, end_day: int) -> bool:
    prev = re.search(r"([A-Za-z]+)\s+$", text[max(0, start - 20) : start])
    if prev and prev.group(1)[:1].isupper() and prev.group(1).casefold() in _NAMED_DAY_PREFIX:
        return True
    nxt = re.match(r"\s+([A-Z][a-z]+)", text[end_day : end_day + 20])
    return bool(nxt and nxt.group(1).casefold() not in _MONTHS and nxt.group(1) not in _DAYWORDS)


_DAYWORDS = frozenset(w.title() for w in WEEKDAYS) | {"And", "Or"}


def _refs_in(text: str, pub: date, headline: bool) -> Iterable[tuple[int, str, date]]:
    for m in _RELATIVE.finditer(text):
        phrase = m.group(0)
        yield m.start(), phrase, pub + timedelta(days=_DAY_OFFSETS[phrase.lower()])
    for m in _WEEKDAY.finditer(text):
        if _named_day(text, m.start("day"), m.end("day")):
            continue
        mod = (m.group("mod") or "").lower()
        day = WEEKDAYS.index(m.group("day").lower())
        future = mod not in ("last", "next", "this") and _is_future(
            text, m.start(), m.end(), headline
        )
        yield m.start(), m.group(0), _weekday_date(pub, day, mod, future)


def resolve_relative_dates(
    headline: str | None, paragraphs: Iterable[str], published_at: str | None
) -> list[DateRef]:
    """Relative day references of a story with their dates, in order of first appearance;
    one entry per distinct (phrase, date)."""
    pub = published_date(published_at)
    if pub is None:
        return []
    found: list[tuple[int, int, str, date]] = []
    for part, text in enumerate([headline or "", *paragraphs]):
        for start, phrase, when in _refs_in(text, pub, headline=part == 0):
            found.append((part, start, phrase, when))
    found.sort(key=lambda f: (f[0], f[1]))
    out: list[DateRef] = []
    seen: set[tuple[str, date]] = set()
    for _, _, phrase, when in found:
        key = (" ".join(phrase.split()).casefold(), when)
        if key in seen:
            continue
        seen.add(key)
        out.append(DateRef(text=" ".join(phrase.split()), date=when.isoformat()))
    return out
