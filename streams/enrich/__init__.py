"""The enrich stage: ``Segmented`` -> ``Enriched``.

``enrich_batch`` runs the NER model once over a batch (``nlp.pipe``); everything else is
pure per-story functions. Enrichment degrades instead of raising: a story in a language
the NER model does not cover keeps its other fields and carries a flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.enrich.entities import extract_entities
from streams.enrich.gazetteer import gazetteer
from streams.enrich.language import UNDETERMINED, detect_language
from streams.enrich.places import resolve_places
from streams.enrich.quotes import extract_quotes
from streams.enrich.text_stats import (
    exact_fingerprint,
    keywords,
    reading_time_seconds,
    word_count,
)
from streams.enrich.topics import classify_topics
from streams.records import Enriched, Entity, Fingerprints, Segmented

NER_LANGUAGES = frozenset({"en"})
# Longest text handed to the NER model; the rest of a huge story is still counted and hashed.
MAX_NER_CHARS = 100_000


def article_text(seg: Segmented) -> str:
    """The text the models read: headline, captions and body, article text only."""
    parts = [seg.headline or ""]
    parts.extend(p for p in seg.body)
    parts.extend(c.text for c in seg.captions)
    return "\n\n".join(p for p in parts if p)


def enrich_batch(items: Sequence[Segmented], batch_size: int = 32) -> list[Enriched]:
    texts = [article_text(s) for s in items]
    languages = [detect_language(t, s.language_hint) for t, s in zip(texts, items, strict=True)]
    ner_idx = [i for i, lang in enumerate(languages) if lang in NER_LANGUAGES and texts[i]]
    found = extract_entities((texts[i][:MAX_NER_CHARS] for i in ner_idx), batch_size=batch_size)
    entities: dict[int, list[Entity]] = dict(zip(ner_idx, found, strict=True))
    return [
        _assemble(seg, text, lang, entities.get(i))
        for i, (seg, text, lang) in enumerate(zip(items, texts, languages, strict=True))
    ]


def enrich(seg: Segmented) -> Enriched:
    return enrich_batch([seg])[0]


def _assemble(seg: Segmented, text: str, language: str, ents: list[Entity] | None) -> Enriched:
    flags: list[str] = []
    if not seg.has_article:
        flags.append("no_article")
    if language == UNDETERMINED:
        flags.append("language_undetermined")
    if ents is None:
        ents = []
        if text and language != UNDETERMINED:
            flags.append("ner_unsupported_language")
    if len(text) > MAX_NER_CHARS:
        flags.append("ner_truncated")
    place = seg.dateline.place if seg.dateline else None
    places, countries = resolve_places(gazetteer(), place, ents)
    body_words = word_count(seg.body)
    fingerprint_source = seg.body or ([seg.headline] if seg.headline else [])
    return Enriched(
        segmented=seg,
        language=language,
        published_at=seg.published_at,
        entities=ents,
        places=places,
        countries=countries,
        quotes=extract_quotes(seg.body, ents),
        keywords=keywords(text, ents),
        topics=classify_topics(text) if language == "en" else [],
        word_count=body_words,
        reading_time_seconds=reading_time_seconds(body_words),
        fingerprints=Fingerprints(exact=exact_fingerprint(fingerprint_source)),
        flags=flags,
    )
