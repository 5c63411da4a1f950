"""Raw bytes -> RawStory, and the reasons bad input is rejected with."""

from __future__ import annotations

import orjson
import pytest

from streams.decode import DecodeError, canonical_url, decode_message, derive_story_id

MAX = 1_000_000


def reason_of(value: bytes | None, key: bytes | None = None) -> str:
    with pytest.raises(DecodeError) as info:
        decode_message(value, key, max_bytes=MAX)
    return info.value.reason


def test_envelope_id_is_the_story_id_unchanged() -> None:
    raw = decode_message(orjson.dumps({"id": "Abc/1 x", "body": "Some text"}), None, max_bytes=MAX)
    assert raw.story_id == "Abc/1 x"
    assert raw.body == "Some text"


def test_envelope_fields_and_source() -> None:
    env = {"body": "<p>x</p>", "url": "https://Example.com/a?utm_source=x", "title": "T",
           "content_type": "text/html", "source": {"name": "Ex", "feed": "f"},
           "published_at": "2026-01-01T00:00:00Z"}
    raw = decode_message(orjson.dumps(env), None, max_bytes=MAX)
    assert raw.story_id.startswith("url-")
    assert raw.source.name == "Ex" and raw.source.feed == "f"
    assert raw.source.url == env["url"] and raw.source.domain == "example.com"
    assert raw.content_type == "text/html" and raw.title == "T"


def test_story_id_from_url_ignores_tracking_and_scheme() -> None:
    a = derive_story_id(None, "http://example.com/news/1/?utm_campaign=z#top", None, "x")
    b = derive_story_id(None, "https://EXAMPLE.com/news/1", None, "y")
    assert a == b
    assert canonical_url("https://example.com:443/a/?b=2&a=1") == "https://example.com/a?a=1&b=2"


def test_bare_payload_id_from_content_is_stable_and_key_is_used() -> None:
    a = decode_message(b"Some story text", None, max_bytes=MAX)
    b = decode_message(b"Some story text", None, max_bytes=MAX)
    assert a.story_id == b.story_id and a.story_id.startswith("sha-")
    assert decode_message(b"text", b"my-key", max_bytes=MAX).story_id == "my-key"
    keyed = decode_message(b"text", b"https://example.com/x", max_bytes=MAX)
    assert keyed.story_id == derive_story_id(None, "https://example.com/x", None, "other")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty_body"),
        (b"", "empty_body"),
        (b"  \n ", "empty_body"),
        (b'{"id": "x", "body": "cut', "invalid_json"),
        (b'{"id": "x"}', "invalid_envelope"),
        (b'{"id": "x", "body": 42}', "invalid_envelope"),
        (b'{"id": 7, "body": "ok"}', "invalid_envelope"),
        (b'{"body": "ok", "source": 5}', "invalid_envelope"),
        (b'{"body": ""}', "empty_body"),
        (b'{"body": "x", "schema_version": "2"}', "unsupported_schema_version"),
        (b"caf\xe9 \xff not utf-8", "invalid_utf8"),
        (bytes(range(0, 32)) * 50, "binary_payload"),
    ],
)
def test_bad_input_has_a_reason(value: bytes | None, reason: str) -> None:
    assert reason_of(value) == reason


def test_too_large() -> None:
    with pytest.raises(DecodeError) as info:
        decode_message(b"x" * 101, None, max_bytes=100)
    assert info.value.reason == "too_large"
    assert "NEWSFLOW_MAX_MESSAGE_BYTES" in str(info.value)


def test_html_declaring_its_charset_is_decoded() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body>café “x”</body></html>'
    raw = decode_message(page.encode("cp1252"), None, max_bytes=MAX)
    assert "café “x”" in raw.body


def test_a_json_array_line_is_a_payload_not_an_envelope() -> None:
    assert reason_of(b"[1, 2]") == "invalid_envelope"
    raw = decode_message(b"[Reuters] text that starts with a bracket", None, max_bytes=MAX)
    assert raw.body.startswith("[Reuters]")
