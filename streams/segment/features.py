"""Per-line features for the trained line classifier (:mod:`streams.segment.model`).

One row per non-blank line of a page (text dump lines, or the lines the HTML renderer produced).
The features are shallow text statistics (length, punctuation, capitalization, digits), layout
(position in the page, blank-line blocks), the HTML evidence the renderer records (link density,
heading / caption / comment / navigation containers; zero for text dumps), the rule labels of
:mod:`streams.segment.text` (kind, "good prose", the rule-chosen body run and headline), date,
credit, byline and comment-header patterns, similarity to the page title, and the same small
vector for the two lines before and after (neighbours).

The training script (``training/segment/train.py``) and the runtime share this module, so a
feature change needs a retrain (the model file records :data:`FEATURES_VERSION`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from streams.segment.comments import _ACTION_RE, POLICY_RE
from streams.segment.html import F_CAPTION, F_COMMENT, F_H1, F_HEADING, F_NAV

if TYPE_CHECKING:
    from streams.segment.text import Line

FEATURES_VERSION = 3

KINDS = ("text", "boiler", "caption", "credit", "byline", "marker", "date", "agency", "link")
_KIND_IX = {k: i for i, k in enumerate(KINDS)}
_WORD = re.compile(r"\w+")
_END_PUNCT = re.compile(r"[.!?\"\u201d\u2019')\]:;]\s*$")
_MONTH = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\b"
    r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\b"
)
_TIME = re.compile(r"\b\d{1,2}[:.]\d\d\b|\b\d{1,2}\s?[ap]\.?m\b", re.I)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_AGO = re.compile(r"(?i)\b\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?)\s+ago\b")
_WROTE = re.compile(r"(?i)\b(?:wrote|writes|said|says)\s*:?\s*$|\bposted\b|\bsubmitted\b")
_BY = re.compile(r"(?i)^\s*(?:by|from|posted by|written by)\b")
_URLISH = re.compile(r"(?i)https?://|www\.|\.com\b|@")
_BULLET = re.compile(r"^\s*(?:[\u00bb\u2022\u00b7*>\-\u2013|]|\d+[.)]\s)")
_QUOTE = re.compile('["\u201c\u201d]')
_ALPHA_WORD = re.compile(r"(?<!\S)[^\W\d_]")
_CAP_WORD = re.compile(r"(?<!\S)[A-Z\u00c0-\u00de]")
_LETTER = re.compile(r"[^\W\d_]")
_UPPER = re.compile(r"[A-Z\u00c0-\u00de]")
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"[^\w\s]")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "by",
        "with",
        "from",
        "as",
        "that",
        "this",
        "it",
        "its",
        "his",
        "her",
        "their",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "after",
        "over",
        "into",
        "new",
        "says",
        "said",
        "will",
        "has",
        "have",
        "had",
        "not",
        "no",
        "up",
    ]
)

BASE_NAMES = (
    "words",
    "good",
    "link_ratio",
    "end_punct",
    "cap_ratio",
    "kind_neg",
    "kind_supp",
    "meta_head",
    "single",
    "f_comment",
    "exists",
)
_NEIGH = (-2, -1, 1, 2)

FEATURE_NAMES: tuple[str, ...] = (
    "is_html",
    "words",
    "log_chars",
    "rel_pos",
    "pos",
    "pos_from_end",
    "log_lines",
    "single",
    "block_first",
    "block_len",
    "pos_in_block",
    "end_punct",
    "end_period",
    "end_colon",
    "end_pipe",
    "bullet",
    "starts_digit",
    "cap_ratio",
    "upper_ratio",
    "digit_ratio",
    "punct_ratio",
    "comma_rate",
    "avg_word_len",
    "quote",
    "link_ratio",
    "f_nav",
    "f_comment",
    "f_caption",
    "f_h1",
    "f_heading",
    *(f"kind_{k}" for k in KINDS),
    "good",
    "month",
    "time",
    "year",
    "ago",
    "wrote",
    "by",
    "urlish",
    "meta_action",
    "meta_policy",
    "meta_head",
    "markers_before",
    "since_marker",
    "in_region",
    "dist_start",
    "dist_end",
    "region_rel",
    "region_words",
    "is_rule_head",
    "dist_rule_head",
    "hint_sim",
    "in_hint",
    "has_hint",
    "lead_sim",
    "words_before_rel",
    "win_words",
    "win_good",
    "block_words",
    "block_link",
    "comment_flag_lines",
    *(f"n{o:+d}_{b}" for o in _NEIGH for b in BASE_NAMES),
)
N_FEATURES = len(FEATURE_NAMES)
_IX_WIN = FEATURE_NAMES.index("win_words")
_IX_WGOOD = FEATURE_NAMES.index("win_good")


def _char_table() -> np.ndarray:
    """Class bits per BMP code point: 1 letter, 2 upper, 4 digit, 8 punct, 16 space (as the
    features always counted them: code points from U+3000 count as letters), 32 a regex word
    character (``\\w``: ``isalnum()`` or ``_``, for the word counts), 64 a decimal digit
    (``\\d``)."""
    t = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        c = chr(cp)
        if c.isalnum() or c == "_":
            t[cp] |= 32
        if c.isdecimal():
            t[cp] |= 64
        if cp >= 0x3000:
            t[cp] |= 1
        elif c.isalpha():
            t[cp] |= 1
            if c.isupper():
                t[cp] |= 2
        elif c.isdigit():
            t[cp] |= 4
        elif c.isspace():
            t[cp] |= 16
        elif not c.isalnum() and c != "_":
            t[cp] |= 8
    return t


_CHAR_CLASS = _char_table()
# Small character sets (bits): 1 end punctuation, 2 bullet, 4 pipe-like end, 8 double quote,
# 16 menu separator, 32 first letter of by/from/posted/written, 64 slash, 128 closing paren.
_S_END, _S_BULLET, _S_PIPE, _S_QUOTE, _S_NAV, _S_BY = 1, 2, 4, 8, 16, 32
_S_SLASH, _S_RPAREN = 64, 128
_CHAR_SETS = np.zeros(0x10000, dtype=np.uint8)
for _bit, _chars in (
    (_S_END, ".!?\"\u201d\u2019')]:;"),
    (_S_BULLET, "\u00bb\u2022\u00b7*>-\u2013|"),
    (_S_PIPE, "|\u00bb>"),
    (_S_QUOTE, '"\u201c\u201d'),
    (_S_NAV, "|\u2022\u00b7\u00bb>"),
    (_S_BY, "bBfFpPwW"),
    (_S_SLASH, "/"),
    (_S_RPAREN, ")"),
):
    for _c in _chars:
        _CHAR_SETS[ord(_c)] |= _bit


class PageText:
    """A page's non-blank lines joined by newlines, for page-at-once (vectorized) line tests.

    The costly per-line regex tests run only on the lines that can match: :meth:`with_keys`
    finds the lines containing one of a pattern's necessary substrings (``str.find`` over the
    whole page), :meth:`confirm` runs the pattern on those lines. Character statistics come from
    a code-point class table over the joined page.
    """

    __slots__ = (
        "_kinds",
        "_static",
        "_stats",
        "_words",
        "cls",
        "cp",
        "joined",
        "lens",
        "low",
        "low_starts",
        "n",
        "sets",
        "starts",
        "texts",
    )

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.n = n = len(texts)
        self.joined = joined = "\n".join(texts)
        self.cp = cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        self.cls = np.where(cp < 0x10000, _CHAR_CLASS[np.minimum(cp, 0xFFFF)], 1).astype(np.uint8)
        self.sets = _CHAR_SETS[np.minimum(cp, 0xFFFF)]
        self.lens = lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        self.starts = starts = np.zeros(n, dtype=np.int64)
        if n > 1:
            starts[1:] = np.cumsum(lens[:-1] + 1)
        low = joined.lower()
        self.low_starts = starts
        if len(low) != len(joined) or joined.count("\n") >= n:
            lows = [t.lower().replace("\n", " ") for t in texts]
            low = "\n".join(lows)
            self.low_starts = np.zeros(n, dtype=np.int64)
            if n > 1:
                self.low_starts[1:] = np.cumsum(
                    np.fromiter((len(t) + 1 for t in lows[:-1]), dtype=np.int64, count=n - 1)
                )
        self.low = low
        self._words: np.ndarray | None = None
        self._stats: tuple[np.ndarray, ...] | None = None
        self._static: tuple[np.ndarray, ...] | None = None
        self._kinds: tuple[np.ndarray, np.ndarray] | None = None

    def line_arrays(self, lines: list[Line]) -> tuple[np.ndarray, ...]:
        """The lines' fixed attributes as arrays (computed once): HTML flags, link ratio,
        single-line block, block start."""
        if self._static is None:
            n = len(lines)
            self._static = (
                np.fromiter((ln.flags for ln in lines), dtype=np.int64, count=n),
                np.fromiter((ln.link_ratio for ln in lines), dtype=np.float64, count=n),
                np.fromiter((ln.single for ln in lines), dtype=bool, count=n),
                np.fromiter((ln.block_first for ln in lines), dtype=bool, count=n),
            )
        return self._static

    def kind_arrays(self, lines: list[Line]) -> tuple[np.ndarray, np.ndarray]:
        """The lines' rule kinds (index into :data:`KINDS`) and "good" flags, computed once,
        after the rules have labelled the lines."""
        if self._kinds is None:
            n = len(lines)
            self._kinds = (
                np.fromiter((_KIND_IX.get(ln.kind, 0) for ln in lines), dtype=np.int64, count=n),
                np.fromiter((ln.good for ln in lines), dtype=bool, count=n),
            )
        return self._kinds

    def with_keys(self, keys: tuple[str, ...], lower: bool = True) -> np.ndarray:
        """Per line: does it contain one of ``keys`` (lower-cased keys against the lower-cased
        page with ``lower``; as written otherwise)."""
        text = self.low if lower else self.joined
        pos: list[int] = []
        for key in keys:
            i = text.find(key)
            while i >= 0:
                pos.append(i)
                i = text.find(key, i + 1)
        out = np.zeros(self.n, dtype=bool)
        if pos:
            starts = self.low_starts if lower else self.starts
            out[np.searchsorted(starts, np.asarray(pos, dtype=np.int64), side="right") - 1] = True
        return out

    def line_starts(self, rx: re.Pattern[str]) -> np.ndarray:
        """Per line: does ``rx`` (a lower-case, ``re.M`` pattern anchored by ``^``) match the
        lower-cased page at the line's start (a necessary condition of a ``match`` of the
        case-insensitive pattern on the line)."""
        out = np.zeros(self.n, dtype=bool)
        pos = [m.start() for m in rx.finditer(self.low)]
        if pos:
            out[
                np.searchsorted(self.low_starts, np.asarray(pos, dtype=np.int64), side="right") - 1
            ] = True
        return out

    def confirm(self, mask: np.ndarray, test: Callable[[str], object]) -> np.ndarray:
        """``mask`` narrowed to the lines where ``test(line)`` is true."""
        out = np.zeros(self.n, dtype=bool)
        texts = self.texts
        for k in np.flatnonzero(mask).tolist():
            if test(texts[k]):
                out[k] = True
        return out

    def has_digit(self) -> np.ndarray:
        """Per line: does it contain a decimal digit (``\\d``; astral digits aside)."""
        return self.per_line((self.cls & 64) > 0) > 0

    def first_last(self) -> tuple[np.ndarray, np.ndarray]:
        """Per line: the positions (in the joined page) of its first and last characters."""
        starts, lens = self.starts, self.lens
        top = max(0, len(self.cp) - 1)
        return np.minimum(starts, top), np.minimum(starts + np.maximum(lens, 1) - 1, top)

    def per_line(self, mask: np.ndarray) -> np.ndarray:
        """Per line: how many characters satisfy ``mask`` (a boolean array over the joined text)."""
        if len(mask) == 0 or self.n == 0:
            return np.zeros(self.n)
        idx = np.minimum(self.starts, len(mask) - 1)
        out: np.ndarray = np.add.reduceat(mask.astype(np.int32), idx).astype(np.float64)
        out[self.lens == 0] = 0.0
        return out

    def words(self) -> np.ndarray:
        """Per line: the number of ``\\w+`` runs (``len(re.findall(r"\\w+", line))``)."""
        if self._words is None:
            if len(self.cp) and int(self.cp.max()) > 0xFFFF:  # astral characters: ask the regex
                self._words = np.asarray(
                    [len(_WORD.findall(t)) for t in self.texts], dtype=np.int64
                )
            else:
                w = (self.cls & 32) > 0
                start = w.copy()
                start[1:] &= ~w[:-1]
                self._words = self.per_line(start).astype(np.int64)
        return self._words

    def char_stats(self) -> tuple[np.ndarray, ...]:
        """Per line: capitalized-word ratio, upper-case letter ratio, digit ratio, punctuation
        ratio, mean word length (whitespace-separated words)."""
        if self._stats is None:
            cls, cp, lens = self.cls, self.cp, self.lens
            letter = (cls & 1) > 0
            upper = (cls & 2) > 0
            space = (cls & 16) > 0
            prev_space = np.ones(len(cls), dtype=bool)
            prev_space[1:] = space[:-1]
            word_start = prev_space & ~space
            n_letter = self.per_line(letter)
            n_upper = self.per_line(upper)
            n_digit = self.per_line((cls & 4) > 0)
            n_punct = self.per_line((cls & 8) > 0)
            n_space = self.per_line(space & (cp != 10))
            n_words = self.per_line(word_start)
            n_alpha_w = self.per_line(word_start & letter)
            n_cap_w = self.per_line(word_start & upper)
            ln = np.maximum(lens, 1).astype(np.float64)
            self._stats = (
                np.where(n_alpha_w > 0, n_cap_w / np.maximum(n_alpha_w, 1), 0.0),
                n_upper / np.maximum(n_letter, 1),
                n_digit / ln,
                n_punct / ln,
                (lens - n_space) / np.maximum(n_words, 1),
            )
        return self._stats


def char_stats(texts: list[str]) -> tuple[np.ndarray, ...]:
    """Per line (vectorized over the page): capitalized-word ratio, upper-case letter ratio,
    digit ratio, punctuation ratio, mean word length. Characters above U+2FFF count as letters."""
    return PageText(texts).char_stats()


def content_words(s: str) -> set[str]:
    return {w[:6] for w in _WORD.findall(s.casefold()) if w not in _STOP and not w.isdigit()}


def _word_overlap(page: PageText, words: np.ndarray, *targets: set[str]) -> tuple[np.ndarray, ...]:
    """Per line of at most 40 words and per target word set: the share of the line's content
    words (:func:`content_words`) in the target (0 for lines without content words).

    The short lines are tokenized at once (case-folded); each takes its slice of the tokens."""
    n = page.n
    outs = tuple(np.zeros(n) for _ in targets)
    live = [(outs[i], t) for i, t in enumerate(targets) if t]
    short = (words <= 40) & (words > 0)
    if not live or not short.any():
        return outs
    idx = np.flatnonzero(short).tolist()
    texts = page.texts
    # Only the short lines are tokenized (long body lines hold most of a page's words).
    toks = _WORD.findall("\n".join([texts[k] for k in idx]).casefold())
    sw = words[idx].astype(np.int64)
    ends_l = np.cumsum(sw).tolist()
    starts_l = [0, *ends_l[:-1]]
    if len(toks) != ends_l[-1]:  # case folding changed the word boundaries: tokenize per line
        toks, starts_l, ends_l = [], [], []
        for k in idx:
            starts_l.append(len(toks))
            toks.extend(_WORD.findall(texts[k].casefold()))
            ends_l.append(len(toks))
    stop = _STOP
    keys = [None if w in stop or w.isdigit() else w[:6] for w in toks]
    # Only lines with a token in a target can score above 0: find them by one pass over the
    # tokens per target, then build the distinct-key sets of those lines alone.
    counts = np.asarray(ends_l, dtype=np.int64) - np.asarray(starts_l, dtype=np.int64)
    line_of: list[int] = np.repeat(np.arange(len(idx)), counts).tolist()
    sets: dict[int, set[str | None]] = {}
    for out, target in live:
        for j in {line_of[t] for t, key in enumerate(keys) if key in target}:
            cw = sets.get(j)
            if cw is None:
                cw = set(keys[starts_l[j] : ends_l[j]])
                cw.discard(None)
                sets[j] = cw
            out[idx[j]] = len(cw & target) / len(cw)
    return outs


def _sim(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a)


_MONTH_KEYS: tuple[str, ...] = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug")
_MONTH_KEYS += ("Sep", "Oct", "Nov", "Dec", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WROTE_KEYS = ("wrote", "writes", "said", "says", "posted", "submitted")
_URL_KEYS = ("http", "www.", ".com", "@")
_NEG_KINDS = np.asarray([k in ("boiler", "link", "marker") for k in KINDS])
_SUPP_KINDS = np.asarray([k in ("caption", "credit", "byline", "date", "agency") for k in KINDS])
_IX = {name: i for i, name in enumerate(FEATURE_NAMES)}


def ends_punct(page: PageText) -> np.ndarray:
    """Per line: ``_END_PUNCT.search`` (ends with sentence punctuation, trailing spaces aside)."""
    if page.n == 0 or len(page.cp) == 0:
        return np.zeros(page.n, dtype=bool)
    _, last = page.first_last()
    out: np.ndarray = (page.sets[last] & _S_END) > 0
    trailing = (page.cls[last] & 16) > 0
    if trailing.any():
        out |= page.confirm(trailing, _END_PUNCT.search)
    return out


def featurize(
    lines: list[Line],
    region: tuple[int, int] | None,
    rule_head: int | None,
    title_hint: str | None,
    is_html: bool,
    meta_head: list[bool] | None = None,
    page: PageText | None = None,
) -> np.ndarray:
    """The feature matrix (``len(lines) x N_FEATURES``, float32) of one page.

    Computed column by column over the whole page (numpy, and one regex scan of the joined
    page per pattern); ``page`` is the :class:`PageText` of the lines' texts when the caller
    already has it.
    """
    n = len(lines)
    out = np.zeros((n, N_FEATURES), dtype=np.float32)
    if n == 0:
        return out
    texts = [ln.text for ln in lines]
    if page is None or page.n != n:
        page = PageText(texts)
        page._words = np.fromiter((ln.words for ln in lines), dtype=np.int64, count=n)
    hint = " ".join(title_hint.casefold().split()) if title_hint else ""
    hint_words = content_words(hint) if hint else set()
    a, b = region if region is not None else (-1, -1)
    words = page.words().astype(np.float64)
    flags, link, single, bfirst = page.line_arrays(lines)
    kind, good = page.kind_arrays(lines)
    lead_words: set[str] = set()
    region_words = 0.0
    if region is not None:
        for k in range(a, b + 1):
            if lines[k].good:
                lead_words = content_words(lines[k].text)
                break
        region_words = float(words[a : b + 1][kind[a : b + 1] == _KIND_IX["text"]].sum())
    total_words = float(words.sum()) or 1.0
    k_ix = np.arange(n)
    # Blocks (runs of lines between blank lines).
    bfirst0 = bfirst.copy()
    bfirst0[0] = True
    block_id = np.cumsum(bfirst0) - 1
    block_start = np.flatnonzero(bfirst0)
    b_len = np.bincount(block_id)
    b_words = np.bincount(block_id, weights=words)
    b_link = np.bincount(block_id, weights=link * words)
    f_comment = (flags & F_COMMENT) > 0
    b_comment = np.bincount(block_id, weights=f_comment.astype(np.float64))
    pos_in_block = k_ix - block_start[block_id]
    cs_cap, cs_upper, cs_digit, cs_punct, cs_wlen = page.char_stats()
    cp, lens = page.cp, page.lens
    first, last = page.first_last()
    ends = ends_punct(page)
    short = words <= 25
    digit = page.has_digit()
    first_cls, first_set = page.cls[first], page.sets[first]
    last_cp, last_set = cp[last], page.sets[last]
    if len(cp) == 0:  # no characters at all (cannot happen for non-blank lines)
        first_cls = first_set = last_set = np.zeros(n, dtype=np.uint8)
        last_cp = np.zeros(n, dtype=np.uint32)
    meta = np.asarray(meta_head, dtype=bool) if meta_head is not None else np.zeros(n, dtype=bool)
    marker = kind == _KIND_IX["marker"]
    markers_before = np.cumsum(marker)
    last_marker = np.maximum.accumulate(np.where(marker, k_ix, -1))
    words_before = np.cumsum(words) - words
    # Similarity to the title hint and to the lead (short lines only).
    hint_sim, lead_sim = _word_overlap(page, words, hint_words, lead_words)
    in_hint = np.zeros(n)
    if hint:
        cand = (words <= 40) & (words >= 2)
        for k in np.flatnonzero(cand).tolist():
            t = " ".join(texts[k].casefold().split())
            in_hint[k] = 1.0 if t == hint else 0.5 if t in hint else 0.0
    ix = _IX
    col = out.T  # a view: col[j] is feature j over all lines
    col[ix["is_html"]] = float(is_html)
    col[ix["words"]] = np.minimum(words, 300)
    col[ix["log_chars"]] = np.log1p(lens)
    col[ix["rel_pos"]] = k_ix / n
    col[ix["pos"]] = np.minimum(k_ix, 400)
    col[ix["pos_from_end"]] = np.minimum(n - 1 - k_ix, 400)
    col[ix["log_lines"]] = math.log1p(n)
    col[ix["single"]] = single
    col[ix["block_first"]] = bfirst
    col[ix["block_len"]] = np.minimum(b_len[block_id], 50)
    col[ix["pos_in_block"]] = np.minimum(pos_in_block, 50)
    col[ix["end_punct"]] = ends
    col[ix["end_period"]] = last_cp == ord(".")
    col[ix["end_colon"]] = last_cp == ord(":")
    col[ix["end_pipe"]] = (last_set & _S_PIPE) > 0
    bullet_c = ((first_set & _S_BULLET) > 0) | ((first_cls & (16 | 64)) > 0)
    col[ix["bullet"]] = page.confirm(bullet_c, _BULLET.match)
    col[ix["starts_digit"]] = (first_cls & 4) > 0
    col[ix["cap_ratio"]] = cs_cap
    col[ix["upper_ratio"]] = cs_upper
    col[ix["digit_ratio"]] = cs_digit
    col[ix["punct_ratio"]] = cs_punct
    col[ix["comma_rate"]] = page.per_line(cp == ord(",")) / np.maximum(1, words)
    col[ix["avg_word_len"]] = cs_wlen
    col[ix["quote"]] = page.per_line((page.sets & _S_QUOTE) > 0) > 0
    col[ix["link_ratio"]] = link
    col[ix["f_nav"]] = (flags & F_NAV) > 0
    col[ix["f_comment"]] = f_comment
    col[ix["f_caption"]] = (flags & F_CAPTION) > 0
    col[ix["f_h1"]] = (flags & F_H1) > 0
    col[ix["f_heading"]] = (flags & F_HEADING) > 0
    k0 = ix["kind_text"]
    out[k_ix, k0 + kind] = 1.0
    col[ix["good"]] = good
    col[ix["month"]] = page.confirm(short & page.with_keys(_MONTH_KEYS, False), _MONTH.search)
    col[ix["time"]] = page.confirm(short & digit, _TIME.search)
    col[ix["year"]] = page.confirm(short & digit, _YEAR.search)
    col[ix["ago"]] = page.confirm(short & page.with_keys(("ago",)), _AGO.search)
    col[ix["wrote"]] = page.confirm((words <= 12) & page.with_keys(_WROTE_KEYS), _WROTE.search)
    by_c = ((first_set & _S_BY) > 0) | ((first_cls & 16) > 0)
    col[ix["by"]] = page.confirm(by_c, _BY.match)
    col[ix["urlish"]] = page.confirm(page.with_keys(_URL_KEYS), _URLISH.search)
    col[ix["meta_action"]] = page.confirm(words <= 6, _ACTION_RE.match)
    col[ix["meta_policy"]] = page.confirm(
        (words >= 6) & page.with_keys(("omment",), False), POLICY_RE.search
    )
    col[ix["meta_head"]] = meta
    col[ix["markers_before"]] = np.minimum(markers_before, 3)
    col[ix["since_marker"]] = np.where(last_marker >= 0, np.minimum(k_ix - last_marker, 200), -1.0)
    if a >= 0:
        col[ix["in_region"]] = (k_ix >= a) & (k_ix <= b)
        col[ix["dist_start"]] = np.clip(k_ix - a, -60, 60)
        col[ix["dist_end"]] = np.clip(k_ix - b, -60, 60)
        col[ix["region_rel"]] = (k_ix - a) / max(1, b - a)
    else:
        col[ix["dist_start"]] = -99.0
        col[ix["dist_end"]] = -99.0
        col[ix["region_rel"]] = -1.0
    col[ix["region_words"]] = region_words / total_words
    if rule_head is not None:
        col[ix["is_rule_head"]] = k_ix == rule_head
        col[ix["dist_rule_head"]] = np.clip(k_ix - rule_head, -60, 60)
    else:
        col[ix["dist_rule_head"]] = -99.0
    col[ix["hint_sim"]] = hint_sim
    col[ix["in_hint"]] = in_hint
    col[ix["has_hint"]] = 1.0 if hint else 0.0
    col[ix["lead_sim"]] = lead_sim
    col[ix["words_before_rel"]] = words_before / total_words
    kern = np.asarray([1, 1, 1, 0, 1, 1, 1], dtype=np.float64)
    w300 = np.minimum(words, 300)
    col[ix["win_words"]] = np.minimum(np.convolve(np.pad(w300, 3), kern, mode="valid"), 600)
    col[ix["win_good"]] = np.convolve(np.pad(good.astype(np.float64), 3), kern, mode="valid")
    col[ix["block_words"]] = np.minimum(b_words[block_id], 2000)
    col[ix["block_link"]] = b_link[block_id] / np.maximum(1, b_words[block_id])
    col[ix["comment_flag_lines"]] = b_comment[block_id] / b_len[block_id]
    # The small per-line vector of the two lines before and after (zero-padded).
    base = np.zeros((n + 4, len(BASE_NAMES)), dtype=np.float32)
    bt = base[2 : 2 + n].T
    bt[0] = w300
    bt[1] = good
    bt[2] = link
    bt[3] = ends
    bt[4] = cs_cap
    bt[5] = _NEG_KINDS[kind]
    bt[6] = _SUPP_KINDS[kind]
    bt[7] = meta
    bt[8] = single
    bt[9] = f_comment
    bt[10] = 1.0
    c = N_FEATURES - len(_NEIGH) * len(BASE_NAMES)
    for o in _NEIGH:
        out[:, c : c + len(BASE_NAMES)] = base[2 + o : 2 + o + n]
        c += len(BASE_NAMES)
    return out
