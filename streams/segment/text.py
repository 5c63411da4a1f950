"""Plain-text page dumps: a rule-based line classifier.

The dump is split into lines; blank lines separate blocks (paragraphs and headings are single-line
blocks, menus and link lists are multi-line blocks). Each line gets features and a first label
(caption, credit, dateline, byline, boilerplate, comment marker, candidate text). The article body
is the best-scoring run of lines (maximum-sum segment: long prose lines score positive, short and
boilerplate lines negative, comment-section markers break runs). Headline, dateline and byline are
searched around the body start, captions anywhere near the article, comments after the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

import numpy as np

from streams.records import Byline, Caption, Comment, Dateline
from streams.segment import byline as bl
from streams.segment.captions import (
    CaptionHit,
    credit_label,
    is_credit_only,
    merge_captions,
    split_embedded_credit,
)
from streams.segment.comments import FOOTER_RE, MARKER_RE, POLICY_RE, parse_comments
from streams.segment.comments import _meta as comment_meta
from streams.segment.dateline import (
    InlineDateline,
    inline_dateline,
    is_date_line,
    looks_like_dateline,
    standalone_dateline,
)
from streams.segment.features import (
    _S_NAV,
    _S_RPAREN,
    _S_SLASH,
    KINDS,
    PageText,
    ends_punct,
    featurize,
)
from streams.segment.features import content_words as _content_words
from streams.segment.headline import NOT_HEAD, choose, is_noise
from streams.segment.html import F_CAPTION, F_COMMENT, F_H1, F_HEADING, F_NAV, RenderedLine
from streams.segment.model import C_BODY, C_COMMENT, TreeModel, get_model

_WORD = re.compile(r"\w+")
_ANY_DIGIT = re.compile(r"\d")
_END_PUNCT = re.compile(r"[.!?\"\u201d\u2019')\]:;]\s*$")
_BOILER_ANY = (
    r"©|\(c\)\s*(?:19|20)\d\d|\bcopyright\b|all rights reserved|\bcookies?\b.{0,60}\b(?:use|accept|policy|consent)\b"
    r"|terms (?:of (?:use|service)|and conditions)|privacy (?:policy|statement)"
)
_BOILER_LINE = (
    r"^(?:advertisement|advertising|sponsored(?: links?)?|ad(?:s)?|related(?: \w+)?(?: topics| stories| articles| links| news| content| coverage| items| video)?:?"
    r"|more (?:news|stories|from|on this|headlines)\b.*|read more\b.*|see also\b.*|share(?: this)?(?: article| story)?:?"
    r"|e-?mail(?: this)?(?: article| story| to a friend)?|print(?: this)?(?: article| story| page)?|tags?:.*|filed under:?.*"
    r"|subscribe\b.*|sign (?:up|in)\b.*|log ?in\b.*|register\b.*|click here\b.*|follow us\b.*|top stories|most (?:popular|read|viewed|emailed|e-mailed)\b.*"
    r"|recommended\b.*|back to top|next (?:page|story|article)\b.*|previous (?:page|story|article)\b.*|print this article email this article"
    r"|font size:?.*|text size:?.*|story tools|bookmark\b.*|digg this|del\.icio\.us|reprints?\b.*|rss\b.*|home|news|sport|sports|business|world)$"
)
BOILER_RE = re.compile(r"(?i)(?:" + _BOILER_ANY + "|" + _BOILER_LINE + ")")
# The same test, faster: the anchored alternatives by ``match``, the rest behind a substring
# prefilter (the unanchored regex is costly on long lines).
_BOILER_ANY_RE = re.compile(r"(?i)" + _BOILER_ANY)
_BOILER_LINE_RE = re.compile(r"(?i)" + _BOILER_LINE)
_BOILER_KEYS = ("©", "(c)", "copyright", "all rights reserved", "cookie", "terms ", "privacy ")


def is_policy(s: str) -> bool:
    """``POLICY_RE.search`` behind a substring prefilter (every alternative needs one of these)."""
    low = s.lower()
    return ("comment" in low or "discussion" in low or "abuse" in low) and bool(POLICY_RE.search(s))


def is_boiler(s: str) -> bool:
    if _BOILER_LINE_RE.match(s):
        return True
    low = s.lower()
    return any(k in low for k in _BOILER_KEYS) and bool(_BOILER_ANY_RE.search(s))


_NAV_SEP = re.compile(r"\s[|\u2022\u00b7\u00bb>]\s")


@dataclass(slots=True)
class Line:
    idx: int
    text: str
    words: int
    single: bool  # a one-line block (blank line before and after)
    block_first: bool
    kind: str = "text"  # text | boiler | caption | credit | byline | marker | date | agency | link
    good: bool = False
    link_ratio: float = 0.0
    flags: int = 0


@dataclass(slots=True)
class TextParts:
    headline: str | None = None
    dateline: Dateline | None = None
    byline: Byline = field(default_factory=Byline)
    body: list[str] = field(default_factory=list)
    captions: list[Caption] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    dates: list[Dateline] = field(default_factory=list)  # other date lines seen near the article


def _build_lines(
    raw: list[str], hints: dict[int, RenderedLine] | None
) -> tuple[list[Line], PageText]:
    keep = [i for i, s in enumerate(raw) if s]
    page = PageText([raw[i] for i in keep])
    words = page.words().tolist()
    out: list[Line] = []
    n = len(raw)
    for j, i in enumerate(keep):
        prev_blank = i == 0 or not raw[i - 1]
        next_blank = i == n - 1 or not raw[i + 1]
        ln = Line(i, page.texts[j], words[j], prev_blank and next_blank, prev_blank)
        if hints is not None:
            h = hints.get(i)
            if h is not None:
                ln.link_ratio = h.link_ratio
                ln.flags = h.flags
        out.append(ln)
    return out, page


# Necessary substrings of the per-line rule patterns: the patterns run only on lines that
# contain one (see PageText.with_keys).
_MARKER_KEYS: tuple[str, ...] = (
    "comment",
    "respons",
    "reaction",
    "replies",
    "talkback",
    "have",
    "discuss",
)
_MARKER_KEYS += ("feedback", "what")
_LABEL_KEYS = ("photo", "picture", "image", "credit", "foto")
_BOILER_LOW_KEYS = tuple(k for k in _BOILER_KEYS if k.lower() == k)
_POLICY_KEYS = ("comment", "discussion", "abuse")
_CREDIT_KEYS: tuple[str, ...] = (
    "REUTERS",
    "Reuters",
    "AFP",
    "AP",
    "EPA",
    "Getty",
    "Bloomberg",
    "XINHUA",
)
_CREDIT_KEYS += ("Xinhua", "PA", "Kyodo", "Yonhap", "ANSA", "EFE", "dpa", "DPA", "ITAR", "RIA")
_BOILER_LINE_LOW = re.compile(_BOILER_LINE, re.M)
_S_SLASH_PAREN = _S_SLASH | _S_RPAREN


def _agency_lines(page: PageText, words: np.ndarray) -> np.ndarray:
    """Per line: ``bl.agency_line`` (an agency name alone: at most 4 words, 40 characters)."""
    out = np.zeros(page.n, dtype=bool)
    texts, agencies = page.texts, bl.AGENCIES
    for k in np.flatnonzero((words <= 4) & (page.lens <= 40)).tolist():
        key = " ".join(texts[k].strip().strip(" ()-.,").split()).casefold()
        if key in agencies:
            out[k] = True
    return out


def _label(lines: list[Line], page: PageText | None = None) -> list[CaptionHit]:
    """Rule kinds and the "good prose" flag of every line, and the caption hits.

    The per-line tests run in order (the first that fires decides) but only on lines that one
    of them could fire on: every test has a necessary condition checked for the whole page at
    once (substrings, digits, characters, word counts); the other lines are plain text or link
    lines whose flags are computed over the page.
    """
    hits: list[CaptionHit] = []
    if page is None or page.n != len(lines):
        page = PageText([ln.text for ln in lines])
    n = len(lines)
    if n == 0:
        return hits
    words = page.words()
    flags, link, _, _ = page.line_arrays(lines)
    marker_c = page.with_keys(_MARKER_KEYS) & (words <= 12)
    label_c = page.with_keys(_LABEL_KEYS)
    by_c = page.with_keys(("by",)) & (words <= 40)
    digit_c = page.has_digit() & (words <= 16)
    short = words < 60
    boiler_c = short & page.confirm(short & page.with_keys(_BOILER_LOW_KEYS), _BOILER_ANY_RE.search)
    policy_c = short & page.confirm(short & page.with_keys(_POLICY_KEYS), POLICY_RE.search)
    bline_c = short & page.line_starts(_BOILER_LINE_LOW)
    nav_c = page.confirm(
        page.per_line((page.sets & _S_NAV) > 0) >= 2, lambda s: len(_NAV_SEP.findall(s)) >= 2
    )
    credit_c = page.with_keys(_CREDIT_KEYS, lower=False) & (words <= 10)
    agency_c = _agency_lines(page, words)
    emb_c = ((page.per_line((page.sets & _S_SLASH_PAREN) > 0) > 0) | label_c) & (words < 120)
    caption_c = ((flags & F_CAPTION) > 0) & (words <= 80)
    special = (
        (marker_c | caption_c | label_c | emb_c | credit_c | by_c | agency_c | digit_c)
        | boiler_c
        | policy_c
        | bline_c
        | nav_c
    )
    # Lines no test can fire on: link or text lines, "good" prose by length, end, capitals.
    cap = page.char_stats()[0]
    ends = ends_punct(page)
    is_link = (link >= 0.5) & ((flags & F_COMMENT) == 0)
    good = ((words >= 10) & ends & (cap < 0.7)) | ((words >= 25) & (cap < 0.6))
    good &= ~(((flags & (F_NAV | F_COMMENT)) > 0) & (words < 30))
    good &= ~is_link
    link_l, good_l = is_link.tolist(), good.tolist()
    for k, ln in enumerate(lines):
        if link_l[k]:
            ln.kind = "link"
        else:
            ln.good = good_l[k]
    marker_l, label_l, digit_l = marker_c.tolist(), label_c.tolist(), digit_c.tolist()
    by_l, credit_l = by_c.tolist(), credit_c.tolist()
    boiler_l = (boiler_c | policy_c).tolist()
    bline_l, nav_l = bline_c.tolist(), nav_c.tolist()
    for k in np.flatnonzero(special).tolist():
        ln = lines[k]
        ln.kind = "text"
        ln.good = False
        s = ln.text
        if marker_l[k] and MARKER_RE.match(s):
            ln.kind = "marker"
            continue
        if ln.flags & F_CAPTION and ln.words <= 80:
            emb = split_embedded_credit(s)
            ln.kind = "caption"
            if emb is not None:
                hits.append(CaptionHit(ln.idx, emb[0], emb[1]))
            elif credit_label(s) is not None or is_credit_only(s):
                ln.kind = "credit"
                hits.append(CaptionHit(ln.idx, "", credit_label(s) or s, ln.idx, labelled=True))
            else:
                hits.append(CaptionHit(ln.idx, s, None))
            continue
        lab = credit_label(s) if label_l[k] else None
        if lab is not None:
            ln.kind = "credit"
            prev = lines[k - 1] if k > 0 else None
            if prev is not None and prev.kind in ("text", "caption") and 3 <= prev.words <= 80:
                if prev.kind == "caption" and hits and hits[-1].index == prev.idx:
                    hits[-1].credit = lab
                    hits[-1].labelled = True
                else:
                    prev.kind = "caption"
                    hits.append(CaptionHit(prev.idx, prev.text, lab, ln.idx, labelled=True))
            else:
                hits.append(CaptionHit(ln.idx, "", lab, ln.idx, labelled=True))
            continue
        if ln.words < 120 and ("/" in s or ")" in s or label_l[k]):
            emb = split_embedded_credit(s)
            if emb is not None and len(_WORD.findall(emb[0])) >= 3:
                ln.kind = "caption"
                hits.append(CaptionHit(ln.idx, emb[0], emb[1]))
                continue
        if credit_l[k] and is_credit_only(s):
            ln.kind = "credit"
            hits.append(CaptionHit(ln.idx, "", s))
            continue
        if by_l[k] and (
            bl.is_credit_line(s) or (ln.words <= 14 and bl.parse_by_line(s) is not None)
        ):
            ln.kind = "byline"
            continue
        if ln.words <= 6 and bl.agency_line(s):
            ln.kind = "agency"
            continue
        if digit_l[k] and looks_like_dateline(s):
            ln.kind = "date"
            continue
        if boiler_l[k] or (bline_l[k] and _BOILER_LINE_RE.match(s)) or nav_l[k]:
            ln.kind = "boiler"
            continue
        if link_l[k]:
            ln.kind = "link"
            continue
        ln.good = good_l[k]
    return hits


def _weight(ln: Line) -> float:
    if ln.kind in ("caption", "credit", "byline", "date", "agency"):
        return 0.0
    if ln.kind == "marker":
        return float("-inf")
    if ln.kind == "boiler":
        return -12.0
    if ln.kind == "link":
        return -4.0 - 0.25 * min(ln.words, 20)
    if ln.flags & F_COMMENT:
        return -3.0 - 0.5 * ln.words
    if ln.flags & F_NAV and not ln.good:
        return -5.0 - 0.25 * min(ln.words, 20)
    if ln.good:
        return float(min(ln.words, 80))
    if ln.single and ln.words >= 4 and _END_PUNCT.search(ln.text):
        return 0.0
    if ln.single:
        return -3.0 - 0.25 * ln.words
    return -4.0 - 0.25 * min(ln.words, 20)


_SUPP_KIND_IX = np.asarray([k in ("caption", "credit", "byline", "date", "agency") for k in KINDS])


def _weights(lines: list[Line], page: PageText | None = None) -> list[float]:
    """:func:`_weight` of every line, computed over the page at once."""
    n = len(lines)
    if n == 0:
        return []
    if page is None or page.n != n:
        page = PageText([ln.text for ln in lines])
    words = page.words().astype(np.float64)
    flags, _, single, _ = page.line_arrays(lines)
    kind, good = page.kind_arrays(lines)
    supp = _SUPP_KIND_IX[kind]
    marker = kind == KINDS.index("marker")
    boiler = kind == KINDS.index("boiler")
    link = kind == KINDS.index("link")
    w20 = np.minimum(words, 20)
    w = np.select(
        [
            supp,
            marker,
            boiler,
            link,
            (flags & F_COMMENT) > 0,
            ((flags & F_NAV) > 0) & ~good,
            good,
            single & (words >= 4) & ends_punct(page),
            single,
        ],
        [
            0.0,
            -np.inf,
            -12.0,
            -4.0 - 0.25 * w20,
            -3.0 - 0.5 * words,
            -5.0 - 0.25 * w20,
            np.minimum(words, 80),
            0.0,
            -3.0 - 0.25 * words,
        ],
        default=-4.0 - 0.25 * w20,
    )
    out: list[float] = w.tolist()
    return out


def _best_run(weights: list[float], lo: int, hi: int) -> tuple[float, int, int]:
    best = (0.0, -1, -1)
    cur = 0.0
    start = lo
    ninf = float("-inf")
    for k in range(lo, hi):
        w = weights[k]
        if w == ninf:
            cur, start = 0.0, k + 1
            continue
        if cur <= 0:
            cur, start = 0.0, k
        cur += w
        if cur > best[0]:
            best = (cur, start, k)
    return best


def _choose_region(lines: list[Line], page: PageText | None = None) -> tuple[int, int] | None:
    """Indices (into lines) of the first and last line of the article run."""
    weights = _weights(lines, page)
    score, a, b = _best_run(weights, 0, len(lines))
    if a < 0:
        return None
    # A long comment thread can outscore the article: prefer a good run before the first
    # comment marker that precedes the winner.
    markers = [k for k in range(a) if lines[k].kind == "marker"]
    for m in markers:
        s2, a2, b2 = _best_run(weights, 0, m)
        if a2 >= 0 and s2 >= max(40.0, 0.2 * score):
            return a2, b2
    return a, b


def _headline(
    lines: list[Line], start: int, title_hint: str | None, lead: str | None
) -> int | None:
    best: tuple[float, int] | None = None
    hint = " ".join(title_hint.casefold().split()) if title_hint else None
    lead_words = _content_words(lead) if lead else set()
    lo = max(0, start - 40)
    for k in range(start - 1, lo - 1, -1):
        ln = lines[k]
        if ln.kind not in ("text", "link") or (ln.good and ln.words > 30):
            continue
        if not 2 <= ln.words <= 30 or ln.text.endswith((":", ",")):
            continue
        dist = start - k
        score = 2.0 - 0.08 * dist
        if ln.flags & F_H1:
            score += 3.0
        elif ln.flags & F_HEADING:
            score += 1.0
        if ln.flags & F_NAV or ln.link_ratio > 0.5:
            score -= 2.0
        if ln.single:
            score += 1.5
        elif ln.block_first:
            score += 0.5
        if ln.text.endswith("."):
            score -= 1.0 if ln.words <= 12 else 2.5
        if 4 <= ln.words <= 18:
            score += 1.0
        if is_noise(ln.text):
            score -= 3.0
        if ln.text.isupper() and ln.words <= 4:
            score -= 2.0
        if _ANY_DIGIT.search(ln.text) and is_date_line(ln.text):
            score -= 4.0
        if re.match(r"^[A-Z][a-z]+(?: [A-Z][a-z.]+){1,2}, [A-Z]", ln.text) and ln.words <= 7:
            score -= 3.0  # "Name Surname, Publication"
        if lead_words:
            cw = _content_words(ln.text)
            if cw:
                score += 4.0 * len(cw & lead_words) / len(cw)
        if hint is not None:
            t = " ".join(ln.text.casefold().split())
            if t in hint:
                score += 4.0 + 2.0 * len(t) / max(1, len(hint))
            else:
                r = SequenceMatcher(None, t, hint).ratio()
                score += 4.0 * r if r > 0.5 else 0.0
        if best is None or score > best[0]:
            best = (score, k)
    return best[1] if best is not None else None


@dataclass(slots=True)
class Analysis:
    """A page's lines with their rule labels, the rule-chosen article run and headline."""

    lines: list[Line]
    hits: list[CaptionHit]
    region: tuple[int, int] | None  # (first, last) index into lines, after trimming
    rule_head: int | None
    title_hint: str | None
    is_html: bool
    meta_head: list[bool] = field(default_factory=list)
    page: PageText | None = None
    titles: tuple[str, ...] = ()  # the page's titles as given (<title> whole, og:title)
    h1: str | None = None  # the page's first h1 text


_META_HINT = re.compile(r"\d|(?i:\b(?:wrote|writes|said|says|by|posted)\b)")
_META_KEYS = ("wrote", "writes", "said", "says", "by", "posted")


def analyze(
    text: str | list[str],
    title_hint: str | None = None,
    hints: dict[int, RenderedLine] | None = None,
) -> Analysis:
    """Lines, rule labels, the rule run and the rule headline (the classifier's input)."""
    lines, page = _build_lines(text.split("\n") if isinstance(text, str) else text, hints)
    an = Analysis(lines, [], None, None, title_hint, hints is not None, page=page)
    if not lines:
        return an
    an.hits = _label(lines, page)
    region = _choose_region(lines, page)
    if region is not None:
        a, b = region
        while a < b and not lines[a].good:
            a += 1
        while b > a and not lines[b].good:
            b -= 1
        an.region = (a, b)
        lead = next((lines[k].text for k in range(a, b + 1) if _is_rule_body(lines[k])), None)
        an.rule_head = _headline(lines, a, title_hint, lead)
    meta_c = page.confirm(
        (page.words() <= 20) & (page.has_digit() | page.with_keys(_META_KEYS)), _META_HINT.search
    ).tolist()
    an.meta_head = [
        meta_c[k] and ln.words <= 20 and comment_meta(ln.text, parse=False)[0] in ("author", "date")
        for k, ln in enumerate(lines)
    ]
    return an


def _is_rule_body(ln: Line) -> bool:
    return ln.kind == "text" and (
        ln.good
        or (ln.single and ln.words >= 1)
        or (ln.words >= 6 and bool(_END_PUNCT.search(ln.text)))
    )


def features_of(an: Analysis) -> np.ndarray:
    return featurize(
        an.lines, an.region, an.rule_head, an.title_hint, an.is_html, an.meta_head, an.page
    )


def _byline_near(lines: list[Line], a: int, b: int) -> Byline:
    byline = Byline()
    for k in range(max(0, a - 12), min(len(lines), b + 6)):
        ln = lines[k]
        if ln.kind == "byline":
            s = ln.text
            got = bl.parse_credit_line(s) if bl.is_credit_line(s) else bl.parse_by_line(s)
            if got is not None:
                byline = bl.merge(byline, got)
        elif ln.kind == "agency" and a - 12 <= k <= b + 3:
            byline = bl.merge(byline, Byline(agency=bl.agency_line(ln.text)))
    return byline


def _finish(
    an: Analysis, a: int, b: int, body_idx: list[int], h: int | None, byline: Byline
) -> TextParts:
    """Dateline, byline agency, captions around a chosen body and headline."""
    lines = an.lines
    parts = TextParts()
    if h is not None:
        parts.headline = lines[h].text
    d_lo = h + 1 if h is not None and h < a else max(0, a - 8)
    standalone: Dateline | None = None
    for k in range(d_lo, min(a + 3, len(lines))):
        if lines[k].kind == "date":
            dl = standalone_dateline(lines[k].text)
            if dl is not None:
                if standalone is None or (standalone.place is None and dl.place is not None):
                    standalone = dl
                parts.dates.append(dl)
    body = [lines[k].text for k in body_idx]
    inline: InlineDateline | None = inline_dateline(body[0]) if body else None
    if inline is not None and inline.agency:
        byline = bl.merge(
            byline, Byline(agency=bl.canonical_agency(inline.agency) or inline.agency)
        )
    if standalone is not None:
        if standalone.place is None and inline is not None and inline.place is not None:
            standalone = Dateline(place=inline.place, text=standalone.text, time=standalone.time)
        parts.dateline = standalone
    elif inline is not None:
        parts.dateline = Dateline(place=inline.place, text=inline.text, time=None)
    parts.body = body
    parts.byline = byline
    # Captions near the article (not in far-away teaser lists), in order, deduplicated.
    c_lo = lines[h].idx if h is not None and h < a else lines[max(0, a - 15)].idx
    c_hi = lines[min(len(lines) - 1, b + 10)].idx
    parts.captions = merge_captions([c for c in an.hits if c_lo <= c.index <= c_hi])
    return parts


def _rule_comments(lines: list[Line], b: int) -> list[Comment]:
    """Comments: the first marker after the body whose section parses into comments."""
    starts = [k for k in range(b + 1, len(lines)) if lines[k].kind == "marker"]
    if not starts:
        first = next((k - 1 for k in range(b + 1, len(lines)) if lines[k].flags & F_COMMENT), None)
        starts = [first] if first is not None else []
    for m in starts[:6]:
        sec: list[str] = []
        short_run = 0
        for k in range(m + 1, len(lines)):
            ln = lines[k]
            s = ln.text
            if FOOTER_RE.match(s) and not ln.good:
                if sec:
                    break
                continue
            if ln.kind == "marker":
                continue
            short_run = short_run + 1 if (ln.words <= 3 and not ln.single and not ln.good) else 0
            if short_run >= 6:
                sec = sec[:-5]
                break
            sec.append(s)
        got = parse_comments(sec)
        if got:
            return got
    return []


def _segment_rules(an: Analysis) -> TextParts:
    lines = an.lines
    if an.region is None:
        return TextParts(captions=merge_captions(an.hits))
    a, b = an.region
    body_idx = [k for k in range(a, b + 1) if _is_rule_body(lines[k])]
    parts = _finish(an, a, b, body_idx, an.rule_head, _byline_near(lines, a, b))
    parts.comments = _rule_comments(lines, b)
    return parts


#: Rule kinds the model may not override (strong signals).
_STRONG = frozenset(["caption", "credit", "byline", "date", "agency", "marker"])
BODY_MIN = 0.5
COMMENT_MIN = 0.5
COMMENTS_MODE = "longest"  # rule-parsed vs model comments: keep the one with more text
_HEADER_SHARE = 0.2  # rough share of a comment section's characters in author/time headers


def _model_body(lines: list[Line], p: np.ndarray) -> tuple[int, int, list[int]] | None:
    """Best-scoring run under model weights, then the run's lines the model calls body."""
    best = (0.0, -1, -1)
    cur = 0.0
    start = 0
    pb = p[:, C_BODY]
    for k, ln in enumerate(lines):
        if ln.kind == "marker":
            cur, start = 0.0, k + 1
            continue
        w = (float(pb[k]) - BODY_MIN) * max(1, min(ln.words, 80))
        if cur <= 0:
            cur, start = 0.0, k
        cur += w
        if cur > best[0]:
            best = (cur, start, k)
    _, a, b = best
    if a < 0:
        return None
    idx = [k for k in range(a, b + 1) if pb[k] >= BODY_MIN and lines[k].kind not in _STRONG]
    if not idx:
        return None
    return idx[0], idx[-1], idx


def _model_headline(
    an: Analysis, p: np.ndarray, x: np.ndarray, a: int, body_idx: list[int]
) -> int | None:
    """The headline line: the second-stage ranker's choice among the candidates above the
    body (:mod:`streams.segment.headline`); never a line the rules call a caption, credit,
    byline, dateline, agency tag, comment marker or boilerplate."""
    h = choose(an, p, x, a, an.lines[body_idx[0]].text if body_idx else None)
    if h is not None and an.lines[h].kind in NOT_HEAD:  # pragma: no cover - by construction
        return an.rule_head
    return h


def _model_comments(an: Analysis, p: np.ndarray, b: int) -> list[Comment]:
    lines = an.lines
    pc = p[:, C_COMMENT]
    sec: list[str] = []
    blocks: list[list[str]] = []
    for k in range(b + 1, len(lines)):
        ln = lines[k]
        if pc[k] >= COMMENT_MIN and ln.kind != "marker":
            if ln.block_first and blocks and blocks[-1]:
                blocks.append([])
            if not blocks:
                blocks.append([])
            blocks[-1].append(ln.text)
            sec.append(ln.text)
        elif blocks and blocks[-1]:
            blocks.append([])
    if not sec:
        return []
    got = parse_comments(sec)
    if got:
        # Keep the structured parse unless it lost much of the comment text.
        kept = sum(len(c.text) for c in got)
        if kept >= 0.5 * sum(len(t) for t in sec) * (1 - _HEADER_SHARE):
            return got
    return [Comment(author=None, posted_at=None, text="\n".join(bk)) for bk in blocks if bk]


def _segment_model(an: Analysis, model: TreeModel) -> TextParts:
    lines = an.lines
    x = features_of(an)
    p = model.predict_proba(x)
    got = _model_body(lines, p)
    if got is None:
        return _segment_rules(an)
    a, b, body_idx = got
    h = _model_headline(an, p, x, a, body_idx)
    parts = _finish(an, a, b, body_idx, h, _byline_near(lines, a, b))
    # Comments: a marked section that parses into authored / timed items (rules) wins; else the
    # lines the model calls comments.
    if COMMENTS_MODE == "rules-first":
        parts.comments = _rule_comments(lines, b) or _model_comments(an, p, b)
    elif COMMENTS_MODE == "longest":
        rc = _rule_comments(lines, b)
        mc = _model_comments(an, p, b)
        parts.comments = max(rc, mc, key=lambda cs: sum(len(c.text) for c in cs))
    else:
        parts.comments = _model_comments(an, p, b) or _rule_comments(lines, b)
    return parts


def segment_text(
    text: str | list[str],
    title_hint: str | None = None,
    hints: dict[int, RenderedLine] | None = None,
    titles: tuple[str, ...] = (),
    h1: str | None = None,
) -> TextParts:
    """Segment a cleaned plain-text page dump (see :func:`streams.segment.clean.clean_text`).

    ``text`` may be given as lines; ``hints`` (raw line index -> HTML evidence) come from
    :func:`streams.segment.html.render`; ``titles`` (the page's titles as given) and ``h1``
    inform the headline choice. Uses the packaged line classifier when it is available,
    the rules alone otherwise.
    """
    an = analyze(text, title_hint, hints)
    if not an.lines:
        return TextParts()
    an.titles, an.h1 = titles, h1
    model = get_model()
    if model is None:
        return _segment_rules(an)
    return _segment_model(an, model)
