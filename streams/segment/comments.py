"""Reader comments in text lines: section markers, author/time headers, comment bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from streams.records import Comment
from streams.segment.dateline import (
    _NUMERIC_DATE,
    _WEEKDAYS,
    MONTH_RE,
    is_date_line,
    parse_datetime,
)

MARKER_RE = re.compile(
    r"(?i)^(?:\d+\s+)?(?:(?:reader|readers'?|user|your|latest|all|show|view|read|recent|top)\s+)?"
    r"(?:comments?|responses?|reactions?|replies|talkback)"
    r"(?:\s*\(\s*\d+\s*\)|\s*:|\s+so\s+far|\s*\[\d+\]|\s+on\s+this\s+(?:story|article))?\s*[:.]?$"
    r"|^(?:comments?|responses?)\s*\(\s*\d+\s*\)"
    r"|^\d+\s+(?:comments?|responses?|replies)\b"
    r"|^(?:post|add|leave|write|submit|make|share)\s+(?:a|your|new)\s+comments?\b"
    r"|^(?:have\s+your\s+say|join\s+the\s+discussion|discuss\s+this\s+(?:story|article)|reader\s+feedback)\b"
    r"|^(?:what\s+do\s+you\s+think)\??$"
)
POLICY_RE = re.compile(
    r"(?i)\bcomments?\b.{0,200}\b(?:polic(?:y|ies)|welcome|abuse|inappropriate|offensive|moderat\w*|"
    r"guidelines|registered|register|log\s?in|logged|closed|terms|irrelevant|opinions?\s+expressed|"
    r"do not represent|reserve\s+the\s+right|views\s+expressed)\b"
    r"|\b(?:discussion|commenting)\s+(?:is\s+)?(?:now\s+)?closed\b|report\s+(?:as\s+)?abuse"
)
_ACTION_RE = re.compile(
    r"(?i)^(?:[\[(]?\s*)?(?:report(?:\s+(?:as\s+)?abuse|\s+this(?:\s+comment)?|\s+comment)?|reply|"
    r"recommend(?:ed)?(?:\s*\(\d+\))?|permalink|flag|link|quote|share|delete|edit|"
    r"offensive\?.*|\d+\s+(?:people\s+)?(?:recommend\w*|likes?|points?)|like|dislike|agree|disagree|"
    r"rate\s+this|\+\d+|-\d+|\d+)(?:\s*[\])|.])?$"
)
_WROTE_RE = re.compile(
    r"^(?P<a>[^\s].{0,60}?)\s+(?:wrote|writes|said|says)\s*(?:on\s+(?P<d>.+?))?\s*[:.]?$", re.I
)
_POSTED_BY = re.compile(
    r"(?i)^(?:\#?\d+[.)]?\s*)?(?:posted|submitted|written|comment(?:ed)?)?\s*by\s*:?\s*(?P<a>[^|]{1,60}?)"
    r"(?:\s*(?:\bon\b|\bat\b|\||\u2014|--|-|,)\s*(?P<d>.*\d.*))?\s*$"
)
_NAME_DATE = re.compile(
    r"^(?:\#?\d+[.)]?\s*)?(?P<a>[^|\u2014]{1,50}?)\s*(?:\||\u2014|--| - )\s*(?P<d>.*\d.*)$"
)
_DATE_THEN_NAME = re.compile(
    r"^(?:\#?\d+\s*(?:\u2014|--|-|\.)?\s*)?(?P<d>.*\d.*?)\s*(?:\u2014|--| - |\|)\s*(?P<a>[^\d|]{1,50})$"
)
FOOTER_RE = re.compile(
    r"(?i)^(?:©|\(c\)|copyright\b|all rights reserved|terms of (?:use|service)|privacy policy|"
    r"name\s*:|e-?mail(?:\s+address)?\s*:|your (?:name|e-?mail|comment)s?\s*:?|"
    r"(?:post|add|leave|submit|write)\s+(?:a|your)\s+comment|sign\s+in|log\s*in|register\b|"
    r"back to top|advertisement$)"
)


_DIGIT = re.compile(r"\d")


@dataclass(slots=True)
class _Draft:
    author: str | None = None
    posted: str | None = None
    texts: list[str] = field(default_factory=list)


def _clean_author(a: str) -> str | None:
    a = a.strip(" :-|#\u2014").strip()
    a = re.sub(r"^\d+[.)]\s*", "", a)
    if not a or len(a) > 60 or len(a.split()) > 6:
        return None
    return a


def _time_of(text: str, parse: bool = True) -> tuple[str | None, bool]:
    """(UTC ISO or None, looks-like-a-date). Without ``parse`` only the cheap looks-like-a-date
    test runs (a month name and a digit, or a numeric date) and the time is ``None``."""
    t = re.sub(
        r"(?i)\s*(?:--|-|\||\u2014)?\s*(?:report\s+(?:as\s+)?abuse|reply|permalink|recommend\w*).*$",
        "",
        text,
    )
    if not parse:
        return None, bool((MONTH_RE.search(t) and _DIGIT.search(t)) or _NUMERIC_DATE.search(t))
    pt = parse_datetime(t)
    if pt is None:
        return None, bool(MONTH_RE.search(t) and re.search(r"\d", t))
    return pt.iso, True


_DATE_START = re.compile(MONTH_RE.pattern + r"|\b\d|\b" + _WEEKDAYS, re.I)
_NOT_NAME = re.compile(
    r"(?i)^(?:posted|updated|published|submitted|written|last|edited|modified|created|date|"
    r"filed|on|at|by|comments?|reply|report)\b"
)


def _name_before_date(s: str) -> str | None:
    """The 1-3 words before the date in a "name date" comment header, if they are a name."""
    m = _DATE_START.search(s)
    if m is None or m.start() == 0:
        return None
    name = s[: m.start()].rstrip(" ,|:-\u2014")
    if not 1 <= len(name.split()) <= 3 or _NOT_NAME.match(name) or not name[0].isalnum():
        return None
    return name


@lru_cache(maxsize=8192)
def _meta(line: str, parse: bool = True) -> tuple[str, str | None, str | None]:
    """Classify one line in a comment section: ('author'|'date'|'action'|'policy'|'text', author, iso).

    ``parse=False``: the kind only (no date parsing; dates are recognized by their look)."""
    s = line.strip()
    if len(s) > 120 and POLICY_RE.search(s) and len(s.split()) < 80:
        return "policy", None, None
    if len(s) <= 120:
        m = _WROTE_RE.match(s)
        if m and len(m.group("a").split()) <= 6:
            iso = _time_of(m.group("d"), parse)[0] if m.group("d") else None
            return "author", _clean_author(m.group("a")), iso
        m = _POSTED_BY.match(s)
        if m and (m.group("d") or re.match(r"(?i)^(?:posted|submitted|written|comment)", s)):
            iso, is_date = _time_of(m.group("d") or "", parse)
            if m.group("d") is None or is_date:
                return "author", _clean_author(m.group("a")), iso
        if is_date_line(s) or (
            _ACTION_RE.match(re.sub(r"^.*?(?:--|\|)\s*", "", s)) and MONTH_RE.search(s)
        ):
            iso, is_date = _time_of(s, parse)
            if is_date:
                # "harbourwatch February 17, 2026 10:05 GMT": a name before the date.
                name = _name_before_date(s)
                if name is not None:
                    return "author", name, _time_of(s[len(name) :], parse)[0]
                return "date", None, iso
        for rx in (_NAME_DATE, _DATE_THEN_NAME):
            m = rx.match(s)
            if m:
                iso, is_date = _time_of(m.group("d"), parse)
                a = _clean_author(m.group("a"))
                if is_date and a and not is_date_line(a):
                    return "author", a, iso
        if _ACTION_RE.match(s):
            return "action", None, None
        if POLICY_RE.search(s):
            return "policy", None, None
    return "text", None, None


def parse_comments(lines: list[str]) -> list[Comment]:
    """Parse the lines of a comment section (after its marker) into comments.

    Headers may lead ("tmc wrote:", text, time) or trail (text, "Posted by: X on <date>").
    Returns nothing unless at least one author or time header is recognized.
    """
    kinds = [_meta(s) for s in lines]
    first_meta = next((i for i, k in enumerate(kinds) if k[0] in ("author", "date")), None)
    if first_meta is None:
        return []
    first_text = next((i for i, k in enumerate(kinds) if k[0] == "text"), len(kinds))
    lead = first_meta < first_text
    out: list[Comment] = []
    cur: _Draft | None = None

    def flush(d: _Draft | None) -> None:
        if d is not None and d.texts:
            out.append(Comment(author=d.author, posted_at=d.posted, text="\n".join(d.texts)))

    for s, (kind, author, iso) in zip(lines, kinds, strict=True):
        if kind in ("policy", "action"):
            continue
        if lead:
            if kind == "author":
                flush(cur)
                cur = _Draft(author=author, posted=iso)
            elif kind == "date":
                if cur is None:
                    cur = _Draft(posted=iso)
                elif cur.texts and cur.posted is not None:
                    flush(cur)
                    cur = _Draft(posted=iso)
                elif cur.posted is None:
                    cur.posted = iso
            else:
                if cur is None:
                    cur = _Draft()
                cur.texts.append(s)
        else:
            if kind == "text":
                if cur is None or (cur.author is not None or cur.posted is not None):
                    flush(cur)
                    cur = _Draft()
                cur.texts.append(s)
            elif cur is not None:
                if kind == "author":
                    if cur.author is None:
                        cur.author = author
                    if cur.posted is None:
                        cur.posted = iso
                elif kind == "date" and cur.posted is None:
                    cur.posted = iso
    flush(cur)
    return out
