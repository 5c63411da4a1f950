"""Direct quotes and their speakers, by attribution patterns around quotation marks.

'"...," Lavrov told a news conference' -> speaker "Lavrov", linked to the full PERSON name
used in the story ("Sergei Lavrov"). A quote with no attribution of its own that follows
an attributed quote in the same paragraph continues that speaker's words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from streams.records import Entity, Quote

_QUOTE = re.compile(r'["“]([^"“”]{3,}?)["”]')
_VERBS = (
    r"said|says|told|added|adds|stated|explained|argued|insisted|noted|warned|"
    r"wrote|asked|declared|announced|replied|continued|stressed|cautioned|"
    r"acknowledged|admitted|recalled|remarked|concluded"
)
_NAME = r"(?P<name>(?:[A-Z][\w'’.-]+\s+){0,3}[A-Z][\w'’-]+|he|she|they|He|She|They)"
_AFTER_NAME_VERB = re.compile(r"^\s*,?\s*" + _NAME + r"\s+(?:" + _VERBS + r")\b")
_AFTER_VERB_NAME = re.compile(r"^\s*,?\s*(?:" + _VERBS + r")\s+" + _NAME)
_BEFORE = re.compile(
    _NAME + r"\s+(?:" + _VERBS + r")(?:\s+\w+){0,6}?\s*[:,]?\s*(?:that\s+)?(?:an?\s+|the\s+)?$"
)
_PRONOUNS = {"he", "she", "they"}
_MIN_WORDS = 3


def _link(name: str, persons: Sequence[str]) -> str:
    """Full PERSON name for a surname or partial name, else the name as written."""
    last = name.split()[-1].casefold()
    for full in persons:
        if full.casefold() == name.casefold():
            return full
    for full in persons:
        parts = full.casefold().split()
        if last in parts and len(full) >= len(name):
            return full
    return name


def extract_quotes(paragraphs: Sequence[str], entities: Sequence[Entity]) -> list[Quote]:
    persons = sorted((e.text for e in entities if e.type == "PERSON"), key=len, reverse=True)
    quotes: list[Quote] = []
    last_speaker: str | None = None
    for para in paragraphs:
        para_speaker: str | None = None
        pending: list[int] = []  # indexes of quotes in this paragraph awaiting a speaker
        prev_end = 0
        for match in _QUOTE.finditer(para):
            text = match.group(1).strip().rstrip(",")
            if len(text.split()) < _MIN_WORDS:
                prev_end = match.end()
                continue
            after = para[match.end() : match.end() + 80]
            before = para[prev_end : match.start()]
            found = _AFTER_NAME_VERB.match(after) or _AFTER_VERB_NAME.match(after)
            found = found or _BEFORE.search(before)
            speaker: str | None = None
            if found:
                name = found.group("name")
                if name.casefold() in _PRONOUNS:
                    speaker = para_speaker or last_speaker
                else:
                    speaker = _link(name, persons)
            elif para_speaker:
                speaker = para_speaker
            if speaker:
                para_speaker = speaker
                for idx in pending:
                    quotes[idx] = Quote(text=quotes[idx].text, speaker=speaker)
                pending.clear()
            else:
                pending.append(len(quotes))
            quotes.append(Quote(text=text, speaker=speaker))
            prev_end = match.end()
        if para_speaker:
            last_speaker = para_speaker
    return quotes
