"""Cheap text statistics: word count, reading time, keywords, exact fingerprint."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

from spacy.lang.en.stop_words import STOP_WORDS

from streams.records import Entity

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z-]{3,}")
_NORMALIZE_DROP = re.compile(r"[^\w\s]", re.UNICODE)
WORDS_PER_MINUTE = 230
_EXTRA_STOP = {"said", "says", "told", "would", "could", "also", "year", "years", "reuters"}


def word_count(paragraphs: Sequence[str]) -> int:
    return sum(len(_WORD.findall(p)) for p in paragraphs)


def reading_time_seconds(words: int) -> int:
    return round(words * 60 / WORDS_PER_MINUTE)


def keywords(text: str, entities: Sequence[Entity], limit: int = 10) -> list[str]:
    """Most salient terms: entity names by mention count, then frequent content words."""
    ranked = sorted(
        (e for e in entities if e.type in ("PERSON", "ORG", "LOC")),
        key=lambda e: -e.count,
    )
    out: list[str] = [e.text for e in ranked[: limit // 2]]
    taken = {w.casefold() for kw in out for w in kw.split()}
    counts: Counter[str] = Counter(
        w
        for w in (m.lower() for m in _KEYWORD.findall(text))
        if w not in STOP_WORDS and w not in _EXTRA_STOP
    )
    for word, n in counts.most_common():
        if len(out) >= limit or n < 2:
            break
        if word not in taken:
            out.append(word)
            taken.add(word)
    return out


def normalize_for_hash(text: str) -> str:
    return " ".join(_NORMALIZE_DROP.sub(" ", text.casefold()).split())


def exact_fingerprint(paragraphs: Sequence[str]) -> str:
    """Digest of the article text after normalizing case, punctuation and whitespace."""
    norm = normalize_for_hash("\n".join(paragraphs))
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=16).hexdigest()
