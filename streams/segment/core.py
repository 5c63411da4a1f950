"""The ``segment`` entry point: sniff the payload, dispatch, assemble a :class:`Segmented`."""

from __future__ import annotations

import logging
import re

from streams.records import Byline, Caption, Comment, Dateline, RawStory, Segmented
from streams.segment.clean import clean_text, collapse
from streams.segment.dateline import parse_datetime
from streams.segment.html import Rendered, render
from streams.segment.sniff import sniff
from streams.segment.text import Analysis, TextParts, analyze, segment_text
from streams.segment.wire import segment_wire

#: Payloads longer than this are truncated before segmentation (the agent may DLQ them earlier).
MAX_CHARS = 12_000_000
_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


_log = logging.getLogger("newsflow.segment")


def _norm_iso(value: str | None) -> str | None:
    """Envelope timestamps to the 'YYYY-MM-DDTHH:MM:SSZ' form when readable."""
    if not value:
        return None
    if _ISO_Z.match(value):
        return value
    pt = parse_datetime(value.replace("T", " "))
    if pt is None:
        return value
    return pt.iso or value


def _published(
    dateline: Dateline | None, meta: str | None, dates: list[Dateline], raw: RawStory
) -> str | None:
    if dateline is not None and dateline.time:
        return dateline.time
    for d in dates:
        if d.time:
            return d.time
    if meta:
        return meta
    return _norm_iso(raw.published_at)


def _empty(raw: RawStory, kind: str = "empty") -> Segmented:
    return Segmented(
        story_id=raw.story_id,
        source=raw.source,
        content_kind="empty" if kind == "empty" else "text",
        fetched_at=raw.fetched_at,
        published_at=_norm_iso(raw.published_at),
        headline=collapse(raw.title) if raw.title else None,
        language_hint=raw.language,
        has_article=False,
    )


def _assemble(
    raw: RawStory,
    kind: str,
    headline: str | None,
    dateline: Dateline | None,
    byline: Byline,
    body: list[str],
    captions: list[Caption],
    comments: list[Comment],
    published: str | None,
    lang: str | None,
) -> Segmented:
    body = [p for p in body if p.strip()]
    return Segmented(
        story_id=raw.story_id,
        source=raw.source,
        content_kind="html" if kind == "html" else "wire" if kind == "wire" else "text",
        fetched_at=raw.fetched_at,
        published_at=published,
        headline=headline or (collapse(raw.title) if raw.title else None),
        dateline=dateline,
        byline=byline,
        lead=body[0] if body else None,
        body=body,
        captions=captions,
        comments=comments,
        language_hint=raw.language or lang,
        has_article=bool(body),
    )


def _from_text_parts(
    raw: RawStory, kind: str, p: TextParts, meta_published: str | None, lang: str | None
) -> Segmented:
    return _assemble(
        raw,
        kind,
        p.headline,
        p.dateline,
        p.byline,
        p.body,
        p.captions,
        p.comments,
        _published(p.dateline, meta_published, p.dates, raw),
        lang,
    )


_TITLE_SEP = re.compile(r"\s+(?:[|\u00bb]|::|[-\u2013\u2014]{1,2})\s+")


def clean_title(title: str | None, split: bool = False) -> str | None:
    """A title as a headline hint: whitespace collapsed; with ``split`` (a page's ``<title>``)
    and separators in it ("Story headline | Section | Site"), its longest part (site and
    section names are short)."""
    if not title:
        return None
    t = " ".join(title.split())
    if split:
        parts = [s for s in _TITLE_SEP.split(t) if s]
        if len(parts) > 1:
            t = max(parts, key=len)
    return t or None


def _html_hint(raw: RawStory, r: Rendered) -> str | None:
    hint = clean_title(raw.title) or clean_title(r.og_title) or clean_title(r.title, split=True)
    if r.h1 and hint is None:
        hint = clean_title(r.h1[0])
    return hint


def _titles(raw: RawStory) -> tuple[str, ...]:
    t = clean_title(raw.title)
    return (t,) if t else ()


def _html_titles(raw: RawStory, r: Rendered) -> tuple[str, ...]:
    """The page's titles as given, for the headline ranker: the envelope's, ``<title>``
    whole (site and section parts included) and ``og:title``."""
    out = [clean_title(t) for t in (raw.title, r.title, r.og_title)]
    return tuple(t for t in out if t)


def _h1(r: Rendered) -> str | None:
    return clean_title(r.h1[0]) if r.h1 else None


def _segment(raw: RawStory) -> Segmented:
    body = raw.body if isinstance(raw.body, str) else ""
    if len(body) > MAX_CHARS:
        body = body[:MAX_CHARS]
    kind = sniff(body, raw.content_type)
    if kind == "empty":
        return _empty(raw)
    if kind == "html":
        r = render(body)
        hint = _html_hint(raw, r)
        p = segment_text(
            r.lines, title_hint=hint, hints=r.hints, titles=_html_titles(raw, r), h1=_h1(r)
        )
        if p.headline is None and hint:
            p.headline = hint
        return _from_text_parts(raw, "html", p, r.published, r.lang)
    if kind == "wire":
        w = segment_wire(clean_text(body, strip_lines=False), raw.title)
        return _assemble(
            raw,
            "wire",
            w.headline,
            w.dateline,
            w.byline,
            w.body,
            [],
            [],
            _published(w.dateline, None, [], raw),
            None,
        )
    p = segment_text(clean_text(body), title_hint=raw.title, titles=_titles(raw))
    return _from_text_parts(raw, "text", p, None, None)


def analysis_for(raw: RawStory) -> Analysis | None:
    """The line analysis ``segment`` would classify for an HTML or text-dump payload (training).

    ``None`` for empty payloads and wire copy (wire copy is segmented by rules only).
    """
    body = raw.body if isinstance(raw.body, str) else ""
    if len(body) > MAX_CHARS:
        body = body[:MAX_CHARS]
    kind = sniff(body, raw.content_type)
    if kind == "html":
        r = render(body)
        an = analyze(r.lines, title_hint=_html_hint(raw, r), hints=r.hints)
        an.titles, an.h1 = _html_titles(raw, r), _h1(r)
        return an
    if kind == "text":
        an = analyze(clean_text(body), title_hint=raw.title)
        an.titles = _titles(raw)
        return an
    return None


def segment(raw: RawStory) -> Segmented:
    """Split a raw story into headline, dateline, byline, body, captions and comments.

    Never raises for a ``str`` body: an unexpected internal error yields a record with
    ``has_article=False`` (the caller can still count it).
    """
    try:
        return _segment(raw)
    except Exception:  # noqa: BLE001 - by contract segment() never raises; logged, not silent
        _log.exception(
            "segment failed internally; emitting a no-article record",
            extra={"story_id": raw.story_id, "stage": "segment"},
        )
        return _empty(raw, "text")
