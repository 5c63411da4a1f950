"""HTML pages: render the page to text lines with layout hints, then classify the lines.

The renderer follows the usual "visible text" rules (scripts, styles, forms and the head
dropped; block elements start lines; paragraphs and headings are separated by a blank line) and
keeps, per line, HTML evidence the plain-text classifier cannot see: the share of the line that is
link text, whether it sits in a heading, a figure caption, a comment container or navigation.
Page metadata (title, og:title, language, publication time) comes from the head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

from streams.segment.clean import clean_line, fix_mojibake, unescape_entities
from streams.segment.dateline import parse_datetime

_SKIP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "select",
        "option",
        "optgroup",
        "input",
        "button",
        "textarea",
        "iframe",
        "object",
        "embed",
        "svg",
        "template",
        "map",
        "area",
        "audio",
        "video",
        "canvas",
        "param",
        "source",
        "track",
        "datalist",
    ]
)
_PARA = frozenset(
    [
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "figcaption",
        "dl",
        "ul",
        "ol",
        "table",
        "form",
        "address",
    ]
)
_BLOCK = _PARA | frozenset(
    [
        "div",
        "li",
        "tr",
        "td",
        "th",
        "br",
        "section",
        "article",
        "header",
        "footer",
        "nav",
        "aside",
        "figure",
        "main",
        "caption",
        "tbody",
        "thead",
        "tfoot",
        "dt",
        "dd",
        "hr",
        "center",
        "body",
        "html",
        "fieldset",
        "legend",
        "details",
        "summary",
        "frameset",
        "frame",
        "noframes",
    ]
)
_NAV_CLASS = re.compile(
    r"(?i)(?:^|[\s_-])(?:nav|navbar|navigation|menu|footer|sidebar|breadcrumbs?|related|share|sharing|social|"
    r"toolbar|tools|masthead|promo|advert\w*|ads?|banner|sponsor\w*|widget|popular|tags?|subscribe|"
    r"newsletter|cookie\w*|skip|pagination|pager|rss)(?:$|[\s_-])"
)
_COMMENT_CLASS = re.compile(
    r"(?i)(?:^|[\s_-])(?:comments?|commentlist|comment-?list|talkback|disqus|reader-?comments?|usercomments?|responses)(?:$|[\s_-]|\d)"
)
_CAPTION_CLASS = re.compile(
    r"(?i)(?:^|[\s_-])(?:caption|cutline|photo-?credit|credit|wp-caption-text|imgcaption)(?:$|[\s_-])"
)

F_LINK = 1
F_NAV = 2
F_COMMENT = 4
F_CAPTION = 8
F_H1 = 16
F_HEADING = 32


@dataclass(slots=True)
class RenderedLine:
    text: str
    link_ratio: float
    flags: int


@dataclass(slots=True)
class Rendered:
    lines: list[str] = field(default_factory=list)  # "" = paragraph break
    hints: dict[int, RenderedLine] = field(default_factory=dict)  # raw line index -> hint
    title: str | None = None
    og_title: str | None = None
    h1: list[str] = field(default_factory=list)
    lang: str | None = None
    published: str | None = None  # ISO-8601 UTC from metadata


class _Renderer:
    def __init__(self) -> None:
        self.out = Rendered()
        self.buf: list[str] = []
        self.link_chars = 0
        self.flags = 0
        self.pending_blank = False
        self.skip_head = True
        self.max_depth = 0

    def flush(self, blank: bool = False) -> None:
        text = clean_line("".join(self.buf))
        if text:
            if self.pending_blank and self.out.lines and self.out.lines[-1] != "":
                self.out.lines.append("")
            self.pending_blank = False
            chars = max(1, len(text))
            self.out.hints[len(self.out.lines)] = RenderedLine(
                text, min(1.0, self.link_chars / chars), self.flags
            )
            self.out.lines.append(text)
        self.buf = []
        self.link_chars = 0
        self.flags = 0
        if blank:
            self.pending_blank = True

    def add(self, s: str | None, in_link: bool, flags: int) -> None:
        if not s:
            return
        self.buf.append(s)
        if s.strip():
            self.flags |= flags
            if in_link:
                self.link_chars += len(" ".join(s.split()))

    def walk(self, el: etree._Element, in_link: bool, flags: int, depth: int) -> None:
        tag = el.tag
        if not isinstance(tag, str):  # comments, processing instructions
            self.add(el.tail, in_link, flags)
            return
        tag = tag.lower()
        if depth > self.max_depth:
            self.max_depth = depth
        if tag in _SKIP or depth > _MAX_WALK or (tag == "head" and self.skip_head):
            self.add(el.tail, in_link, flags)
            return
        cls = (el.get("class") or "") + " " + (el.get("id") or "")
        f = flags
        if cls.strip():
            if _COMMENT_CLASS.search(cls):
                f |= F_COMMENT
            elif _NAV_CLASS.search(cls):
                f |= F_NAV
            if _CAPTION_CLASS.search(cls):
                f |= F_CAPTION
        if tag in ("nav", "footer", "aside"):
            f |= F_NAV
        if tag == "figcaption":
            f |= F_CAPTION
        if tag == "h1":
            f |= F_H1 | F_HEADING
        elif tag in ("h2", "h3"):
            f |= F_HEADING
        block = tag in _BLOCK
        para = tag in _PARA
        if block:
            self.flush(para)
        link = in_link or tag == "a"
        if tag == "img":
            pass
        self.add(el.text, link, f)
        for child in el:
            self.walk(child, link, f, depth + 1)
        if block:
            self.flush(para)
        self.add(el.tail, in_link, flags)


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
#: libxml2 stops parsing at 256 open elements (the rest of the page is lost); a page whose
#: tree comes out that deep is parsed again with its container tags removed (see
#: :func:`flatten_deep`).
_DEEP = 240
_MAX_WALK = 400  # recursion guard of the renderer
#: Tags a flattened page keeps: they do not nest in practice (the parser closes an open
#: ``p`` / heading / ``a`` before the next) or carry text the renderer skips or reads.
_FLAT_KEEP = (
    "html|head|body|title|meta|link|base|script|style|noscript|template|a|p|h[1-6]|br|hr|img|"
    "figcaption|caption"
)
_FLAT_BLOCK = re.compile(
    r"</?(?:"
    + "|".join(
        sorted(
            _BLOCK
            - {"html", "body", "p", "br", "hr", "figcaption", "caption"}
            - {f"h{i}" for i in range(1, 7)}
        )
    )
    + r")(?=[\s/>])[^>]*>",
    re.I,
)
_FLAT_OTHER = re.compile(r"</?(?!(?:" + _FLAT_KEEP + r")(?=[\s/>]))[A-Za-z][^>]*>", re.I)
_BR_RUN = re.compile(r"<br>(?:\s*<br>)+")
# Titles are read by regex and removed before parsing: an unclosed <title> (common in crawls)
# otherwise swallows the whole page as title text in libxml2.
_DOC_END = re.compile(r"</(?:body|html)\s*>", re.I)
_TITLE_RE = re.compile(r"<title\b[^>]*>([^<]{0,600})(?:</title\s*>)?", re.I)


def _meta(doc: etree._Element, out: Rendered) -> None:
    html_el = doc if doc.tag == "html" else None
    if html_el is not None:
        lang = html_el.get("lang") or html_el.get("xml:lang")
        if lang:
            out.lang = lang.split("-")[0].strip().lower()[:8] or None
    published: str | None = None
    for m in doc.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").lower()
        content = m.get("content") or ""
        if key in ("og:title", "twitter:title") and out.og_title is None:
            out.og_title = clean_line(content) or None
        elif (
            key
            in (
                "article:published_time",
                "datepublished",
                "date",
                "pubdate",
                "dc.date",
                "dc.date.issued",
                "publishdate",
                "publish-date",
                "sailthru.date",
                "dcterms.created",
                "original-publish-date",
            )
            and published is None
        ):
            pt = parse_datetime(content.replace("T", " ")) if content else None
            if pt is not None:
                published = pt.iso or (pt.date + "T00:00:00Z" if pt.date else None)
        elif key == "content-language" and out.lang is None and content:
            out.lang = content.split("-")[0].split(",")[0].strip().lower()[:8] or None
    out.published = published


def flatten_deep(src: str) -> str:
    """``src`` without its container tags: block containers (``div``, ``table``, ``li`` ...)
    become ``<br>`` (a line break), other tags (``span``, ``font``, ``b`` ...) a space; links,
    paragraphs, headings, captions, scripts, styles and the head stay. Two regex passes (no
    per-tag Python), so a page nested 200,000 levels deep costs linear time. The flattened
    page loses its class / id evidence (navigation, comment, caption containers)."""
    flat = _FLAT_OTHER.sub(" ", _FLAT_BLOCK.sub("<br>", src))
    return _BR_RUN.sub("<br>", flat)  # runs of line breaks: one (they add no text)


def render(html: str) -> Rendered:
    """Render an HTML string into text lines with hints. Never raises."""
    out = _render(html)
    if out[1] >= _DEEP:  # libxml2 may have stopped at its depth limit: flatten, render again
        out = _render(flatten_deep(html))
    return out[0]


def _render(html: str) -> tuple[Rendered, int]:
    """The rendered page and the deepest element nesting the renderer saw."""
    src = _XML_DECL.sub("", html, count=1)
    r = _Renderer()
    m = _TITLE_RE.search(src)
    title = clean_line(unescape_entities(m.group(1))) if m else ""
    if m:
        src = _TITLE_RE.sub("", src)
    # Concatenated documents: libxml2 drops what follows the first </html>.
    src = _DOC_END.sub("", src)
    r.out.title = title or None
    try:
        doc = lxml.html.document_fromstring(src)
    except (etree.ParserError, ValueError, TypeError):
        text = re.sub(r"<[^>]+>", " ", src)
        out = Rendered(title=title or None)
        out.lines = [clean_line(unescape_entities(s)) for s in text.split("\n")]
        return out, 0
    _meta(doc, r.out)
    body = doc.find("body")
    root = doc
    if body is not None and len(body) > 0:
        root = body
    else:
        r.skip_head = False
    for el in doc.iter("h1"):
        t = clean_line(el.text_content() or "")
        if t:
            r.out.h1.append(t)
    r.walk(root, False, 0, 0)
    r.flush()
    out = r.out
    joined = "\n".join(out.lines)
    fixed = fix_mojibake(joined)
    if fixed is not joined:
        new_lines = fixed.split("\n")
        if len(new_lines) == len(out.lines):
            out.lines = new_lines
            for k, h in out.hints.items():
                h.text = new_lines[k]
    return out, r.max_depth
