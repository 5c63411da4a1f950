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
  other numbers moves away from its template siblings;
* **key slots** (computed only when a candidate is verified, from the normalized text that is
  stored): every key token with the word on its left, and with the word on its right.  The
  number/name check of the verification compares them (:func:`slot_agreement`);
* **anchors**: the shingles whose hash falls in a 1/``anchor_rate`` sample.  The sample is
  content-defined, so every anchor of a truncated copy that is still in the original is an
  anchor of the original too: they find candidates by containment (truncations, trims,
  added paragraphs, boilerplate wrappers) where the MinHash-LSH bands look for Jaccard;
* **signature**: a rensa ``RMinHash`` over the shingles + weighted key tokens;
* **event keys** (for ``cluster_id``): 32-bit hashes of the names and tickers.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rensa import RMinHash

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TOKEN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_TOKEN_ASCII = re.compile(r"[0-9]+(?:\.[0-9]+)*|[a-z]+")
_TICKER = re.compile(r"<([A-Z][A-Z0-9.]{0,9})>")
# A name: a capitalized word (Title case or an acronym of 2+ letters), original case.  The
# second pattern finds the sentence-initial Title-case words (after ``. ! ? : ; " “ ( -`` or a
# line start, up to three blanks between): any word is capitalized there, so a word counts as
# a name only when it also occurs elsewhere.  Acronyms always count.
_CAP_WORD = re.compile(
    r"[A-Z](?<![\w<][A-Z])(?:[A-Za-z]*[a-z][A-Za-z]*|[A-Z]+(?:\.[A-Z])*)(?![\w>])")
_INITIAL_WORD = re.compile(r"[.!?:;\"“(\-\n][ \t]{0,3}([A-Z][A-Za-z]*[a-z][A-Za-z]*)(?![\w>])")
_MONTHS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
     "sept", "oct", "nov", "dec"]
)
_U32 = 0xFFFFFFFF


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
    max_text: int = 6000  # stored normalized text (characters) for the key-slot check
    max_event_keys: int = 48  # stored name/ticker hashes per story (event clusters)


@dataclass(slots=True)
class Features:
    tokens: list[str]
    text: str  # the normalized tokens joined by spaces (what the exact key digests)
    keys: frozenset[str]  # key tokens: numbers, names, months
    size: int  # distinct features in the MinHash set
    minhash: RMinHash
    shingles: bytes  # 32-bit hashes (little endian) of the distinct shingles, text order, capped
    tickers: list[int]  # 32-bit hashes of <TICKER> symbols
    anchors: list[int]  # 64-bit anchor shingle hashes
    event_keys: list[int]  # 32-bit hashes of names and tickers, sorted, capped
    digest: str  # the exact key: blake2b of ``text``
    _slots: list[int] | None = None

    @property
    def slots(self) -> list[int]:
        if self._slots is None:
            self._slots = key_slots(self.tokens, self.keys)
        return self._slots


def article_text(headline: str | None, body: Sequence[str], lead: str | None = None) -> str:
    paragraphs = list(body) if body else ([lead] if lead else [])
    return "\n".join([headline or "", *paragraphs])


def _normalized(text: str) -> tuple[str, list[str]]:
    """(the casefolded text the tokens were read from, the tokens)."""
    if "," in text:
        text = _THOUSANDS.sub("", text)
    if text.isascii():
        low = text.lower()
        return low, _TOKEN_ASCII.findall(low)
    low = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    return low, _TOKEN.findall(low)


def normalize_tokens(text: str) -> list[str]:
    return _normalized(text)[1]


def _names(text: str) -> set[str]:
    """Capitalized words that are not just sentence-initial (acronyms always). Casefolded.

    All-caps lines (a wire headline, a table) are skipped: capitals say nothing there.
    """
    if "\n" in text:
        text = "\n".join([line for line in text.split("\n") if line != line.upper()])
    elif text == text.upper():
        return set()
    caps = _CAP_WORD.findall(text)
    if not caps:
        return set()
    words = set(caps)
    initial = _INITIAL_WORD.findall("\n" + text)
    if initial and not words.isdisjoint(initial):
        n_caps, n_initial = Counter(caps), Counter(initial)
        words.difference_update([w for w in n_initial if n_caps[w] <= n_initial[w]])
    return {w.lower() for w in words} if text.isascii() else {w.casefold() for w in words}


def extract(text: str, params: FeatureParams) -> Features:
    _, tokens = _normalized(text)
    k = params.shingle_size
    if len(tokens) >= k:
        shingles = list(map(" ".join, zip(*(tokens[j:] for j in range(k)), strict=False)))
    else:
        shingles = [" ".join(tokens)] if tokens else []
    tset = set(tokens)
    names = _names(text) & tset
    tickers = sorted({t.casefold() for t in _TICKER.findall(text)})
    keys = frozenset([t for t in tset if t[0].isdigit()]) | names | (_MONTHS & tset)
    if params.key_weight == 2:
        weighted = [t + "\x1f0" for t in keys] + [t + "\x1f1" for t in keys]
    else:
        weighted = [f"{t}\x1f{i}" for t in keys for i in range(params.key_weight)]
    hashed = RMinHash.hash_token_sets([shingles, tickers, names])
    unique = list(dict.fromkeys(hashed[0]))
    rate = params.anchor_rate
    anchors = [h for h in unique if not h % rate][: params.max_anchors]
    stored = array("I", [h >> 32 for h in unique[: params.max_shingles]])
    minhash = RMinHash(params.num_perm, params.seed)
    if shingles:
        minhash.update(shingles)
        if weighted:
            minhash.update(weighted)
    joined = " ".join(tokens)
    tick = [h >> 32 for h in hashed[1]]
    return Features(
        tokens=tokens,
        text=joined,
        keys=keys,
        size=len(unique) + len(weighted),
        minhash=minhash,
        shingles=_le_bytes(stored),
        tickers=tick,
        anchors=anchors,
        event_keys=sorted({*tick, *(h >> 32 for h in hashed[2])})[: params.max_event_keys],
        digest=hashlib.blake2b(joined.encode("utf-8"), digest_size=16).hexdigest(),
    )


def _le_bytes(values: array[int]) -> bytes:
    if array("I", [1]).tobytes()[0] != 1:  # pragma: no cover - big-endian hosts
        values.byteswap()
    return values.tobytes()


def shingle_set(raw: bytes) -> set[int]:
    values = array("I")
    values.frombytes(raw[: len(raw) // 4 * 4])
    if values.itemsize == 4 and array("I", [1]).tobytes()[0] != 1:  # pragma: no cover
        values.byteswap()
    return set(values)


def key_slots(tokens: Sequence[str], keys: Iterable[str]) -> list[int]:
    """The key-token slots of a story: ``(context hash << 32) | value hash``, sorted.

    Every key token (number, name, month) gives two slots: with the word on its left and with
    the word on its right.  The value is the token's characters sorted, so a transposition
    typo ("481,832" / "418,832", "Frankiln") is not read as another number or name.
    """
    keyset = keys if isinstance(keys, (set, frozenset)) else set(keys)
    positions = [i for i, t in enumerate(tokens) if t in keyset]
    if not positions:
        return []
    n = len(tokens)
    sorted_chars = {t: "".join(sorted(t)) for t in keyset}
    ctx: list[str] = []
    vals: list[str] = []
    for i in positions:
        v = sorted_chars[tokens[i]]
        ctx.append("<" + (tokens[i - 1] if i else ""))
        ctx.append(">" + (tokens[i + 1] if i + 1 < n else ""))
        vals.append(v)
        vals.append(v)
    hc, hv = RMinHash.hash_token_sets([ctx, vals])
    return sorted({(c >> 32) << 32 | (v >> 32) for c, v in zip(hc, hv, strict=True)})


def stored_slots(text: str, keys: Iterable[str]) -> list[int]:
    """:func:`key_slots` of a stored story (its normalized text and key tokens)."""
    return key_slots(text.split(" ") if text else [], keys)


def slot_agreement(mine: Sequence[int], theirs: Sequence[int]) -> tuple[int, int]:
    """(agreeing, contradicting) key-token contexts of two stories.

    A context (the word left, or right, of a number, name or month) both stories have agrees
    when one of its key tokens is the same in both, and contradicts otherwise: "div [10]" vs
    "div [12]", "said [Quaker]" vs "said [Unibancorp]".  Contexts only one story has (added,
    trimmed or edited text) count for neither.
    """
    if not mine or not theirs:
        return 0, 0
    a: dict[int, set[int]] = {}
    for s in mine:
        c = s >> 32
        if c in a:
            a[c].add(s & _U32)
        else:
            a[c] = {s & _U32}
    b: dict[int, set[int]] = {}
    for s in theirs:
        c = s >> 32
        if c in a:
            if c in b:
                b[c].add(s & _U32)
            else:
                b[c] = {s & _U32}
    agree = contra = 0
    for c, vb in b.items():
        if a[c].isdisjoint(vb):
            contra += 1
        else:
            agree += 1
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
