"""The whole pipeline on the real broker: news.raw -> worker -> news.stories / news.dlq."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from tests.integration.conftest import Worker, collect, send

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "data" / "000_f0e4afc2f3b2e801.txt"
SCHEMA = json.loads((REPO / "schemas" / "normalized_story.v1.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA)

WIRE_STORY = (
    "Acme Widgets raises dividend after record year\n\n"
    "CHICAGO, March 3 (Reuters) - Acme Widgets Inc said on Tuesday it raised its quarterly "
    "dividend to 25 cents a share from 20 cents after record sales of industrial widgets in "
    "Europe and Asia, chief executive Jane Doe told reporters in Chicago.\n\n"
    "The company said sales rose 12 percent to 4.1 billion dollars, helped by new plants in "
    "Poland and Vietnam, and it expects growth to continue next year.\n"
)
# Stories for the dedup tests: different events, so no test's story is a near-duplicate of
# another's in the worker's shared dedup state.
FERRY_STORY = (
    "Ferry strike halts crossings to the islands for a second day\n\n"
    "ATHENS, June 12 - Seamen's unions extended a strike that has stranded thousands of "
    "tourists at Piraeus and Rafina, the merchant marine ministry said on Thursday, as talks "
    "over pay and crew sizes broke down for the third time this month.\n\n"
    "Hotels on Naxos and Paros reported cancellations, and the coast guard said two extra "
    "military transport ships would carry medical supplies to smaller islands.\n"
)
TELESCOPE_STORY = (
    "Observatory in Chile records its first light with a giant mirror\n\n"
    "SANTIAGO, Oct 2 - Astronomers switched on a telescope with a 39-metre mirror in the "
    "Atacama desert on Wednesday, a milestone after two decades of design and construction "
    "that cost European governments about 1.5 billion euros.\n\n"
    "The first images showed a distant galaxy cluster in detail that existing instruments "
    "could not reach, the project's director told a news conference in Santiago.\n"
)


def stories_by_id(worker: Worker, ids: set[str], count: int) -> list[dict[str, object]]:
    msgs = collect(
        worker.settings,
        worker.settings.topic_stories,
        until=lambda got: sum(1 for m in got if m.key and m.key.decode() in ids) >= count,
    )
    out = []
    for m in msgs:
        if m.key and m.key.decode() in ids:
            assert m.headers.get("schema-version") == "1"
            out.append(orjson.loads(m.value))
    return out


def test_seed_story_comes_out_normalized_and_valid(worker: Worker) -> None:
    if not SEED.exists():
        pytest.skip(f"seed story not found at {SEED}")
    send(worker.settings, (None, SEED.read_bytes()))  # a bare text payload, no key
    records = collect(
        worker.settings,
        worker.settings.topic_stories,
        until=lambda got: any(b"Putin accepts Japan" in m.value for m in got),
    )
    seeds = [orjson.loads(m.value) for m in records if b"Putin accepts Japan" in m.value]
    assert seeds, f"seed never reached news.stories; worker log:\n{worker.log_tail()}"
    rec = seeds[0]
    errors = sorted(VALIDATOR.iter_errors(rec), key=str)
    assert not errors, [e.message for e in errors]
    assert rec["headline"] == "Russia's Putin accepts Japan invitation, minister says"
    assert rec["dateline"]["place"] == "MOSCOW"
    assert rec["published_at"] == "2014-01-21T13:16:00Z"
    credits = [c["credit"] for c in rec["captions"]]
    assert credits == ["Reuters/Alexei Nikolsky/RIA Novosti/Kremlin"]
    assert rec["byline"] == {
        "authors": ["Steve Gutterman"],
        "editors": ["Timothy Heritage"],
        "agency": "Reuters",
    }
    body = rec["body"]
    assert body[0].startswith("MOSCOW (Reuters) - Russian President Vladimir Putin has accepted")
    assert body[-1].endswith(
        "the first official visit to Moscow by a Japanese prime minister in a decade."
    )
    joined = "\n".join(body)
    for junk in (
        "Related Topics",
        "Credit:",
        "Writing by",
        "We welcome comments",
        "De-Americanizing",
        "Report as abuse",
    ):
        assert junk not in joined
    assert rec["comments"] == [
        {
            "author": "tmc",
            "posted_at": "2014-01-21T15:03:00Z",
            "text": "just part of De-Americanizing the world.",
        }
    ]
    ents = {(e["text"], e["type"]) for e in rec["entities"]}
    for person in ("Vladimir Putin", "Sergei Lavrov", "Shinzo Abe"):
        assert (person, "PERSON") in ents
    for place in ("Japan", "Russia", "Moscow"):
        assert (place, "LOC") in ents
    assert {"RU", "JP"} <= set(rec["countries"])
    assert rec["dedup"]["status"] == "original"


def test_bad_messages_go_to_dlq_and_the_next_good_one_passes(worker: Worker) -> None:
    tag = uuid.uuid4().hex[:8]
    bad = [
        (b"broken-" + tag.encode(), b'{"id": "x", "body": "unterminated'),
        (b"utf8-" + tag.encode(), b"caf\xe9 \xff\xfe not utf-8 at all " * 3),
        (b"empty-" + tag.encode(), b'{"id": "empty-' + tag.encode() + b'", "body": ""}'),
    ]
    good_id = f"good-{tag}"
    good = (None, orjson.dumps({"id": good_id, "body": WIRE_STORY}))
    send(worker.settings, *bad, good)

    keys = {k for k, _ in bad}
    dead = collect(
        worker.settings, worker.settings.topic_dlq, until=lambda got: keys <= {m.key for m in got}
    )
    reasons = {m.key: m.headers for m in dead if m.key in keys}
    assert set(reasons) == keys, f"missing dead letters; worker log:\n{worker.log_tail()}"
    assert reasons[bad[0][0]]["reason"] == "invalid_json"
    assert reasons[bad[1][0]]["reason"] == "invalid_utf8"
    assert reasons[bad[2][0]]["reason"] == "empty_body"
    for key, value in bad:
        headers = reasons[key]
        assert headers["stage"] == "segment"
        assert headers["source_topic"] == worker.settings.topic_raw
        assert int(headers["source_offset"]) >= 0
        assert headers["error_message"]
        original = next(m.value for m in dead if m.key == key)
        assert original == value  # the original bytes, unchanged

    records = stories_by_id(worker, {good_id}, 1)
    assert records and records[0]["headline"].startswith("Acme Widgets raises dividend")
    metrics = worker.metrics()
    assert 'newsflow_dlq_messages_total{reason="invalid_json",stage="segment"}' in metrics

    # The worker's JSON log lines say which message they are about.
    logged = log_lines(worker)
    dead_lines = [
        d for d in logged if d.get("msg") == "routed to dlq" and d.get("key") == "broken-" + tag
    ]
    assert dead_lines, f"no dlq log line for broken-{tag}"
    assert dead_lines[0]["reason"] == "invalid_json"
    assert dead_lines[0]["stage"] == "segment" and dead_lines[0]["offset"] >= 0
    written = [
        d for d in logged if d.get("msg") == "story written" and d.get("story_id") == good_id
    ]
    assert written, f"no 'story written' log line for {good_id}"
    line = written[0]
    assert line["stage"] == "dedup" and line["status"] == "original"
    assert line["topic"] == worker.settings.topic_enriched
    assert isinstance(line["partition"], int) and isinstance(line["offset"], int)


def log_lines(worker: Worker) -> list[dict[str, Any]]:
    """The worker log's JSON lines (Faust's own start-up banner lines are skipped)."""
    out = []
    for raw in worker.log_path.read_bytes().splitlines():
        if raw.startswith(b"{"):
            try:
                out.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
    return out


def test_same_story_under_two_ids_is_one_original_and_one_duplicate(worker: Worker) -> None:
    tag = uuid.uuid4().hex[:8]
    body = FERRY_STORY
    first, second = f"first-{tag}", f"second-{tag}"
    send(worker.settings, (None, orjson.dumps({"id": first, "body": body})))
    stories_by_id(worker, {first}, 1)  # the first is decided before the second arrives
    send(worker.settings, (None, orjson.dumps({"id": second, "body": body})))
    records = {r["story_id"]: r for r in stories_by_id(worker, {first, second}, 2)}
    assert records[first]["dedup"]["status"] == "original"
    assert records[second]["dedup"]["status"] == "duplicate"
    assert records[second]["dedup"]["canonical_id"] == first


def test_replayed_message_gets_the_same_verdict_not_duplicate_of_itself(worker: Worker) -> None:
    tag = uuid.uuid4().hex[:8]
    story_id = f"replay-{tag}"
    payload = orjson.dumps({"id": story_id, "body": TELESCOPE_STORY})
    send(worker.settings, (None, payload))
    stories_by_id(worker, {story_id}, 1)
    send(worker.settings, (None, payload))  # redelivery after a crash: same id, same content
    records = stories_by_id(worker, {story_id}, 2)
    assert len(records) == 2
    assert [r["dedup"]["status"] for r in records] == ["original", "original"]
    assert records[0]["dedup"] == records[1]["dedup"]


def test_web_server_serves_metrics_but_no_table_or_router_views(worker: Worker) -> None:
    """Faust's /table/... and /router/... views would expose dedup state by key: disabled."""
    base = f"http://127.0.0.1:{worker.settings.web_port}"
    assert "newsflow_worker_up" in worker.metrics()
    for path in ("/table/", "/table/dedup-urls/", "/table/dedup-stories/x/", "/router/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + path, timeout=5)
        assert refused.value.code == 404, path
