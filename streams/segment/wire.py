"""Clean wire copy (Reuters-21578 style): optional headline line, dateline, wrapped body, byline, trailer."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from streams.records import Byline, Dateline
from streams.segment import byline as bl
from streams.segment.dateline import inline_dateline

_TRAILER = re.compile(r"^\s*(?:Reuter|REUTER|Reuters)\s*\.?\s*$")
_BY = re.compile(r"^\s*(?:by|BY|By)\s+\S")
_INDENT = re.compile(r"^\s{2,}\S")


@dataclass(slots=True)
class WireParts:
    headline: str | None = None
    dateline: Dateline | None = None
    byline: Byline = field(default_factory=Byline)
    body: list[str] = field(default_factory=list)


def _paragraphs(lines: list[str]) -> list[str]:
    """Re-flow hard-wrapped lines; a blank line or an indented line starts a paragraph."""
    paras: list[list[str]] = []
    cur: list[str] = []
    for raw in lines:
        if not raw.strip():
            if cur:
                paras.append(cur)
                cur = []
            continue
        if _INDENT.match(raw) and cur:
            paras.append(cur)
            cur = []
        cur.append(raw.strip())
    if cur:
        paras.append(cur)
    return [" ".join(p) for p in paras]


def segment_wire(text: str, title: str | None = None) -> WireParts:
    parts = WireParts()
    raw_lines = text.split("\n")
    while raw_lines and not raw_lines[-1].strip():
        raw_lines.pop()
    trailer = bool(raw_lines) and bool(_TRAILER.match(raw_lines[-1]))
    if trailer:
        raw_lines.pop()
    lines = list(raw_lines)
    # Leading headline: first non-empty line when it is not itself the dateline paragraph.
    first = next((i for i, s in enumerate(lines) if s.strip()), None)
    if first is not None and inline_dateline(lines[first].strip()) is None:
        cand = lines[first].strip()
        nxt_i = first + 1
        nxt = lines[nxt_i].strip() if nxt_i < len(lines) else ""
        same_as_title = title is not None and " ".join(title.split()).casefold() == cand.casefold()
        # A headline line is the title itself, an ALL-CAPS line, or a line set off by a blank
        # line / followed by the dateline; never the first hard-wrapped line of the body.
        looks_head = (cand.isupper() and len(cand.split()) <= 25) or (
            len(cand.split()) <= 25
            and not cand.endswith(".")
            and (not nxt or inline_dateline(nxt) is not None or bool(_BY.match(nxt)))
        )
        if (
            same_as_title
            or (looks_head and title is None)
            or (cand.isupper() and len(cand.split()) <= 25)
        ):
            parts.headline = cand
            lines = lines[first + 1 :]
    if parts.headline is None and title:
        parts.headline = " ".join(title.split())
    byline = Byline()
    # Byline lines before the dateline ("By Peter Torday, Reuters").
    while lines and (not lines[0].strip() or _BY.match(lines[0])):
        s = lines.pop(0).strip()
        if s:
            got = bl.parse_by_line(s)
            if got is not None:
                byline = bl.merge(byline, got)
    paras = _paragraphs(lines)
    # Trailing credit lines.
    while paras and bl.is_credit_line(paras[-1]):
        byline = bl.merge(byline, bl.parse_credit_line(paras.pop()))
    if paras:
        d = inline_dateline(paras[0])
        if d is not None:
            parts.dateline = Dateline(place=d.place, text=d.text, time=None)
            if d.agency:
                byline = bl.merge(byline, Byline(agency=bl.canonical_agency(d.agency) or d.agency))
    if (
        byline.agency is None
        and _TRAILER.match(raw_lines[-1] if raw_lines else "") is None
        and text.rstrip().endswith(("Reuter", "REUTER"))
    ):
        byline = bl.merge(byline, Byline(agency="Reuters"))
    parts.body = paras
    parts.byline = byline
    return parts
