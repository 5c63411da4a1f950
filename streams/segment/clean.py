"""Text normalization: line endings, HTML entities, whitespace, control characters, cheap mojibake."""

from __future__ import annotations

import html
import re

_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_MOJIBAKE_HINT = re.compile("[\u00c2\u00c3][\u0080-\u00bf]|\u00e2\u20ac")


def normalize_newlines(text: str) -> str:
    """Turn CRLF, lone CR and Unicode line/paragraph separators into LF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\u2028" in text or "\u2029" in text or "\x85" in text:
        text = text.replace("\u2028", "\n").replace("\u2029", "\n\n").replace("\x85", "\n")
    return text


def unescape_entities(text: str) -> str:
    """Resolve HTML character entities (only when there are any)."""
    if "&" in text and _ENTITY.search(text):
        return html.unescape(text)
    return text


def fix_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-cp1252/latin-1 when the whole string round-trips cleanly.

    Cheap and conservative: only tried when typical mojibake pairs occur, and only kept when
    the result is shorter (multi-byte sequences collapsed) and decodes without error.
    """
    if not _MOJIBAKE_HINT.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            fixed = text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if len(fixed) < len(text):
            return fixed
    return text


def clean_line(line: str) -> str:
    """Collapse horizontal whitespace and strip one line."""
    return _SPACES.sub(" ", line).strip()


def clean_text(text: str, strip_lines: bool = True) -> str:
    """Normalize a whole text payload; keeps line structure (blank lines preserved).

    With ``strip_lines=False`` leading indentation is kept (wire copy marks paragraphs by it).
    """
    text = normalize_newlines(text)
    text = _CTRL.sub("", text)
    text = unescape_entities(text)
    text = fix_mojibake(text)
    if strip_lines:
        # = clean_line per line: the whitespace class has no newline, so one pass does it.
        return "\n".join([line.strip() for line in _SPACES.sub(" ", text).split("\n")])
    out = []
    for line in text.split("\n"):
        body = line.lstrip()
        out.append(
            line[: len(line) - len(body)].replace("\t", "    ") + _SPACES.sub(" ", body).rstrip()
            if body
            else ""
        )
    return "\n".join(out)


def collapse(text: str) -> str:
    """Collapse all whitespace (including newlines) to single spaces."""
    return " ".join(text.split())
