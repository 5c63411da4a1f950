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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rensa import RMinHash

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TOKEN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_TOKEN_ASCII = re.compile(r"[a-z]+|[0-9]+(?:\.[0-9]+)*")  # letters first: most tokens
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
_LITTLE_ENDIAN = array("I", [1]).tobytes()[0] == 1
Slots = dict[str, set[str]]  # key-token context ("<said", ">cts") -> the key tokens seen there


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
    _slots: Slots | None = None
    _shingle_set: set[int] | None = None

    @property
    def slots(self) -> Slots:
        if self._slots is None:
            self._slots = key_slots(self.tokens, self.keys)
        return self._slots

    @property
    def shingle_set(self) -> set[int]:
        """The stored shingle hashes as a set (computed once, for the verification)."""
        if self._shingle_set is None:
            self._shingle_set = shingle_set(self.shingles)
        return self._shingle_set


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
        # A word only ever seen at sentence starts is not a name.
        words.difference_update(
            [w for w in words.intersection(initial) if caps.count(w) <= initial.count(w)])
    return {w.lower() for w in words} if text.isascii() else {w.casefold() for w in words}


def _shingles(tokens: list[str], k: int) -> list[str]:
    if len(tokens) < k:
        return [" ".join(tokens)] if tokens else []
    if k == 3:
        return list(map(" ".join, zip(tokens, tokens[1:], tokens[2:], strict=False)))
    return list(map(" ".join, zip(*(tokens[j:] for j in range(k)), strict=False)))


def _weighted(keys: frozenset[str], weight: int) -> list[str]:
    """``weight`` copies of each key token as extra MinHash features."""
    if weight == 2:
        return [t + "\x1f0" for t in keys] + [t + "\x1f1" for t in keys]
    return [f"{t}\x1f{i}" for t in keys for i in range(weight)]


def _high_halves(values: list[int]) -> bytes:
    """The upper 32 bits of 64-bit hashes as little-endian u32 bytes, without a Python loop."""
    if not values:
        return b""
    halves = array("I", array("Q", values).tobytes())
    if _LITTLE_ENDIAN:
        return halves[1::2].tobytes()
    return _le_bytes(halves[0::2])  # pragma: no cover - big-endian hosts


def extract(text: str, params: FeatureParams) -> Features:
    _, tokens = _normalized(text)
    shingles = _shingles(tokens, params.shingle_size)
    tset = set(tokens)
    names = _names(text) & tset
    tickers = sorted({t.casefold() for t in _TICKER.findall(text)})
    numbers = [t for t in tset if t < "a"] if text.isascii() else [
        t for t in tset if t[0].isdigit()]
    keys = frozenset(numbers).union(names, _MONTHS.intersection(tset))
    weighted = _weighted(keys, params.key_weight)
    hashed = RMinHash.hash_token_sets([shingles, tickers, names])
    unique = list(dict.fromkeys(hashed[0]))
    rate = params.anchor_rate
    anchors = [h for h in unique if not h % rate][: params.max_anchors]
    minhash = RMinHash(params.num_perm, params.seed)
    if shingles:
        minhash.update(shingles + weighted)
    joined = " ".join(tokens)
    tick = [h >> 32 for h in hashed[1]]
    return Features(
        tokens=tokens,
        text=joined,
        keys=keys,
        size=len(unique) + len(weighted),
        minhash=minhash,
        shingles=_high_halves(unique[: params.max_shingles]),
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


def key_slots(tokens: Sequence[str], keys: Iterable[str]) -> Slots:
    """The key-token slots of a story: context -> the key tokens (characters sorted) in it.

    Every key token (number, name, month) fills two slots: the context of the word on its
    left, and of the word on its right.  The value is the token's characters sorted, so a
    transposition typo ("481,832" / "418,832", "Frankiln") is not read as another number or
    name.  Only compared within one process, so plain strings, no hashing.
    """
    keyset = keys if isinstance(keys, (set, frozenset)) else set(keys)
    slots: Slots = {}
    last = len(tokens) - 1
    sorted_chars: dict[str, str] = {}
    for i in [i for i, token in enumerate(tokens) if token in keyset]:
        token = tokens[i]
        value = sorted_chars.get(token)
        if value is None:
            value = sorted_chars[token] = "".join(sorted(token))
        for ctx in ("<" + (tokens[i - 1] if i else ""), ">" + (tokens[i + 1] if i < last else "")):
            held = slots.get(ctx)
            if held is None:
                slots[ctx] = {value}
            else:
                held.add(value)
    return slots


def stored_slots(text: str, keys: Iterable[str]) -> Slots:
    """:func:`key_slots` of a stored story (its normalized text and key tokens)."""
    return key_slots(text.split(" ") if text else [], keys)


def slot_agreement(mine: Slots, theirs: Slots) -> tuple[int, int]:
    """(agreeing, contradicting) key-token contexts of two stories.

    A context (the word left, or right, of a number, name or month) both stories have agrees
    when one of its key tokens is the same in both, and contradicts otherwise: "div [10]" vs
    "div [12]", "said [Quaker]" vs "said [Unibancorp]".  Contexts only one story has (added,
    trimmed or edited text) count for neither.
    """
    if len(theirs) < len(mine):
        mine, theirs = theirs, mine
    agree = contra = 0
    for ctx, values in mine.items():
        other = theirs.get(ctx)
        if other is None:
            continue
        if values.isdisjoint(other):
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
