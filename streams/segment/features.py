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
from typing import TYPE_CHECKING

import numpy as np

from streams.segment.comments import _ACTION_RE, POLICY_RE
from streams.segment.html import F_CAPTION, F_COMMENT, F_H1, F_HEADING, F_NAV

if TYPE_CHECKING:
    from streams.segment.text import Line

FEATURES_VERSION = 2

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
    """Class bits per code point below 0x3000: 1 letter, 2 upper, 4 digit, 8 punct, 16 space."""
    t = np.zeros(0x3000, dtype=np.uint8)
    for cp in range(0x3000):
        c = chr(cp)
        if c.isalpha():
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


def char_stats(texts: list[str]) -> tuple[np.ndarray, ...]:
    """Per line (vectorized over the page): capitalized-word ratio, upper-case letter ratio,
    digit ratio, punctuation ratio, mean word length. Characters above U+2FFF count as letters."""
    n = len(texts)
    joined = "\n".join(texts)
    cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    cls = np.where(cp < 0x3000, _CHAR_CLASS[np.minimum(cp, 0x2FFF)], 1).astype(np.uint8)
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    starts = np.zeros(n, dtype=np.int64)
    if n > 1:
        starts[1:] = np.cumsum(lens[:-1] + 1)
    letter = (cls & 1) > 0
    space = (cls & 16) > 0
    prev_space = np.ones(len(cls), dtype=bool)
    prev_space[1:] = space[:-1]
    word_start = prev_space & ~space
    # reduceat needs non-empty segments: lines are never empty here, guard anyway
    idx = np.minimum(starts, max(0, len(cls) - 1))

    def per_line(mask: np.ndarray) -> np.ndarray:
        if len(mask) == 0:
            return np.zeros(n)
        return np.add.reduceat(mask.astype(np.int32), idx).astype(np.float64)

    n_letter = per_line(letter)
    n_upper = per_line((cls & 2) > 0)
    n_digit = per_line((cls & 4) > 0)
    n_punct = per_line((cls & 8) > 0)
    n_space = per_line(space & (cp != 10))
    n_words = per_line(word_start)
    n_alpha_w = per_line(word_start & letter)
    n_cap_w = per_line(word_start & ((cls & 2) > 0))
    ln = np.maximum(lens, 1).astype(np.float64)
    return (
        np.where(n_alpha_w > 0, n_cap_w / np.maximum(n_alpha_w, 1), 0.0),
        n_upper / np.maximum(n_letter, 1),
        n_digit / ln,
        n_punct / ln,
        (lens - n_space) / np.maximum(n_words, 1),
    )


def content_words(s: str) -> set[str]:
    return {w[:6] for w in _WORD.findall(s.casefold()) if w not in _STOP and not w.isdigit()}


def _sim(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a)


def featurize(
    lines: list[Line],
    region: tuple[int, int] | None,
    rule_head: int | None,
    title_hint: str | None,
    is_html: bool,
    meta_head: list[bool] | None = None,
) -> np.ndarray:
    """The feature matrix (``len(lines) x N_FEATURES``, float32) of one page."""
    n = len(lines)
    out = np.zeros((n, N_FEATURES), dtype=np.float32)
    if n == 0:
        return out
    hint = " ".join(title_hint.casefold().split()) if title_hint else ""
    hint_words = content_words(hint) if hint else set()
    a, b = region if region is not None else (-1, -1)
    lead_words: set[str] = set()
    region_words = 0
    if region is not None:
        for k in range(a, b + 1):
            if lines[k].good:
                lead_words = content_words(lines[k].text)
                break
        region_words = sum(lines[k].words for k in range(a, b + 1) if lines[k].kind == "text")
    total_words = sum(ln.words for ln in lines) or 1
    # Blocks (runs of lines between blank lines).
    block_id = [0] * n
    bid = -1
    for k, ln in enumerate(lines):
        if ln.block_first or k == 0:
            bid += 1
        block_id[k] = bid
    nb = bid + 1
    b_len = [0] * nb
    b_words = [0] * nb
    b_link = [0.0] * nb
    b_comment = [0] * nb
    for k, ln in enumerate(lines):
        j = block_id[k]
        b_len[j] += 1
        b_words[j] += ln.words
        b_link[j] += ln.link_ratio * ln.words
        if ln.flags & F_COMMENT:
            b_comment[j] += 1
    cs_cap, cs_upper, cs_digit, cs_punct, cs_wlen = char_stats([ln.text for ln in lines])
    base = np.zeros((n + 4, len(BASE_NAMES)), dtype=np.float32)  # padded by 2 on each side
    rows: list[list[float]] = []
    markers = 0
    last_marker = -1
    words_before = 0
    pos_in_block = 0
    for k, ln in enumerate(lines):
        s = ln.text
        nchar = len(s)
        pos_in_block = 0 if (ln.block_first or k == 0) else pos_in_block + 1
        cap = float(cs_cap[k])
        ends = 1.0 if _END_PUNCT.search(s) else 0.0
        kind_ix = _KIND_IX.get(ln.kind, 0)
        short = ln.words <= 25
        month = 1.0 if short and _MONTH.search(s) else 0.0
        tm = 1.0 if short and _TIME.search(s) else 0.0
        mh = 1.0 if meta_head is not None and meta_head[k] else 0.0
        action = 1.0 if ln.words <= 6 and _ACTION_RE.match(s) else 0.0
        policy = 1.0 if ln.words >= 6 and "omment" in s and POLICY_RE.search(s) else 0.0
        if ln.kind == "marker":
            markers += 1
            last_marker = k
        f = ln.flags
        j = block_id[k]
        cw = content_words(s) if (hint_words or lead_words) and ln.words <= 40 else set()
        in_hint = 0.0
        if hint and 2 <= ln.words <= 40:
            t = " ".join(s.casefold().split())
            in_hint = 1.0 if t == hint else 0.5 if t in hint else 0.0
        row = [
            float(is_html),
            min(ln.words, 300),
            math.log1p(nchar),
            k / n,
            min(k, 400),
            min(n - 1 - k, 400),
            math.log1p(n),
            float(ln.single),
            float(ln.block_first),
            min(b_len[j], 50),
            min(pos_in_block, 50),
            ends,
            1.0 if s.endswith(".") else 0.0,
            1.0 if s.endswith(":") else 0.0,
            1.0 if s.endswith(("|", "\u00bb", ">")) else 0.0,
            1.0 if _BULLET.match(s) else 0.0,
            1.0 if s[:1].isdigit() else 0.0,
            cap,
            float(cs_upper[k]),
            float(cs_digit[k]),
            float(cs_punct[k]),
            s.count(",") / max(1, ln.words),
            float(cs_wlen[k]),
            1.0 if _QUOTE.search(s) else 0.0,
            ln.link_ratio,
            1.0 if f & F_NAV else 0.0,
            1.0 if f & F_COMMENT else 0.0,
            1.0 if f & F_CAPTION else 0.0,
            1.0 if f & F_H1 else 0.0,
            1.0 if f & F_HEADING else 0.0,
            *(1.0 if i == kind_ix else 0.0 for i in range(len(KINDS))),
            float(ln.good),
            month,
            tm,
            1.0 if short and _YEAR.search(s) else 0.0,
            1.0 if short and _AGO.search(s) else 0.0,
            1.0 if ln.words <= 12 and _WROTE.search(s) else 0.0,
            1.0 if _BY.match(s) else 0.0,
            1.0 if _URLISH.search(s) else 0.0,
            action,
            policy,
            mh,
            min(markers, 3),
            min(k - last_marker, 200) if last_marker >= 0 else -1.0,
            1.0 if a <= k <= b else 0.0,
            max(-60, min(60, k - a)) if a >= 0 else -99.0,
            max(-60, min(60, k - b)) if a >= 0 else -99.0,
            (k - a) / max(1, b - a) if a >= 0 else -1.0,
            region_words / total_words,
            1.0 if rule_head == k else 0.0,
            max(-60, min(60, k - rule_head)) if rule_head is not None else -99.0,
            _sim(cw, hint_words) if cw else 0.0,
            in_hint,
            1.0 if hint else 0.0,
            _sim(cw, lead_words) if cw else 0.0,
            words_before / total_words,
            0.0,  # win_words (filled below)
            0.0,  # win_good
            min(b_words[j], 2000),
            b_link[j] / max(1, b_words[j]),
            b_comment[j] / b_len[j],
        ]
        rows.append(row)
        base[k + 2] = (
            min(ln.words, 300),
            float(ln.good),
            ln.link_ratio,
            ends,
            cap,
            1.0 if ln.kind in ("boiler", "link", "marker") else 0.0,
            1.0 if ln.kind in ("caption", "credit", "byline", "date", "agency") else 0.0,
            mh,
            float(ln.single),
            1.0 if f & F_COMMENT else 0.0,
            1.0,
        )
        words_before += ln.words
    nf = N_FEATURES - len(_NEIGH) * len(BASE_NAMES)
    out[:, :nf] = np.asarray(rows, dtype=np.float32)
    kern = np.asarray([1, 1, 1, 0, 1, 1, 1], dtype=np.float32)
    wcol = base[2 : 2 + n, 0]
    gcol = base[2 : 2 + n, 1]
    out[:, _IX_WIN] = np.minimum(np.convolve(np.pad(wcol, 3), kern, mode="valid"), 600)
    out[:, _IX_WGOOD] = np.convolve(np.pad(gcol, 3), kern, mode="valid")
    col = nf
    for o in _NEIGH:
        out[:, col : col + len(BASE_NAMES)] = base[2 + o : 2 + o + n]
        col += len(BASE_NAMES)
    return out
