"""What the dedup stage compares: normalized tokens, weighted shingles, key tokens, a MinHash.

Everything here is a pure function of the story text (headline + article paragraphs), stable
across processes and restarts (rensa's token hashing and MinHash permutations are seeded and
deterministic; Python's randomized ``hash()`` is never used).

Features of one story (see ``docs/dedup.md`` for the measurements behind the choices):

* **shingles**: word ``k``-grams (default 3) over the normalized headline + body tokens;
* **key tokens**: numbers (``2,858,000`` -> ``2858000``), names (capitalized words inside
  mixed-case sentences, acronyms, ``<TICKER>`` symbols) and month names -- what tells two stories
  cut from one template apart.  They are added to the shingle set again as weighted unigram
  features (``weight`` copies each), so a templated earnings report for another company with
  other numbers moves away from its template siblings, and they are kept separately (as 32-bit
  hashes) for the number/name veto of the verification step;
* **anchors**: the shingles whose hash falls in a 1/``anchor_rate`` sample.  The sample is
  content-defined, so every anchor of a truncated copy that is still in the original is an
  anchor of the original too: they find candidates by containment (truncations, trims,
  added paragraphs, boilerplate wrappers) where the MinHash-LSH bands look for Jaccard;
* **signature**: a rensa ``RMinHash`` over the shingles + weighted key tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from rensa import RMinHash

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TOKEN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_TOKEN_ASCII = re.compile(r"[0-9]+(?:\.[0-9]+)*|[a-z]+")
# A name: a capitalized word (Title case or an acronym of 2+ letters), original case.
_CAP_WORD = re.compile(
    r"(?<![\w<])([A-Z][A-Za-z]*[a-z][A-Za-z]*|[A-Z]{2,}(?:\.[A-Z])*)(?![\w>])")
_TICKER = re.compile(r"<([A-Z][A-Z0-9.]{0,9})>")
_SENTENCE_END = frozenset('.!?:;"“(-')
_MONTHS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"]
)


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """How stories are turned into sets; changing any of these changes stored signatures."""

    shingle_size: int = 3
    num_perm: int = 128
    seed: int = 1987
    key_weight: int = 2  # extra copies of each number/name feature in the MinHash set
    anchor_rate: int = 12  # keep shingles whose hash % anchor_rate == 0 as anchors
    max_anchors: int = 48  # per story (the first ones in text order)
    max_shingles: int = 600  # stored shingle hashes per story (the first, in text order)
    max_slots: int = 96  # stored key-token slots per story


@dataclass(slots=True)
class Features:
    tokens: list[str]
    size: int  # distinct features in the MinHash set
    minhash: RMinHash
    shingles: list[int]  # 32-bit hashes of the distinct shingles, text order, capped
    slots: list[int]  # key-token slots: (context hash << 32) | token hash, see ``key_slots``
    tickers: list[int]  # 32-bit hashes of <TICKER> symbols
    anchors: list[int]  # 64-bit anchor shingle hashes


def article_text(headline: str | None, body: Sequence[str], lead: str | None = None) -> str:
    paragraphs = list(body) if body else ([lead] if lead else [])
    return "\n".join([headline or "", *paragraphs])


def normalize_tokens(text: str) -> list[str]:
    if "," in text:
        text = _THOUSANDS.sub("", text)
    if text.isascii():
        return _TOKEN_ASCII.findall(text.lower())
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    return _TOKEN.findall(text.casefold())


def _names(text: str) -> set[str]:
    """Capitalized words that are not just sentence-initial. Casefolded."""
    out: set[str] = set()
    for line in text.split("\n"):
        if line == line.upper():  # an all-caps line (wire headline, table): says nothing
            continue
        for m in _CAP_WORD.finditer(line):
            word = m.group(1)
            if not word.isupper():
                before = line[max(0, m.start() - 4) : m.start()].rstrip()
                if not before or before[-1] in _SENTENCE_END:
                    continue  # sentence-initial: any word is capitalized there
            out.add(word.casefold())
    return out


def extract(text: str, params: FeatureParams) -> Features:
    tokens = normalize_tokens(text)
    k = params.shingle_size
    if len(tokens) >= k:
        shingles = list(map(" ".join, zip(*(tokens[j:] for j in range(k)), strict=False)))
    else:
        shingles = [" ".join(tokens)] if tokens else []
    names = _names(text)
    tickers = sorted({t.casefold() for t in _TICKER.findall(text)})
    # Key tokens (numbers, names, months) and their slots: the words on either side.
    keys = {t for t in set(tokens) if t[0].isdigit() or t in names or t in _MONTHS}
    padded = ["", *tokens, ""]
    positions = [i for i, t in enumerate(tokens) if t in keys]
    ctx = [f"{padded[i]}\x1f{padded[i + 2]}" for i in positions]
    vals = [tokens[i] for i in positions]
    weighted = [f"{t}\x1f{i}" for t in sorted(keys) for i in range(params.key_weight)]
    hashed = RMinHash.hash_token_sets([shingles, ctx, vals, tickers])
    unique = list(dict.fromkeys(hashed[0]))
    rate = params.anchor_rate
    anchors = [h for h in unique if h % rate == 0][: params.max_anchors]
    stored = [h >> 32 for h in unique[: params.max_shingles]]
    slots = sorted({(c >> 32) << 32 | (v >> 32) for c, v in zip(hashed[1], hashed[2],
                                                                  strict=True)})
    minhash = RMinHash(params.num_perm, params.seed)
    if shingles:
        minhash.update(shingles)
        if weighted:
            minhash.update(weighted)
    return Features(
        tokens=tokens,
        size=len(unique) + len(weighted),
        minhash=minhash,
        shingles=stored,
        slots=slots[: params.max_slots],
        tickers=[h >> 32 for h in hashed[3]],
        anchors=anchors,
    )


def slot_agreement(mine: Sequence[int], theirs: Sequence[int]) -> tuple[int, int]:
    """(agreeing, contradicting) key-token slots of two stories.

    A slot is a key token (number, name, month) with the words on either side of it.  The same
    slot with the same token agrees; the same words around a *different* key token contradict:
    "div 10 cts" vs "div 12 cts", "said Quaker Oats" vs "said Unibancorp".
    """
    if not mine or not theirs:
        return 0, 0
    theirs_set = set(theirs)
    by_ctx: dict[int, int] = {}
    for s in theirs:
        by_ctx[s >> 32] = by_ctx.get(s >> 32, 0) + 1
    agree = contra = 0
    for s in mine:
        if s in theirs_set:
            agree += 1
        elif (s >> 32) in by_ctx:
            contra += 1
    return agree, contra


def restore_minhash(state: bytes, params: FeatureParams) -> RMinHash:
    """An ``RMinHash`` from the bytes ``RMinHash.__getstate__`` gave (rensa's own pickle form)."""
    minhash = RMinHash(params.num_perm, params.seed)
    minhash.__setstate__(state)
    return minhash


def containment(jaccard: float, size_a: int, size_b: int) -> float:
    """|A ∩ B| / min(|A|, |B|) from a Jaccard estimate and the two set sizes."""
    small = min(size_a, size_b)
    if small <= 0:
        return 0.0
    inter = jaccard * (size_a + size_b) / (1.0 + jaccard)
    return min(1.0, inter / small)
