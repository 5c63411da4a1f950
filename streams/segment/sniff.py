"""Decide what a payload is: an HTML page, clean wire copy, a plain-text page dump, or nothing."""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["html", "text", "wire", "empty"]

_HTML_START = re.compile(
    r"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title|div|p|table)\b",
    re.I | re.S,
)
_TAG = re.compile(
    r"</?(?:html|head|body|div|p|span|a|table|tr|td|br|img|script|style|meta|link|h[1-6]|ul|li)\b[^>]*>",
    re.I,
)
_WIRE_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z.'\- ]{1,40}(?:/[A-Z][A-Z.'\- ]+)?(?:,\s*[A-Z][a-z.]+(?:\s[A-Z][a-z.]+)?)?,\s*"
    r"(?:Jan|Feb|Mar|Apr|May|June?|July?|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\s*(?:\([A-Za-z ]+\)\s*)?-{1,2}\s",
    re.M,
)
_WIRE_TRAILER = re.compile(r"\n\s*(?:Reuter|REUTER|Reuters|AP|AFP)\s*\.?\s*$")


def sniff(body: str, content_type: str | None = None) -> Kind:
    """Classify a decoded payload. ``content_type`` wins when it says HTML or plain text."""
    if not body or not body.strip():
        return "empty"
    ct = (content_type or "").lower()
    head = body[:4096]
    if "html" in ct or "xml" in ct:
        return "html"
    if "text/plain" not in ct:
        if _HTML_START.match(head):
            return "html"
        tags = len(_TAG.findall(head))
        if tags >= 5 and tags * 40 > len(head.split("\n")):
            return "html"
    # Clean wire copy: a wire dateline near the start, or a Reuter(s) trailer, and few lines
    # that look like page furniture.
    start = body.lstrip()[:600]
    if _WIRE_DATELINE.search(start) or _WIRE_TRAILER.search(body[-200:]):
        lines = [s for s in body.split("\n") if s.strip()]
        short = sum(1 for s in lines if len(s.split()) <= 3)
        if len(lines) < 400 and short <= max(3, len(lines) // 8):
            return "wire"
    return "text"
