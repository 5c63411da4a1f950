"""Bytes from ``news.raw`` (or a line of a JSONL file) -> ``RawStory``, or a reasoned rejection.

A message is either a JSON envelope (``schemas/raw_story.v1.json``) or a bare text/HTML
payload. Everything that cannot become a story raises :class:`DecodeError` with a short
machine-readable ``reason`` (used as the DLQ header and metrics label) and a message that
says what to do.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from streams.records import RawStory, Source


class DecodeError(ValueError):
    """The message cannot become a story; ``reason`` is a stable label for metrics and DLQ."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_\-:.]+)""", re.I)
_TRACKING_PARAMS = re.compile(r"^(utm_|fbclid$|gclid$|mc_|ref$|cmpid$|ocid$)", re.I)
_SUPPORTED_SCHEMA_VERSIONS = {"1", 1}
_STRING_FIELDS = ("id", "url", "content_type", "title", "published_at", "fetched_at", "language")
# Share of C0 control characters (other than tab/newline/CR/form feed) above which a payload
# is binary junk, not text.
_MAX_CONTROL_SHARE = 0.05
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
# Longest story_id taken as given (envelope id or Kafka key). The id is the key of every
# internal topic and of the dedup tables' changelogs, whose topics keep the broker's default
# 1 MB message limit: an id near that size made the changelog writes fail and the dedup
# agent crash. A longer envelope id is rejected; a longer Kafka key is hashed.
MAX_ID_BYTES = 1024


def decode_message(value: bytes | None, key: bytes | None = None, *, max_bytes: int) -> RawStory:
    """Decode one raw message; raise :class:`DecodeError` with a reason if it is not a story."""
    if value is None or not value.strip():
        raise DecodeError("empty_body", "message has no payload; send a JSON envelope or a page")
    if len(value) > max_bytes:
        raise DecodeError(
            "too_large",
            f"payload is {len(value)} bytes, over the limit of {max_bytes} "
            "(NEWSFLOW_MAX_MESSAGE_BYTES); trim the page or raise the limit",
        )
    stripped = value.lstrip()
    if stripped[:1] in (b"{", b"["):
        return _decode_envelope(stripped, key)
    text = _decode_text(value)
    return RawStory(story_id=derive_story_id(None, None, key, text), body=text)


def _decode_envelope(value: bytes, key: bytes | None) -> RawStory:
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if value[:1] == b"[":  # a bare payload that happens to start with "[" is still text
            text = _decode_text(value)
            return RawStory(story_id=derive_story_id(None, None, key, text), body=text)
        raise DecodeError("invalid_json", f"JSON envelope does not parse: {exc}") from exc
    if not isinstance(doc, dict):
        raise DecodeError("invalid_envelope", "JSON envelope must be an object with a 'body'")
    return envelope_to_story(doc, key)


def envelope_to_story(doc: dict[str, Any], key: bytes | None = None) -> RawStory:
    """Validate an already parsed envelope and build the ``RawStory``."""
    version = doc.get("schema_version", "1")
    # A list/dict version is unhashable (the set lookup raised TypeError); true == 1 and
    # 1.0 == 1 must not pass for version 1 either.
    if (
        not isinstance(version, str | int)
        or isinstance(version, bool)
        or version not in _SUPPORTED_SCHEMA_VERSIONS
    ):
        raise DecodeError(
            "unsupported_schema_version",
            f"schema_version {version!r} is not supported (this worker reads 1)",
        )
    body = doc.get("body")
    if not isinstance(body, str):
        kind = type(body).__name__ if body is not None else "missing"
        raise DecodeError("invalid_envelope", f"envelope 'body' must be a string, got {kind}")
    if not body.strip():
        raise DecodeError("empty_body", "envelope 'body' is empty")
    for name in _STRING_FIELDS:
        if doc.get(name) is not None and not isinstance(doc[name], str):
            raise DecodeError(
                "invalid_envelope",
                f"envelope '{name}' must be a string, got {type(doc[name]).__name__}",
            )
    if looks_binary(body):
        raise DecodeError("binary_payload", "envelope 'body' looks like binary data, not text")
    envelope_id = doc.get("id")
    if envelope_id is not None and len(envelope_id.encode("utf-8", "replace")) > MAX_ID_BYTES:
        raise DecodeError(
            "invalid_envelope",
            f"envelope 'id' is longer than {MAX_ID_BYTES} bytes; send a shorter id or none",
        )
    source = _source(doc.get("source"), doc)
    url = doc.get("url") or source.url
    return RawStory(
        story_id=derive_story_id(envelope_id, url, key, body),
        body=body,
        content_type=doc.get("content_type"),
        source=source,
        title=doc.get("title"),
        published_at=doc.get("published_at"),
        fetched_at=doc.get("fetched_at"),
        language=doc.get("language"),
    )


def _source(value: object, doc: dict[str, Any]) -> Source:
    url = doc.get("url")
    if value is None:
        fields: dict[str, Any] = {}
    elif isinstance(value, str):
        fields = {"name": value}
    elif isinstance(value, dict):
        fields = {k: value.get(k) for k in ("name", "url", "domain", "feed")}
        for k, v in fields.items():
            if v is not None and not isinstance(v, str):
                raise DecodeError(
                    "invalid_envelope", f"envelope 'source.{k}' must be a string or null"
                )
    else:
        raise DecodeError("invalid_envelope", "envelope 'source' must be an object or a string")
    if isinstance(doc.get("feed"), str) and not fields.get("feed"):
        fields["feed"] = doc["feed"]
    if url and not fields.get("url"):
        fields["url"] = url
    if fields.get("url") and not fields.get("domain"):
        fields["domain"] = urlsplit(fields["url"]).hostname
    return Source(**fields)


def _decode_text(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        # An HTML page may declare its own charset; honour it before giving up.
        match = META_CHARSET.search(value[:4096])
        if match is None:
            raise DecodeError(
                "invalid_utf8",
                f"payload is not valid UTF-8 at byte {exc.start} and declares no charset; "
                "send UTF-8 or a JSON envelope",
            ) from exc
        charset = match.group(1).decode("ascii", "replace")
        try:
            text = value.decode(charset)
        except (LookupError, UnicodeDecodeError) as exc2:
            raise DecodeError(
                "invalid_encoding", f"payload does not decode as its declared charset {charset!r}"
            ) from exc2
    text = text.removeprefix("\ufeff")
    if looks_binary(text):
        raise DecodeError("binary_payload", "payload looks like binary data, not text")
    return text


def looks_binary(text: str) -> bool:
    """True when control characters (other than tab, newline, CR, form feed) make up more
    than 5% of the first 20,000 characters: binary junk decoded as text."""
    sample = text[:20000]
    if not sample:
        return False
    return len(_CONTROL_CHARS.findall(sample)) / len(sample) > _MAX_CONTROL_SHARE


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragments, default ports and tracking parameters."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAMS.match(k))
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    scheme = parts.scheme.lower() if parts.scheme else "http"
    if scheme == "http":
        scheme = "https"  # the same page served over both schemes is one story
    return urlunsplit((scheme, host, path, query, ""))


def derive_story_id(envelope_id: str | None, url: str | None, key: bytes | None, body: str) -> str:
    """The stable id: envelope id unchanged, else from the canonical URL, else from content.

    A Kafka key stands in for a missing envelope id or URL: a key that is a URL is
    canonicalized, any other key is used as the id (hashed to ``key-<hex>`` when it is
    longer than ``MAX_ID_BYTES``).
    """
    if envelope_id:
        return envelope_id
    if not url and key:
        key_text = key.decode("utf-8", "replace").strip()
        if key_text.startswith(("http://", "https://")):
            url = key_text
        elif len(key) > MAX_ID_BYTES:
            return "key-" + hashlib.blake2b(key, digest_size=12).hexdigest()
        elif key_text:
            return key_text
    if url:
        return "url-" + hashlib.blake2b(canonical_url(url).encode(), digest_size=12).hexdigest()
    return "sha-" + hashlib.blake2b(body.encode("utf-8"), digest_size=12).hexdigest()
