"""The enrich stage: ``Segmented`` -> ``Enriched``.

``enrich_batch`` runs the NER model once over a batch (``nlp.pipe``); everything else is
pure per-story functions. Enrichment degrades instead of raising: a story in a language
the NER model does not cover keeps its other fields and carries a flag.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from streams.enrich.entities import extract_entities
from streams.enrich.gazetteer import gazetteer
from streams.enrich.language import UNDETERMINED, detect_language
from streams.enrich.places import leading_dateline_place, resolve_places, split_dateline_place
from streams.enrich.quotes import extract_quotes
from streams.enrich.reldates import resolve_relative_dates
from streams.enrich.text_stats import (
    exact_fingerprint,
    keywords,
    reading_time_seconds,
    word_count,
)
from streams.enrich.topics import classify_topics
from streams.records import Enriched, Entity, Fingerprints, Segmented

logger = logging.getLogger(__name__)
_TOKEN = re.compile(r"\w+")
NER_LANGUAGES = frozenset({"en"})
# Longest text handed to the NER model; the rest of a huge story is still counted and hashed.
MAX_NER_CHARS = 100_000


def article_text(seg: Segmented) -> str:
    """The text the models read: headline, captions and body, article text only."""
    parts = [seg.headline or ""]
    parts.extend(p for p in seg.body)
    parts.extend(c.text for c in seg.captions)
    return "\n\n".join(p for p in parts if p)


def is_degenerate(text: str, sample_chars: int = 20_000) -> bool:
    """Text that is not prose: a long run of very few distinct words (e.g. one word x 1 MB)."""
    words = _TOKEN.findall(text[:sample_chars])
    return len(words) >= 200 and len(set(words)) / len(words) < 0.03


def _ner(texts: list[str], batch_size: int) -> list[list[Entity] | None]:
    """Entities per text; one failing text degrades to ``None`` instead of failing the batch."""
    try:
        return list(extract_entities(texts, batch_size=batch_size))
    except Exception:
        logger.exception("NER failed on a batch of %d; retrying one by one", len(texts))
    out: list[list[Entity] | None] = []
    for text in texts:
        try:
            out.append(extract_entities([text])[0])
        except Exception:
            logger.exception("NER failed on one text (%d chars)", len(text))
            out.append(None)
    return out


def enrich_batch(items: Sequence[Segmented], batch_size: int = 32) -> list[Enriched]:
    """Enrich a batch: the NER model runs once over all texts it applies to (``nlp.pipe``).

    Never raises for any ``Segmented``: a story that cannot be enriched gets empty fields and
    a flag saying why.
    """
    texts = [article_text(s) for s in items]
    languages = [_language(t, s.language_hint) for t, s in zip(texts, items, strict=True)]
    degenerate = [is_degenerate(t) for t in texts]
    ner_idx = [
        i
        for i, lang in enumerate(languages)
        if lang in NER_LANGUAGES and texts[i].strip() and not degenerate[i]
    ]
    found = _ner([texts[i][:MAX_NER_CHARS] for i in ner_idx], batch_size)
    entities: dict[int, list[Entity] | None] = dict(zip(ner_idx, found, strict=True))
    out: list[Enriched] = []
    for i, (seg, text, lang) in enumerate(zip(items, texts, languages, strict=True)):
        flags = ["degenerate_text"] if degenerate[i] else []
        if i in ner_idx and entities[i] is None:
            flags.append("ner_failed")
        try:
            out.append(_assemble(seg, text, lang, entities.get(i), flags))
        except Exception:
            logger.exception("enrichment failed for story %s", seg.story_id)
            out.append(
                Enriched(
                    segmented=seg,
                    language=lang,
                    published_at=seg.published_at,
                    flags=[*flags, "enrich_failed"],
                )
            )
    return out


def _language(text: str, hint: str | None) -> str:
    try:
        return detect_language(text, hint)
    except Exception:
        logger.exception("language detection failed")
        return UNDETERMINED


def with_dateline_entity(ents: list[Entity], place: str) -> list[Entity]:
    """The dateline city is a LOC mention the model never sees ("MOSCOW" -> "Moscow")."""
    city = split_dateline_place(place)[0]
    if not city or len(city) > 40 or not any(c.isalpha() for c in city):
        return ents
    name = city.title() if city.isupper() else city
    for i, ent in enumerate(ents):
        if ent.text.casefold() == name.casefold():
            ents = list(ents)
            ents[i] = Entity(text=ent.text, type=ent.type, count=ent.count + 1)
            return ents
    return [Entity(text=name, type="LOC", count=1), *ents]


def enrich(seg: Segmented) -> Enriched:
    return enrich_batch([seg])[0]


def _assemble(
    seg: Segmented, text: str, language: str, ents: list[Entity] | None, flags: list[str]
) -> Enriched:
    if not text.strip():
        flags.append("no_text")
    if not seg.has_article:
        flags.append("no_article")
    if language == UNDETERMINED:
        flags.append("language_undetermined")
    if ents is None:
        ents = []
        degenerate = "degenerate_text" in flags
        if text.strip() and language not in (*NER_LANGUAGES, UNDETERMINED) and not degenerate:
            flags.append("ner_unsupported_language")
    if len(text) > MAX_NER_CHARS and "degenerate_text" not in flags:
        flags.append("ner_truncated")
    place = seg.dateline.place if seg.dateline else None
    if place is None and seg.body:
        place = leading_dateline_place(seg.body[0])
    if place and ents is not None:
        ents = with_dateline_entity(ents, place)
    early = "\n".join(p for p in (seg.headline, seg.body[0] if seg.body else None) if p)
    places, countries = resolve_places(gazetteer(), place, ents, early)
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
        dates=resolve_relative_dates(seg.headline, seg.body, seg.published_at)
        if language == "en"
        else [],
    )
