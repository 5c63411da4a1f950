"""Language identification (ISO 639-1) with lingua, restricted to the languages we expect."""

from __future__ import annotations

from functools import cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

SUPPORTED = (
    Language.ENGLISH, Language.GERMAN, Language.FRENCH, Language.SPANISH, Language.ITALIAN,
    Language.PORTUGUESE, Language.DUTCH, Language.RUSSIAN, Language.ARABIC, Language.CHINESE,
    Language.JAPANESE, Language.SWEDISH, Language.POLISH, Language.TURKISH,
)  # fmt: skip
UNDETERMINED = "und"
_SAMPLE_CHARS = 2000


@cache
def detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*SUPPORTED).with_low_accuracy_mode().build()


def detect_language(text: str, hint: str | None = None) -> str:
    """ISO 639-1 code of ``text``; the hint (envelope/page lang) decides when text is too short."""
    sample = text[:_SAMPLE_CHARS]
    if sum(c.isalpha() for c in sample) < 20:
        return (hint or UNDETERMINED)[:2].lower() if hint else UNDETERMINED
    lang = detector().detect_language_of(sample)
    if lang is None:
        return hint[:2].lower() if hint else UNDETERMINED
    code: IsoCode639_1 = lang.iso_code_639_1
    return str(code.name).lower()
