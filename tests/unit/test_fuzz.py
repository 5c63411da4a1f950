"""Property-based fuzzing of decoding, segmentation and the record builder (hypothesis).

Invariants:

* ``decode_message`` either returns a ``RawStory`` or raises ``DecodeError`` with a known
  reason, for any bytes, any key and any JSON envelope (no other exception escapes);
* ``segment`` never raises on a decoded story and its record round-trips through the typed
  decoder of ``news.segmented``;
* the whole chain (decode -> segment -> enrich -> dedup verdict -> ``normalize``) never raises
  outside ``DecodeError`` and every record it builds validates against
  ``schemas/normalized_story.v1.json``.

Sized to stay fast (a few hundred examples in all, no deadline: spaCy's first call is slow).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from streams.decode import DecodeError, decode_message
from streams.dedup import DedupState, decide
from streams.dlq import fit_dead_letter
from streams.enrich import enrich_batch
from streams.metrics import DECODE_REASONS
from streams.normalize import normalize
from streams.records import RawStory, decode_segmented, encode, to_builtins
from streams.segment import segment

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(
    json.loads((REPO / "schemas" / "normalized_story.v1.json").read_text())
)
MAX = 200_000
# Every decode failure carries one of the reasons the metrics pre-register (and the README lists).
REASONS = set(DECODE_REASONS)
FAST = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FRAGMENTS = [
    "Russia's Putin accepts Japan invitation, minister says",
    "MOSCOW Tue Jan 21, 2014 8:16am EST",
    "MOSCOW (Reuters) - Russian President Vladimir Putin has accepted an invitation.",
    "By Steve Gutterman",
    "(Writing by Timothy Heritage; Editing by Jane Doe)",
    "Photo: A man walks past. REUTERS/Alexei Nikolsky",
    "Related Topics",
    "We welcome comments that advance the story.",
    "tmc wrote:\njust part of De-Americanizing the world.\nJan 21, 2014 10:03am EST",
    "<html><head><title>T</title><meta charset='utf-8'></head><body>",
    "<p>Paragraph in <b>HTML</b> &amp; entities &#x2603;</p>",
    "<script>var x = '</p>';</script>",
    "</div></body></html>",
    "CHICAGO, March 3 (Reuters) - Acme Widgets Inc said on Tuesday it raised its dividend.",
    '"We are pleased," chief executive Jane Doe said in Chicago.',
    "Updated 2024-02-30T25:61:00Z",
    "\u202e\u200b\ufeff",
    "Страница на русском языке. 日本語のテキスト。",
    "\x00\x07\x1b[31m",
]

text_payloads = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=200)), max_size=25
).map(lambda parts: "\n\n".join(parts))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
envelope_fields = {
    "id": st.one_of(st.text(max_size=40), json_values),
    "url": st.one_of(
        st.sampled_from(
            ["https://example.com/a?utm_source=x", "http://EXAMPLE.com:80/b/", "ftp://x", ""]
        ),
        json_values,
    ),
    "source": st.one_of(
        st.fixed_dictionaries({}, optional={"name": json_values, "url": json_values}), json_values
    ),
    "title": json_values,
    "published_at": st.one_of(
        st.sampled_from(["2014-01-21T13:16:00Z", "yesterday", ""]), json_values
    ),
    "fetched_at": json_values,
    "language": st.one_of(st.sampled_from(["en", "ru", "xx", ""]), json_values),
    "content_type": st.one_of(st.sampled_from(["text/html", "text/plain"]), json_values),
    "schema_version": st.one_of(st.sampled_from(["1", 1, "2"]), json_values),
}
envelopes = st.fixed_dictionaries(
    {"body": st.one_of(text_payloads, json_values)}, optional=envelope_fields
)


def _decode(value: bytes | None, key: bytes | None) -> RawStory | None:
    try:
        return decode_message(value, key, max_bytes=MAX)
    except DecodeError as exc:
        assert exc.reason in REASONS, exc.reason
        assert str(exc)
        return None


@FAST
@given(
    value=st.one_of(st.none(), st.binary(max_size=3000)),
    key=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_decode_any_bytes_returns_a_story_or_a_reasoned_error(
    value: bytes | None, key: bytes | None
) -> None:
    raw = _decode(value, key)
    if raw is not None:
        assert raw.story_id and raw.body.strip()


@FAST
@given(doc=envelopes, key=st.one_of(st.none(), st.text(max_size=30).map(str.encode)))
def test_decode_any_envelope_returns_a_story_or_a_reasoned_error(
    doc: dict[str, Any], key: bytes | None
) -> None:
    raw = _decode(orjson.dumps(doc), key)
    if raw is not None:
        assert raw.story_id
        if isinstance(doc.get("id"), str) and doc["id"]:
            assert raw.story_id == doc["id"]  # the envelope id is the story_id, unchanged


@FAST
@given(body=text_payloads, content_type=st.sampled_from([None, "text/html", "text/plain"]))
def test_segment_never_raises_and_round_trips(body: str, content_type: str | None) -> None:
    seg = segment(RawStory(story_id="fuzz", body=body, content_type=content_type))
    assert decode_segmented(encode(seg)) == seg
    assert seg.story_id == "fuzz"
    assert all(isinstance(p, str) and p for p in seg.body)


@SLOW
@given(payload=st.one_of(text_payloads.map(str.encode), envelopes.map(orjson.dumps)))
def test_record_builder_output_always_validates(payload: bytes) -> None:
    raw = _decode(payload, b"fuzz-key")
    if raw is None:
        return
    seg = segment(raw)
    enriched = enrich_batch([seg])[0]
    state = DedupState.in_memory()
    verdict = decide(enriched, state, now=time.time())
    record = to_builtins(normalize(enriched, verdict))
    errors = [f"{list(e.path)}: {e.message}" for e in VALIDATOR.iter_errors(record)]
    assert not errors, errors[:5]
    # A replay of the same story gets the same verdict (not a duplicate of itself).
    again = decide(enriched, state, now=time.time())
    assert again == verdict


@FAST
@given(
    key=st.one_of(st.none(), st.binary(max_size=9000)),
    value=st.one_of(st.none(), st.binary(max_size=20_000)),
    budget=st.integers(min_value=4096, max_value=16_000),
)
def test_dead_letter_always_fits_and_is_unchanged_when_it_can_be(
    key: bytes | None, value: bytes | None, budget: int
) -> None:
    k, v, extra = fit_dead_letter(key, value, budget)
    assert len(k or b"") + len(v or b"") <= budget
    if len(key or b"") + len(value or b"") <= budget:
        assert (k, v, extra) == (key, value, [])
    else:
        assert dict(extra)["dlq_truncated"] == b"true"
        assert (key or b"").startswith(k or b"") and (value or b"").startswith(v or b"")
