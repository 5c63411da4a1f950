"""Second-stage headline choice: a small ranker over the candidate lines above the body.

The line classifier scores every line on its own; the headline is one line of the page, so
this stage compares the candidates with each other: every line the rules allow (not a
caption, credit, byline, dateline, agency tag, comment marker or boilerplate) from 60 lines
before the body start to the line after it, plus the rule headline. Each candidate gets a
feature row (:data:`RANK_FEATURES`): the line model's probabilities and their rank among the
candidates, distance to the body, length, case, end punctuation, HTML heading / link evidence,
the rule headline, word overlap with the page's title hints (``og:title``, ``<title>`` whole
and its longest part, the first ``h1``) and with the lead paragraph, how often the line repeats
on the page. A gradient-boosted tree ensemble (binary: "is the headline", trained by
``python -m streams.segment.headline_train`` with nested cross-validation) scores the rows and
the best one wins. Without a ranker file the line model's best line is used (the previous
behaviour).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from streams.segment.dateline import is_date_line
from streams.segment.features import FEATURE_NAMES, KINDS, content_words
from streams.segment.model import C_BODY, C_COMMENT, C_HEAD, C_OTHER, TreeModel

if TYPE_CHECKING:
    from streams.segment.text import Analysis

RANK_VERSION = 2
RANKER_PATH = Path(__file__).with_name("models") / "headline_ranker.json"
RANK_CLASSES = ("headline",)
WINDOW = 60  # lines before the body start searched (as the line model's choice did)
TOP = 8  # candidates by the line model's headline probability
NEAR = 3  # candidates nearest to the body start
HEAD_MIN = 0.15  # below this line-model probability everywhere, the rule headline is used
NOT_HEAD = frozenset(["caption", "credit", "byline", "date", "agency", "marker", "boiler"])
HEAD_NOISE = re.compile(
    r"(?i)\b(?:writer|correspondent|reporter|staff|editor|news service|contributor|columnist|ago|"
    r"e-?mail|print|tell a friend|send|single page|recipient|reprints?|most[- ]read|subscribe|"
    r"click|comments?|posted|updated|photo|photograph|view|enlarge|caption|share|video|audio)\b"
    r"|^(?:by|from)\b|https?://|www\.|\[\w+\]$|@"
)
# Necessary substrings of HEAD_NOISE (lower case; "by" / "from" only at the start).
_NOISE_KEYS = (
    "writer",
    "correspondent",
    "reporter",
    "staff",
    "editor",
    "news service",
    "contributor",
    "columnist",
    "ago",
    "mail",
    "print",
    "tell a friend",
    "send",
    "single page",
    "recipient",
    "most",
    "subscribe",
    "click",
    "comment",
    "posted",
    "updated",
    "photo",
    "view",
    "enlarge",
    "caption",
    "share",
    "video",
    "audio",
    "http",
    "www.",
    "]",
    "@",
)


def is_noise(text: str) -> bool:
    """``HEAD_NOISE.search(text)``, behind a substring prefilter (the regex is slow)."""
    low = text.lower()
    if not low.startswith(("by", "from")):
        for k in _NOISE_KEYS:
            if k in low:
                break
        else:
            return False
    return HEAD_NOISE.search(text) is not None


_LINK = KINDS.index("link")
_ANY_DIGIT = re.compile(r"\d")
_FX_LEAD = FEATURE_NAMES.index("lead_sim")
_FX_HINT = FEATURE_NAMES.index("hint_sim")
_FX_IN_HINT = FEATURE_NAMES.index("in_hint")
_FX_HAS_HINT = FEATURE_NAMES.index("has_hint")
_FX_H1 = FEATURE_NAMES.index("f_h1")
_FX_WORDS = FEATURE_NAMES.index("words")
_FX_CAP = FEATURE_NAMES.index("cap_ratio")
_SUPP_IX = np.asarray([k in ("byline", "date", "agency") for k in KINDS])
_CAPTION_IX = np.asarray([k in ("caption", "credit") for k in KINDS])

RANK_FEATURES: tuple[str, ...] = (
    "p_head",
    "p_head_rank",
    "p_head_gap",
    "p_head_max",
    "p_body",
    "p_comment",
    "p_other",
    "p_head_prev",
    "p_body_next",
    "dist",
    "dist_rank",
    "words",
    "log_chars",
    "end_period",
    "end_colon",
    "end_qmark",
    "has_digit",
    "cap_ratio",
    "upper_ratio",
    "is_html",
    "f_h1",
    "f_heading",
    "link_ratio",
    "f_nav",
    "kind_link",
    "single",
    "block_first",
    "is_rule_head",
    "has_rule_head",
    "dist_rule_head",
    "has_hint",
    "hint_cov",
    "hint_rec",
    "hint_equal",
    "in_hint",
    "hint_in",
    "title_cov",
    "title_rec",
    "h1_equal",
    "lead_cov",
    "lead_rec",
    "lead_cov_rule",
    "repeats",
    "noise",
    "date_line",
    "n_cands",
    "first_h1_cand",
    "next_supp",
    "prev_supp",
    "next_caption",
    "prev_caption",
    "ends_paren",
    "name_like",
    "p_head_next",
)
N_RANK_FEATURES = len(RANK_FEATURES)
_RX = {name: i for i, name in enumerate(RANK_FEATURES)}
# Ranker features that are line features (same name and value in features.FEATURE_NAMES).
_COPIED = (
    "is_html",
    "log_chars",
    "end_period",
    "end_colon",
    "cap_ratio",
    "upper_ratio",
    "f_h1",
    "f_heading",
    "link_ratio",
    "f_nav",
    "kind_link",
    "single",
    "block_first",
    "is_rule_head",
    "dist_rule_head",
)
_COPY_DST = np.asarray([_RX[f] for f in _COPIED])
_COPY_SRC = np.asarray([FEATURE_NAMES.index(f) for f in _COPIED])


def _norm(s: str) -> str:
    return " ".join(s.casefold().split())


def candidates(an: Analysis, p: np.ndarray, x: np.ndarray, a: int) -> list[int]:
    """Candidate line indices for a body starting at line ``a``, among the allowed lines from
    :data:`WINDOW` lines before it to the line after it: the :data:`TOP` most likely by the
    line model, the :data:`NEAR` nearest to the body, ``h1`` lines, lines found in the title
    hint, and the rule headline (about 8 lines instead of about 33: the gold headline was
    among them on all but 1 of 608 development documents where it was among all)."""
    lines = an.lines
    hi = min(len(lines), a + 2)
    allowed = [k for k in range(max(0, a - WINDOW), hi) if lines[k].kind not in NOT_HEAD]
    if len(allowed) <= TOP + NEAR:
        keep = set(allowed)
    else:
        al = np.asarray(allowed, dtype=np.int64)
        ph = p[al, C_HEAD]
        top = al[np.argsort(-ph, kind="stable")[:TOP]]
        extra = al[(x[al, _FX_H1] > 0) | (x[al, _FX_IN_HINT] > 0)]
        keep = {*top.tolist(), *extra.tolist(), *allowed[-NEAR:]}
    rh = an.rule_head
    if rh is not None and lines[rh].kind not in NOT_HEAD:
        keep.add(rh)
    return sorted(keep)


def _overlap(words: set[str], target: set[str]) -> tuple[float, float]:
    """Share of ``words`` in ``target`` and share of ``target`` in ``words``."""
    if not words or not target:
        return 0.0, 0.0
    common = len(words & target)
    return common / len(words), common / len(target)


def rank_features(
    an: Analysis, p: np.ndarray, x: np.ndarray, a: int, cands: list[int], lead: str | None
) -> np.ndarray:
    """The ranker's feature rows (``len(cands) x N_RANK_FEATURES``, float32), from the line
    model's probabilities ``p`` and features ``x`` (their title-hint overlaps are reused) and
    the first body line ``lead``."""
    lines = an.lines
    m = len(cands)
    out = np.zeros((m, N_RANK_FEATURES), dtype=np.float32)
    if m == 0:
        return out
    page = an.page
    ci = np.asarray(cands, dtype=np.int64)
    col = out.T
    rx = _RX
    ph = p[ci, C_HEAD]
    col[rx["p_head"]] = ph
    col[rx["p_head_rank"]] = np.argsort(np.argsort(-ph, kind="stable"), kind="stable")
    col[rx["p_head_gap"]] = ph - ph.max()
    col[rx["p_head_max"]] = ph.max()
    col[rx["p_body"]] = p[ci, C_BODY]
    col[rx["p_comment"]] = p[ci, C_COMMENT]
    col[rx["p_other"]] = p[ci, C_OTHER]
    col[rx["p_head_prev"]] = np.where(ci > 0, p[np.maximum(ci - 1, 0), C_HEAD], 0.0)
    nxt = np.minimum(ci + 1, len(lines) - 1)
    col[rx["p_body_next"]] = np.where(ci + 1 < len(lines), p[nxt, C_BODY], 0.0)
    dist = a - ci
    col[rx["dist"]] = np.clip(dist, -5, WINDOW + 40)
    col[rx["dist_rank"]] = np.argsort(np.argsort(np.abs(dist), kind="stable"), kind="stable")
    # Line features the line model already has (same values): one gather.
    out[:, _COPY_DST] = x[ci][:, _COPY_SRC]
    words = x[ci, _FX_WORDS]
    cap = x[ci, _FX_CAP]
    digit = np.asarray([_ANY_DIGIT.search(lines[k].text) is not None for k in cands])
    col[rx["words"]] = np.minimum(words, 100)
    col[rx["has_digit"]] = digit
    if an.rule_head is None:
        col[rx["dist_rule_head"]] = -99.0
    else:
        col[rx["has_rule_head"]] = 1.0
    col[rx["lead_cov_rule"]] = x[ci, _FX_LEAD]
    col[rx["hint_cov"]] = x[ci, _FX_HINT]
    col[rx["hint_equal"]] = x[ci, _FX_IN_HINT] == 1.0
    col[rx["in_hint"]] = x[ci, _FX_IN_HINT] > 0.0
    col[rx["has_hint"]] = x[0, _FX_HAS_HINT]
    h1f = out[:, rx["f_h1"]]
    if h1f.any():
        out[int(np.argmax(h1f > 0)), rx["first_h1_cand"]] = 1.0
    texts = [lines[k].text for k in cands]
    all_texts = page.texts if page is not None else [ln.text for ln in lines]
    lasts = [t[-1:] for t in texts]
    col[rx["end_qmark"]] = [c in ("?", "!") for c in lasts]
    col[rx["ends_paren"]] = [c == ")" for c in lasts]
    col[rx["repeats"]] = np.minimum(5, [all_texts.count(t) for t in texts])
    col[rx["noise"]] = [is_noise(t) for t in texts]
    col[rx["date_line"]] = [
        d and is_date_line(t) for d, t in zip(digit.tolist(), texts, strict=True)
    ]
    col[rx["name_like"]] = (
        (words <= 4) & (cap >= 1.0) & np.asarray([c not in (".", "?", "!", ":") for c in lasts])
    )
    hint = _norm(an.title_hint) if an.title_hint else ""
    hint_w = content_words(hint) if hint else set()
    title_w: set[str] = set()
    for t in an.titles:
        title_w |= content_words(t)
    h1 = _norm(an.h1) if an.h1 else ""
    lead_w = content_words(lead) if lead else set()
    if hint or title_w or h1 or lead_w:
        for j, k in enumerate(cands):
            row = out[j]
            t = _norm(lines[k].text)
            cw = content_words(t)
            if lead_w:
                row[rx["lead_cov"]], row[rx["lead_rec"]] = _overlap(cw, lead_w)
            if hint:
                row[rx["hint_rec"]] = _overlap(cw, hint_w)[1]
                row[rx["hint_in"]] = hint in t
            if title_w:
                row[rx["title_cov"]], row[rx["title_rec"]] = _overlap(cw, title_w)
            if h1:
                row[rx["h1_equal"]] = t == h1
    col[rx["n_cands"]] = min(m, 200)
    # The lines around: a headline is often followed by a byline / dateline, a caption by
    # its credit or preceded by the picture's.
    all_kind = page.kind_arrays(lines)[0] if page is not None else None
    if all_kind is not None:
        n = len(lines)
        supp = np.concatenate(
            [np.zeros(3, dtype=bool), _SUPP_IX[all_kind], np.zeros(3, dtype=bool)]
        )
        capk = np.concatenate([[False], _CAPTION_IX[all_kind], [False]])
        c3 = ci + 3
        col[rx["next_supp"]] = supp[c3 + 1] | supp[c3 + 2] | supp[c3 + 3]
        col[rx["prev_supp"]] = supp[c3 - 1] | supp[c3 - 2] | supp[c3 - 3]
        col[rx["next_caption"]] = capk[ci + 2]
        col[rx["prev_caption"]] = capk[ci]
        col[rx["p_head_next"]] = np.where(ci + 1 < n, p[np.minimum(ci + 1, n - 1), C_HEAD], 0.0)
    return out


def choose(an: Analysis, p: np.ndarray, x: np.ndarray, a: int, lead: str | None) -> int | None:
    """The headline line for a body starting at line ``a`` (``None``: no candidate)."""
    ranker = get_ranker()
    if ranker is None:
        return _line_model_choice(an, p, a)
    cands = candidates(an, p, x, a)
    if not cands:
        return _line_model_choice(an, p, a)
    scores = ranker.raw(rank_features(an, p, x, a, cands, lead))[:, 0]
    return cands[int(np.argmax(scores))]


def _line_model_choice(an: Analysis, p: np.ndarray, a: int) -> int | None:
    """The line model's most likely headline line in the window (the rule headline when none
    reaches :data:`HEAD_MIN`)."""
    ph = p[:, C_HEAD]
    best = -1.0
    h = None
    lines = an.lines
    for k in range(max(0, a - WINDOW), min(len(lines), a + 1)):
        if ph[k] > best and lines[k].kind not in NOT_HEAD:
            best, h = float(ph[k]), k
    if h is None or best < HEAD_MIN:
        return an.rule_head
    return h


_RANKER: TreeModel | None = None
_LOADED = False
_OVERRIDE: list[TreeModel | None] = []


def load_ranker(path: Path) -> TreeModel:
    return TreeModel.load(
        path, features_version=RANK_VERSION, n_features=N_RANK_FEATURES, classes=RANK_CLASSES
    )


def get_ranker() -> TreeModel | None:
    """The packaged ranker, loaded once (``None`` if missing or stale: line model only)."""
    global _RANKER, _LOADED
    if _OVERRIDE:
        return _OVERRIDE[-1]
    if not _LOADED:
        _LOADED = True
        try:
            _RANKER = load_ranker(RANKER_PATH)
        except (OSError, ValueError, KeyError, TypeError):
            _RANKER = None
    return _RANKER


@contextlib.contextmanager
def use_ranker(ranker: TreeModel | None) -> Iterator[None]:
    """Temporarily choose headlines with another ranker (cross-validation), or ``None``."""
    _OVERRIDE.append(ranker)
    try:
        yield
    finally:
        _OVERRIDE.pop()
