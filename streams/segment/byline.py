"""Byline parsing: authors, editors and the agency of a story.

Handles "By X", "By X and Y, Title", "(Writing by X, Editing by Y)", "(Reporting by X in Tokyo;
Additional reporting by Z; Editing by Y)", "Compiled by", and agency tags such as "(Reuters)",
"(AP)", "AFP", "The Associated Press".
"""

from __future__ import annotations

import re

from streams.records import Byline

#: Agency spellings -> canonical name.
AGENCIES: dict[str, str] = {
    "reuters": "Reuters",
    "reuter": "Reuters",
    "thomson reuters": "Reuters",
    "ap": "AP",
    "the associated press": "AP",
    "associated press": "AP",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "upi": "UPI",
    "united press international": "UPI",
    "bloomberg": "Bloomberg",
    "bloomberg news": "Bloomberg",
    "dpa": "dpa",
    "xinhua": "Xinhua",
    "aap": "AAP",
    "australian associated press": "AAP",
    "pa": "PA",
    "press association": "PA",
    "cp": "CP",
    "the canadian press": "CP",
    "canadian press": "CP",
    "pti": "PTI",
    "press trust of india": "PTI",
    "ians": "IANS",
    "ani": "ANI",
    "kyodo": "Kyodo",
    "kyodo news": "Kyodo",
    "yonhap": "Yonhap",
    "ansa": "ANSA",
    "efe": "EFE",
    "interfax": "Interfax",
    "tass": "TASS",
    "itar-tass": "TASS",
    "ria novosti": "RIA Novosti",
    "canwest news service": "CanWest News Service",
    "nzpa": "NZPA",
    "sapa": "SAPA",
}

_ROLE_AUTHOR = r"(?:additional\s+)?(?:writing|written|reporting|reported|compiled|story|text)"
_ROLE_EDITOR = r"(?:editing|edited)"
_ROLE_SPLIT = re.compile(
    r"(?i)(?:^|[;,.]\s*|\band\s+)(?=(?:" + _ROLE_AUTHOR + "|" + _ROLE_EDITOR + r")\s+by\b)"
)
_ROLE_RE = re.compile(
    r"(?i)^\s*(?P<role>" + _ROLE_AUTHOR + "|" + _ROLE_EDITOR + r")\s+by\s*:?\s*(?P<names>.+)$"
)
_CREDIT_LINE = re.compile(
    r"(?i)^\(?\s*(?:" + _ROLE_AUTHOR + "|" + _ROLE_EDITOR + r")\s+by\s+[^()]{2,300}\)?\.?$"
)
_BY_LINE = re.compile(r"^(?:[Bb]y|BY)\s*:?\s+(?P<rest>\S.{0,150})$")
_NAME_TOKEN = re.compile(
    r"^(?:[A-Z][\w'\u2019.\-]*|(?:van|von|de|da|der|del|la|le|bin|al|el|di|du|dos|y)|[A-Z]\.)$"
)
_IN_PLACE = re.compile(r"\s+(?:in|from|at)\s+[A-Z].*$")
_NAME_SPLIT = re.compile(r"\s*(?:,|&|\band\b|;)\s*")
_TITLE_WORDS = re.compile(
    r"(?i)\b(?:writer|editor|correspondent|reporter|staff|columnist|critic|contributor|"
    r"news|service|press|times|post|herald|journal|tribune|bureau|chief|senior|political|"
    r"business|sports|entertainment|digital|channel|desk|daily|online|media|associated)\b"
)
_AGENCY_TAG = re.compile(r"\(([A-Za-z][A-Za-z .&'\-]{0,40})\)")


def canonical_agency(text: str) -> str | None:
    """Canonical agency name for a tag like 'Reuters', 'AP', 'The Associated Press'."""
    key = " ".join(text.strip(" ()-.,").split()).casefold()
    return AGENCIES.get(key)


def agency_in(text: str) -> str | None:
    """First '(Agency)' tag in a short text, canonicalized."""
    for m in _AGENCY_TAG.finditer(text):
        a = canonical_agency(m.group(1))
        if a:
            return a
    return None


def _is_name(s: str) -> bool:
    toks = s.split()
    if not 1 <= len(toks) <= 5:
        return False
    if not toks[0][:1].isupper():
        return False
    return all(_NAME_TOKEN.match(t) for t in toks)


def _names(chunk: str) -> list[str]:
    chunk = chunk.strip().strip("()").strip()
    chunk = re.sub(r"[.;)]+$", "", chunk).strip()
    out: list[str] = []
    for part in _NAME_SPLIT.split(chunk):
        part = _IN_PLACE.sub("", part.strip()).strip(" .")
        if not part or _TITLE_WORDS.search(part):
            continue
        if _is_name(part):
            out.append(part)
    return out


def is_credit_line(line: str) -> bool:
    """'(Writing by X, Editing by Y)' / 'Reporting by X; Editing by Y' style line."""
    return bool(_CREDIT_LINE.match(line.strip()))


def parse_credit_line(line: str) -> Byline:
    """Parse a Reuters-style credit line into authors and editors."""
    s = line.strip().strip("()").strip()
    authors: list[str] = []
    editors: list[str] = []
    for seg in _ROLE_SPLIT.split(s):
        m = _ROLE_RE.match(seg.strip(" ,;."))
        if not m:
            continue
        names = _names(m.group("names"))
        if m.group("role").lower().startswith("edit"):
            editors.extend(n for n in names if n not in editors)
        else:
            authors.extend(n for n in names if n not in authors)
    return Byline(authors=authors, editors=editors, agency=None)


def parse_by_line(line: str) -> Byline | None:
    """Parse 'By X', 'By X and Y, Staff Writer', 'By X, Reuters', 'BY X | The Times'."""
    m = _BY_LINE.match(line.strip())
    if not m:
        return None
    rest = m.group("rest")
    agency: str | None = None
    head = re.split(r"\s+[|\u2022\u00b7\-\u2013\u2014]\s+|\s{2,}", rest)[0]
    parts = [p.strip() for p in head.split(",")]
    names: list[str] = []
    for i, p in enumerate(parts):
        a = canonical_agency(p)
        if a:
            agency = agency or a
            continue
        if i > 0 and _TITLE_WORDS.search(p):
            break
        for n in re.split(r"(?i)\s+(?:and|&)\s+", p):
            n = _IN_PLACE.sub("", n).strip(" .")
            if _is_name(n) and not _TITLE_WORDS.search(n):
                names.append(n.title() if n.isupper() else n)
    if not names and not agency:
        return None
    return Byline(authors=names, editors=[], agency=agency)


def is_byline(line: str) -> bool:
    """A short line that is a byline or credit line."""
    s = line.strip()
    if len(s) > 200:
        return False
    if is_credit_line(s):
        return True
    return parse_by_line(s) is not None


def agency_line(line: str) -> str | None:
    """A line that is only an agency name: 'The Associated Press', 'Reuters', '(AFP)'."""
    s = line.strip()
    if len(s) > 40:
        return None
    return canonical_agency(s)


def merge(into: Byline, other: Byline) -> Byline:
    """Merge two bylines keeping order and the first agency seen."""
    authors = list(into.authors)
    authors.extend(a for a in other.authors if a not in authors)
    editors = list(into.editors)
    editors.extend(e for e in other.editors if e not in editors)
    return Byline(authors=authors, editors=editors, agency=into.agency or other.agency)
