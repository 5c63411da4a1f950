"""Photo captions and credits in text lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from streams.records import Caption

_AGENCY_CREDIT = (
    r"(?:REUTERS|Reuters|AFP|AFP PHOTO|AFP/Getty Images|AP|AP Photo|EPA|AAP|AAP Image|Getty Images|"
    r"Bloomberg|XINHUA|Xinhua|PA|PA Wire|Kyodo|Yonhap|ANSA|EFE|dpa|DPA|ITAR-TASS|RIA Novosti)"
)
LABEL_RE = re.compile(
    r"^(?:Photo(?:graph)?s?|Pictures?|Image|Credit|Photo credit|Picture credit|Foto)\s*(?:credit)?\s*"
    r"[:\-\u2013\u2014]\s*(?P<credit>\S.{1,120})$",
    re.I,
)
_EMBEDDED_SLASH = re.compile(
    r"(?:^|\s)(?P<credit>" + _AGENCY_CREDIT + r"(?:\s*/\s*[^/\n]{2,60}){1,5})\s*\.?\s*$"
)
_EMBEDDED_PAREN = re.compile(
    r"\s*(?P<credit>\((?:[^()]{0,60}(?:\bPhotos?\b|\bPicture\b|Getty Images|/AP\b|/AFP\b|/Reuters\b|\bAP\b|"
    r"\bAFP\b|\bEPA\b|\bReuters\b)[^()]{0,60})\)(?:\s*\([^()]{1,60}\))?)\s*\.?\s*$"
)
# "Caption text. Photo: John Borg/Coastal Herald" (a labelled credit at the end of a caption)
_EMBEDDED_LABEL = re.compile(
    r"(?<=[\s.!?\"')\]])(?P<credit>(?:Photo(?:graph)?s?|Pictures?|Image|Credit|Photo credit|"
    r"Picture credit|Foto)\s*(?:credit)?\s*:\s*(?P<name>[^:]{2,80}?))\s*\.?$",
    re.I,
)
_CREDIT_ONLY = re.compile(
    r"^(?:[A-Z][\w.'\- ]{1,40}\s*/\s*)?" + _AGENCY_CREDIT + r"(?:\s*/\s*[^/]{2,60}){0,4}$"
)


@dataclass(slots=True)
class CaptionHit:
    """A caption located at line ``index`` (the credit may come from the next line ``credit_index``)."""

    index: int
    text: str
    credit: str | None
    credit_index: int | None = None
    labelled: bool = False


def split_embedded_credit(line: str) -> tuple[str, str] | None:
    """Split 'Caption text. REUTERS/Name' or 'Caption (AP Photo/Name)' into (text, credit)."""
    # Prefilters (necessary conditions of the two patterns; the searches are costly).
    m = _EMBEDDED_SLASH.search(line) if "/" in line else None
    if m and m.start("credit") > 15:
        return line[: m.start("credit")].strip(), m.group("credit").strip()
    if ":" in line:
        m = _EMBEDDED_LABEL.search(line)
        if m and m.start("credit") > 15 and len(m.group("name").split()) <= 8:
            return line[: m.start("credit")].strip(), m.group("name").strip()
    if not line.rstrip().rstrip(".").rstrip().endswith(")"):
        return None
    m = _EMBEDDED_PAREN.search(line)
    if m and m.start("credit") > 15 and re.search(r"(?i)photo|getty|picture|/", m.group("credit")):
        return line[: m.start("credit")].strip(), m.group("credit").strip()
    return None


def credit_label(line: str) -> str | None:
    """The credit of a 'Credit: X' / 'Photo: X' line."""
    m = LABEL_RE.match(line.strip())
    if m and len(m.group("credit").split()) <= 12:
        return m.group("credit").strip()
    return None


def is_credit_only(line: str) -> bool:
    return len(line) < 90 and bool(_CREDIT_ONLY.match(line.strip()))


def norm_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def merge_captions(hits: list[CaptionHit]) -> list[Caption]:
    """One caption per distinct text; a labelled credit ('Credit: X') wins over an embedded one."""
    out: list[Caption] = []
    keys: dict[str, int] = {}
    labelled: dict[str, bool] = {}
    for h in hits:
        text = h.text.strip()
        if not text and h.credit is None:
            continue
        key = norm_key(text)
        if key in keys:
            c = out[keys[key]]
            if h.credit and (c.credit is None or (h.labelled and not labelled[key])):
                c.credit = h.credit
                labelled[key] = h.labelled
            continue
        keys[key] = len(out)
        labelled[key] = h.labelled
        out.append(Caption(text=text, credit=h.credit))
    return out
