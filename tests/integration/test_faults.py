"""Fault injection, part 1: poison input and oversize output on the real broker.

One worker (module fixture) runs with ``NEWSFLOW_MAX_MESSAGE_BYTES=3_000_000`` (small enough
that a "too large" input is a 3 MB message, large enough that the 1 MB request headroom the
app adds can be exceeded by a long key, see ``test_oversize_output``). Every case is sent with
its own key, so its dead letter or its record can be found again.

Invariants (each test's docstring says which it checks):

* a bad message never crashes the worker or stops its partition: it lands on ``news.dlq`` with
  its reason headers (or, where the README documents it, becomes a valid record flagged
  ``no_article``);
* the next good message is processed;
* the group's committed offsets move past the bad messages (lag on every agent topic = 0).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from jsonschema import Draft202012Validator

from streams.decode import derive_story_id
from streams.kafka_io import Received, ensure_topics
from streams.settings import Settings
from tests.integration.conftest import (
    Worker,
    collect,
    group_lag,
    make_settings,
    send,
    start_worker,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(
    json.loads((REPO / "schemas" / "normalized_story.v1.json").read_text())
)
MAX_BYTES = 3_000_000

STORY = (
    "Acme Widgets raises dividend after record year\n\n"
    "CHICAGO, March 3 (Reuters) - Acme Widgets Inc said on Tuesday it raised its quarterly "
    "dividend to 25 cents a share after record sales in Europe and Asia, chief executive "
    "Jane Doe told reporters in Chicago.\n\n"
    "The company said sales rose 12 percent to 4.1 billion dollars.\n"
)

# Expected outcome: "dlq:<reason>" (a dead letter with that reason header), "story" (a valid
# record with an article) or "no_article" (a valid record with has_article=false and the
# no_article flag: the README's documented behaviour for a page with no article text).
DLQ = "dlq:"
STORY_OK = "story"
NO_ARTICLE = "no_article"


@dataclass(frozen=True)
class Case:
    name: str
    value: bytes | None
    expect: str


def _env(**doc: object) -> bytes:
    return orjson.dumps(doc)


def poison_cases(max_bytes: int = MAX_BYTES) -> list[Case]:
    """At least 20 kinds of bad input, each with its documented outcome."""
    rng = random.Random(8)
    names = [
        f"{first} {last} met {other} in {city}."
        for first in ("Alice", "Boris", "Chen", "Dmitri", "Erik", "Fatima", "Hiro", "Ivan")
        for last in ("Smith", "Ivanov", "Tanaka", "Garcia", "Khan", "Rossi", "Silva", "Meyer")
        for other in ("Jane Doe", "Omar Haddad", "Lena Berg", "Paulo Costa")
        for city in ("Paris", "Lagos", "Moscow", "Lima", "Osaka", "Cairo", "Oslo", "Quito")
    ]
    entity_flood = "\n\n".join(" ".join(names[i : i + 8]) for i in range(0, len(names), 8))
    bomb = gzip.compress(b"\0" * 10_000_000)
    return [
        Case("invalid-json", b'{"id": "x", "body": "unterminated', "dlq:invalid_json"),
        Case("invalid-utf8", b"caf\xe9 \xff\xfe not utf-8 at all " * 3, "dlq:invalid_utf8"),
        Case("invalid-utf8-in-json", b'{"body": "caf\xe9 au lait"}', "dlq:invalid_json"),
        Case(
            "utf16-text",
            "A story in UTF-16 without a BOM check".encode("utf-16"),
            "dlq:invalid_utf8",
        ),
        Case(
            "bogus-charset",
            b'<html><meta charset="x-no-such-charset"><body>\xff\xfe text</body></html>',
            "dlq:invalid_encoding",
        ),
        Case("body-wrong-type", _env(body=42), "dlq:invalid_envelope"),
        Case("field-wrong-type", _env(body=STORY, title=["a", "list"]), "dlq:invalid_envelope"),
        Case("source-wrong-type", _env(body=STORY, source=5), "dlq:invalid_envelope"),
        Case("missing-body", _env(title="a headline and nothing else"), "dlq:invalid_envelope"),
        Case("null-body", b'{"body": null}', "dlq:invalid_envelope"),
        Case("json-array", b'[{"body": "a story inside an array"}]', "dlq:invalid_envelope"),
        Case("empty-value", b"", "dlq:empty_body"),
        Case("null-value", None, "dlq:empty_body"),  # a tombstone
        Case("whitespace-only", b" \n\t\r\n   ", "dlq:empty_body"),
        Case("empty-envelope-body", _env(body="   \n "), "dlq:empty_body"),
        Case("too-large", b"word " * (max_bytes // 5 + 1000), "dlq:too_large"),
        Case("binary-random", rng.randbytes(4096), "dlq:invalid_utf8"),
        Case("binary-controls", bytes(range(32)) * 128, "dlq:binary_payload"),
        Case("controls-in-envelope", _env(body="\x00\x01\x02\x03\x04" * 400), "dlq:binary_payload"),
        Case("gzip-bomb-as-body", bomb, "dlq:invalid_utf8"),
        Case(
            "gzip-bomb-latin1-in-envelope",
            _env(body=bomb[:20000].decode("latin-1")),
            "dlq:binary_payload",
        ),
        Case(
            "wrong-schema-version",
            _env(schema_version="2", body=STORY),
            "dlq:unsupported_schema_version",
        ),
        Case("nan-number", b'{"body": "words", "score": NaN}', "dlq:invalid_json"),
        Case("infinite-number", b'{"body": "words", "score": 1e400}', "dlq:invalid_json"),
        Case("deep-json-object", b"{" * 50_000, "dlq:invalid_json"),
        Case("id-too-long", _env(id="i" * 5000, body=STORY), "dlq:invalid_envelope"),
        # Valid records (documented: a bare payload is text; a page without article text is a
        # record with has_article=false rather than a dead letter).
        Case("huge-number", b'{"body": "words", "n": 1' + b"0" * 400 + b"}", "dlq:invalid_json"),
        Case("deep-json-array", b"[" * 50_000, NO_ARTICLE),  # not JSON -> bare text, no article
        Case("json-scalar", b'"just a quoted string"', NO_ARTICLE),
        Case(
            "deep-html",
            b"<html><body>" + b"<div>" * 15_000 + b"Deep." + b"</div>" * 15_000 + b"</body></html>",
            NO_ARTICLE,
        ),
        Case(
            "script-only-html", b"<html><script>var a = 1;</script><body></body></html>", NO_ARTICLE
        ),
        Case(
            "control-chars-sprinkled",
            (
                "Markets rally\n\n"
                + "Shares rose \x00 in Tokyo \x1b[31m on Monday, traders said. " * 30
            ).encode(),
            STORY_OK,
        ),
        Case(
            "one-huge-line",
            " ".join(
                rng.choice(("alpha", "Moscow", "said", "market", "the")) for _ in range(60_000)
            ).encode(),
            STORY_OK,
        ),
        Case("entity-flood", _env(body="Who met whom\n\n" + entity_flood), STORY_OK),
    ]


@pytest.fixture(scope="module")
def poison_worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    tmp = tmp_path_factory.mktemp("faults-poison")
    settings = make_settings(kafka_bootstrap, tmp, max_message_bytes=MAX_BYTES)
    asyncio.run(ensure_topics(settings))
    w = start_worker(settings, tmp / "worker.log")
    try:
        yield w
    finally:
        w.stop()


def _keys(tag: str, cases: list[Case]) -> dict[bytes, Case]:
    return {f"{c.name}-{tag}".encode(): c for c in cases}


def _wait_lag_zero(settings: Settings, timeout: float = 60.0) -> dict[tuple[str, int], int]:
    deadline = time.monotonic() + timeout
    lag = group_lag(settings)
    while any(lag.values()) and time.monotonic() < deadline:
        time.sleep(1.0)
        lag = group_lag(settings)
    return lag


def _check_outcomes(
    worker: Worker, by_key: dict[bytes, Case], timeout: float = 180.0
) -> tuple[dict[bytes, Received], dict[bytes, Received]]:
    settings = worker.settings
    want_dlq = {k for k, c in by_key.items() if c.expect.startswith(DLQ)}
    want_story = set(by_key) - want_dlq
    dead = collect(
        settings,
        settings.topic_dlq,
        until=lambda got: want_dlq <= {m.key for m in got},
        timeout=timeout,
    )
    stories = collect(
        settings,
        settings.topic_stories,
        until=lambda got: want_story <= {m.key for m in got},
        timeout=timeout,
    )
    dead_by_key = {m.key: m for m in dead if m.key in want_dlq}
    story_by_key = {m.key: m for m in stories if m.key in want_story}
    missing = sorted(
        k.decode()[:60] for k in (want_dlq - set(dead_by_key)) | (want_story - set(story_by_key))
    )
    assert not missing, f"no outcome for {missing}; worker log:\n{worker.log_tail()}"
    return dead_by_key, story_by_key


@pytest.mark.slow
def test_poison_suite_goes_to_dlq_and_the_stream_moves_on(poison_worker: Worker) -> None:
    """Invariant: each of >= 20 kinds of bad input lands on news.dlq with its reason headers
    and original bytes (or is a valid, schema-checked record flagged no_article where that is
    the documented behaviour); the worker never restarts; good stories sent after the poison
    are processed; the group's committed offsets reach the end of every agent topic."""
    settings = poison_worker.settings
    tag = uuid.uuid4().hex[:8]
    cases = poison_cases()
    assert len({c.name for c in cases if c.expect.startswith(DLQ)}) >= 20
    by_key = _keys(tag, cases)
    good = {
        f"good-{tag}-{i}".encode(): Case(
            f"good-{i}", _env(body=STORY.replace("Acme", f"Acme{i}{tag}")), STORY_OK
        )
        for i in range(4)
    }
    send(settings, *((k, c.value) for k, c in by_key.items()))  # type: ignore[arg-type]  # a None value = a tombstone
    send(settings, *((k, c.value) for k, c in good.items()))  # type: ignore[arg-type]  # a None value = a tombstone

    dead, stories = _check_outcomes(poison_worker, {**by_key, **good})
    for key, msg in dead.items():
        case = by_key[key]
        h = msg.headers
        assert h["reason"] == case.expect.removeprefix(DLQ), (case.name, h)
        assert h["stage"] == "segment", (case.name, h)
        assert h["source_topic"] == settings.topic_raw
        assert int(h["source_partition"]) >= 0 and int(h["source_offset"]) >= 0
        assert h["error_class"] and h["error_message"], case.name
        assert msg.value == (case.value or b""), f"{case.name}: DLQ value is not the original bytes"
    for key, msg in stories.items():
        case = {**by_key, **good}[key]
        rec = orjson.loads(msg.value)
        errors = [e.message for e in VALIDATOR.iter_errors(rec)]
        assert not errors, (case.name, errors[:3])
        if case.expect == NO_ARTICLE:
            assert rec["has_article"] is False and "no_article" in rec["flags"], case.name
        else:
            assert rec["has_article"] is True, case.name

    lag = _wait_lag_zero(settings)
    assert not any(lag.values()), f"committed offsets did not move past the poison: {lag}"
    assert poison_worker.proc.poll() is None, "the worker exited"
    assert "crashed" not in poison_worker.log_tail(200_000).lower()
    metrics = poison_worker.metrics()
    for reason in ("invalid_json", "invalid_envelope", "empty_body", "too_large", "binary_payload"):
        assert f'reason="{reason}",stage="segment"' in metrics, reason


async def _produce_raw(
    settings: Settings, key: bytes, value: bytes, *, compression: str | None, max_request: int
) -> None:
    prod = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        compression_type=compression,
        max_request_size=max_request,
        acks="all",
    )
    await prod.start()
    try:
        await prod.send_and_wait(settings.topic_raw, value, key=key)
    finally:
        await prod.stop()


def test_broker_refuses_a_message_over_the_topic_limit(poison_worker: Worker) -> None:
    """Invariant: a plain message over the topic's max.message.bytes (NEWSFLOW_MAX_MESSAGE_BYTES
    + 1 MiB) is refused by the broker at produce time, so it never reaches the worker; the
    project's own producer refuses it before sending (its max_request_size is the same)."""
    settings = poison_worker.settings
    big = b"x" * (MAX_BYTES + 1_048_576 + 200_000)
    with pytest.raises(KafkaError) as info:
        asyncio.run(
            _produce_raw(
                settings, b"over-topic-limit", big, compression=None, max_request=64_000_000
            )
        )
    assert (
        "MessageSizeTooLarge" in type(info.value).__name__ or "too large" in str(info.value).lower()
    )
    with pytest.raises(MessageSizeTooLargeError):
        send(settings, (b"over-client-limit", big))


@pytest.mark.slow
def test_compressed_bomb_is_dead_lettered_not_a_crash_loop(poison_worker: Worker) -> None:
    """Invariant: a message that its producer compressed to a few KB passes the broker's size
    check (it checks the compressed batch) and reaches the worker at full size: a 20 MB value
    goes to news.dlq (reason too_large, cut to fit the producer, headers dlq_truncated and
    original_*_bytes), a 20 MB key with a broken value goes to news.dlq with its key cut, a
    20 MB key with a good story becomes a record with a hashed story_id; the worker's agents do
    not crash, the next message is processed and the committed offsets move on."""
    settings = poison_worker.settings
    tag = uuid.uuid4().hex[:8]
    bomb_key = f"bomb-{tag}".encode()
    huge_key = tag.encode() + b"k" * 20_000_000
    good_huge_key = tag.encode() + b"g" * 20_000_000
    for key, value in (
        (bomb_key, b" a" * 10_000_000),
        (huge_key, b'{"body": "cut'),
        (good_huge_key, STORY.replace("Acme", f"Huge{tag}").encode()),
    ):
        asyncio.run(_produce_raw(settings, key, value, compression="gzip", max_request=64_000_000))
    good_key = f"after-bomb-{tag}".encode()
    send(settings, (good_key, _env(body=STORY.replace("Acme", f"Omega{tag}"))))
    hashed_id = derive_story_id(None, None, good_huge_key, "")

    dead = collect(
        settings,
        settings.topic_dlq,
        until=lambda got: {bomb_key, huge_key[:4096]} <= {m.key for m in got},
        timeout=120,
    )
    by_key = {m.key: m for m in dead}
    assert bomb_key in by_key, f"bomb not dead-lettered; worker log:\n{poison_worker.log_tail()}"
    bomb = by_key[bomb_key]
    assert bomb.headers["reason"] == "too_large"
    assert bomb.headers["dlq_truncated"] == "true"
    assert int(bomb.headers["original_value_bytes"]) == 20_000_000
    assert len(bomb.value) <= MAX_BYTES + 1_048_576
    assert huge_key[:4096] in by_key, poison_worker.log_tail()
    keyed = by_key[huge_key[:4096]]
    assert keyed.headers["reason"] == "invalid_json"
    assert int(keyed.headers["original_key_bytes"]) == len(huge_key)
    assert keyed.value == b'{"body": "cut'
    want = {good_key, hashed_id.encode()}
    stories = collect(
        settings, settings.topic_stories, until=lambda got: want <= {m.key for m in got}
    )
    assert want <= {m.key for m in stories}, poison_worker.log_tail()
    lag = _wait_lag_zero(settings)
    assert not any(lag.values()), lag
    assert poison_worker.proc.poll() is None
    assert "Crashed reason" not in poison_worker.log_tail(1_000_000)


@pytest.mark.slow
def test_oversize_output_goes_to_dlq_not_a_crash_loop(poison_worker: Worker) -> None:
    """Invariant: an input under NEWSFLOW_MAX_MESSAGE_BYTES whose output is over it (a page
    whose 1.8 MB first paragraph is both the lead and the first body paragraph of the
    segmented record) goes to news.dlq with reason output_too_large and its original bytes;
    the worker keeps running (no agent crash, no restart loop), the next story passes and
    the committed offsets move on."""
    settings = poison_worker.settings
    tag = uuid.uuid4().hex[:8]
    para_key = f"big-para-{tag}".encode()
    big_para = ("Intro sentence with words and more words. " * 50_000)[: int(MAX_BYTES * 0.6)]
    para_value = (big_para + "\n\nSecond paragraph.\n").encode()
    assert len(para_value) < MAX_BYTES
    good_key = f"after-oversize-{tag}".encode()
    send(settings, (para_key, para_value))
    send(settings, (good_key, _env(body=STORY.replace("Acme", f"Sigma{tag}"))))

    dead = collect(
        settings,
        settings.topic_dlq,
        until=lambda got: para_key in {m.key for m in got},
        timeout=180,
    )
    by_key = {m.key: m for m in dead}
    assert para_key in by_key, poison_worker.log_tail()
    letter = by_key[para_key]
    assert letter.headers["reason"] == "output_too_large"
    assert letter.headers["stage"] == "segment"
    assert letter.headers["error_class"] == "OutputTooLarge"
    assert letter.value == para_value
    stories = collect(
        settings, settings.topic_stories, until=lambda got: good_key in {m.key for m in got}
    )
    assert good_key in {m.key for m in stories}, poison_worker.log_tail()
    lag = _wait_lag_zero(settings)
    assert not any(lag.values()), lag
    assert poison_worker.proc.poll() is None
    assert "Crashed reason" not in poison_worker.log_tail(1_000_000)
