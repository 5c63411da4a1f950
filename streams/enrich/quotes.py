"""Direct quotes and their speakers, by attribution patterns around quotation marks.

'"...," Lavrov told a news conference' -> speaker "Sergei Lavrov", linked to the full PERSON name
used in the story. Attributions recognised, in this order:

1. after the quote, subject then verb:  '"...," Interior Minister Idris Naim Sahin said'
2. after the quote, verb then subject:  '"...," said Cecafe president Nelson Carvalhaes.'
3. before the quote:                     'Lavrov said: "..."', 'Merkel told reporters that "..."'

The subject is resolved to a PERSON entity of the story when one is named in it (longest name
first, then a surname or first-name match); a pronoun or a description ("he", "the Finn",
"the minister") is resolved to the person mentioned last before the quote. A quote with no
attribution of its own continues the speaker of the previous quote in the same paragraph, or
takes the speaker of a later quote in that paragraph.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from streams.enrich.demonyms import demonym_country
from streams.records import Entity, Quote

_QUOTE = re.compile(r'["“]([^"“”\n]{3,}?)["”]')
_VERBS = (
    r"said|says|say|told|tells|added|adds|stated|states|explained|explains|argued|argues|"
    r"insisted|insists|noted|notes|warned|warns|wrote|writes|asked|asks|declared|announced|"
    r"replied|replies|continued|stressed|stresses|cautioned|acknowledged|admitted|recalled|"
    r"remarked|concluded|predicted|complained|conceded|urged|urges|added|commented|"
    r"confirmed|suggested|countered|maintained|observed|promised|vowed|quipped|"
    r"according\s+to"
)
_VERB_RE = re.compile(r"\b(?:" + _VERBS + r")\b")
# 1: '," SUBJECT [has/had] said' -- the subject is a short phrase without clause punctuation.
_AFTER_SUBJ_VERB = re.compile(
    r"^\s*[,.!?]?\s*(?P<subj>[^\s\"“”.;:!?][^\"“”;:!?]{0,90}?)\s+"
    r"(?:(?:has|had|also|later|then|once)\s+)?(?:" + _VERBS + r")\b"
)
# 2: '," said SUBJECT.' -- up to the end of the sentence.
_AFTER_VERB_SUBJ = re.compile(
    r"^\s*[,.!?]?\s*(?:"
    + _VERBS
    + r")\s+(?P<subj>[^\"“”;:!?\n]{1,120}?)(?:[.;!?]\s|[.;!?]?$|\s+(?:on|in|at|after|before|during|when)\s)"
)
# 3: 'SUBJECT said: "' / 'SUBJECT told reporters that "' -- at the end of the text before the quote.
_BEFORE = re.compile(
    r"(?:^|[.!?]\s+|[\"”]\s*)(?P<subj>[A-Z][^\"“”.;!?]{0,90}?)\s+(?:" + _VERBS + r")"
    r"(?:\s+[\w'’-]+){0,6}?\s*[:,]?\s*(?:that\s+)?$"
)
_PRONOUNS = {"he", "she", "they", "it", "we", "i"}
_CAP_RUN = re.compile(
    r"[A-Z][\w'’.-]*(?:\s+(?:(?:van|von|de|der|den|da|di|du|del|della|la|le|bin|ibn|al|el)\s+)*[A-Z][\w'’.-]*)*"
)
_TITLES = (
    "president vice prime minister foreign interior finance defence defense trade economy "
    "chancellor secretary general governor senator sen rep representative chairman "
    "chairwoman chair chief executive officer director commissioner spokesman spokeswoman "
    "spokesperson mr mrs ms dr sir lord lady king queen prince princess premier mayor "
    "ambassador envoy judge justice attorney coach captain manager leader head deputy "
    "assistant analyst economist professor pope cardinal bishop colonel major lieutenant "
    "sergeant admiral commander opposition party union police official officials company "
    "bank central the a an"
)
TITLE_WORDS = frozenset(_TITLES.split())
_MIN_WORDS = 3


def _link(name: str, persons: Sequence[str]) -> str | None:
    """Full PERSON name for a name or partial name, else None."""
    folded = name.casefold()
    words = folded.split()
    if not words:
        return None
    for full in persons:
        if full.casefold() == folded:
            return full
    for full in persons:  # the name as a whole appears in a person's name
        if f" {folded} " in f" {full.casefold()} ":
            return full
    last = words[-1]
    for full in persons:
        if full.casefold().split()[-1] == last:
            return full
    return None


def _strip_titles(run: str) -> str:
    words = run.split()
    while len(words) > 1 and words[0].casefold().strip(".") in TITLE_WORDS:
        words.pop(0)
    return " ".join(words)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


class _Resolver:
    """Turns an attribution subject into a speaker, using the story's PERSON entities."""

    def __init__(self, text: str, entities: Sequence[Entity]) -> None:
        self.persons = sorted(
            (e.text for e in entities if e.type == "PERSON"), key=len, reverse=True
        )
        self.orgs = [e.text for e in entities if e.type == "ORG"]
        self.text = text
        self._positions: list[tuple[int, str]] | None = None

    @property
    def positions(self) -> list[tuple[int, str]]:
        """Where each person is mentioned (full name, or any single word of it of 3+ letters).

        Computed on first use: most stories have no quote that needs it."""
        if self._positions is None:
            owners: dict[str, list[str]] = defaultdict(list)  # form -> the names it stands for
            for full in self.persons:
                forms = {full, *(w for w in full.split() if len(w) >= 3 and w[:1].isupper())}
                for form in forms:
                    owners[form].append(full)
            found: list[tuple[int, str]] = []
            if owners:
                # One scan for every start of any form (a lookahead, so overlapping forms such
                # as "Vladimir Putin" and "Putin" are all seen), then the forms at each start.
                alts = "|".join(re.escape(f) for f in sorted(owners, key=len, reverse=True))
                starts = re.finditer(r"(?<!\w)(?=(?:" + alts + r")(?!\w))", self.text)
                for m in starts:
                    pos = m.start()
                    for form, fulls in owners.items():
                        end = pos + len(form)
                        if self.text.startswith(form, pos) and not (
                            end < len(self.text) and _is_word_char(self.text[end])
                        ):
                            found.extend((pos, full) for full in fulls)
            found.sort()
            self._positions = found
        return self._positions

    def last_person_before(self, offset: int) -> str | None:
        best = None
        for pos, full in self.positions:
            if pos >= offset:
                break
            best = full
        return best

    def resolve(self, subj: str, offset: int) -> str | None:
        subj = subj.strip(" ,")
        if not subj:
            return None
        first = subj.split()[0].casefold()
        if first in _PRONOUNS:
            if len(subj.split()) > 1:
                return None  # "he was ..." is a clause, not a subject
            return self.last_person_before(offset)
        if subj[0].islower():
            runs = _CAP_RUN.findall(subj.split(",")[0])
            last = _strip_titles(runs[-1]) if runs else ""
            if not last or last.casefold() in TITLE_WORDS or demonym_country(last):
                return self.last_person_before(offset)  # "the minister", "the Finn"
        # A known person named in the subject: longest name first, then the surname.
        folded = f" {subj.casefold()} "
        for full in self.persons:
            if f" {full.casefold()} " in folded:
                return full
        head = subj.split(",")[0]
        runs = _CAP_RUN.findall(head)
        if not runs:
            return None
        run = _strip_titles(runs[-1])
        if run.casefold() in TITLE_WORDS or demonym_country(run):
            return self.last_person_before(offset)
        linked = _link(run, self.persons)
        if linked:
            return linked
        for org in self.orgs:
            if org.casefold() == run.casefold():
                return org
        if run.casefold() in {"reuters", "the", "it"} or len(run) < 2:
            return None
        return run


def extract_quotes(paragraphs: Sequence[str], entities: Sequence[Entity]) -> list[Quote]:
    text = "\n\n".join(paragraphs)
    resolver = _Resolver(text, entities)
    quotes: list[Quote] = []
    base = 0
    for para in paragraphs:
        para_speaker: str | None = None
        pending: list[int] = []  # indexes of quotes in this paragraph awaiting a speaker
        prev_end = 0
        for match in _QUOTE.finditer(para):
            qtext = match.group(1).strip().rstrip(",")
            if len(qtext.split()) < _MIN_WORDS:
                continue
            offset = base + match.start()
            after = para[match.end() : match.end() + 160]
            before = para[prev_end : match.start()]
            speaker: str | None = None
            found = None
            m1 = _AFTER_SUBJ_VERB.match(after)
            if m1 and not _VERB_RE.search(m1.group("subj")):
                found = m1
            found = found or _AFTER_VERB_SUBJ.match(after) or _BEFORE.search(before)
            if found:
                speaker = resolver.resolve(found.group("subj"), offset)
            elif para_speaker:
                speaker = para_speaker
            if speaker:
                para_speaker = speaker
                for idx in pending:
                    quotes[idx] = Quote(text=quotes[idx].text, speaker=speaker)
                pending.clear()
            else:
                pending.append(len(quotes))
            quotes.append(Quote(text=qtext, speaker=speaker))
            prev_end = match.end()
        base += len(para) + 2
    return quotes
