"""`newsflow dlq replay` on the real broker: chosen dead letters go back to news.raw unchanged.

No worker runs here (nothing consumes news.raw), so what the command sent can be read back
exactly. The dead letters carry the headers the agents write (``streams.dlq.dlq_headers``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from streams.dlq import Failure, dlq_headers
from streams.kafka_io import ensure_topics, producer
from streams.settings import Settings
from tests.integration.conftest import REPO, collect, make_settings

pytestmark = pytest.mark.integration

# (dlq partition, key, value, stage, reason, source topic suffix, source offset)
LETTERS = [
    (0, b"k-a", b'{"id": "a", "body": "cut off', "segment", "invalid_json", "raw", 3),
    (0, None, b"", "segment", "empty_body", "raw", 4),
    (1, b"k-b", b"\xff\xfe binary", "segment", "binary_payload", "raw", 7),
    (1, b"story-9", b'{"story_id": "story-9"}', "enrich", "stage_error", "segmented", 2),
    (1, b"k-c", b'{"id": "c", "body": "also cut', "segment", "invalid_json", "raw", 9),
]


async def _fill_dlq(settings: Settings) -> None:
    await ensure_topics(settings)
    prod = producer(settings)
    await prod.start()
    try:
        for partition, key, value, stage, reason, source, offset in LETTERS:
            topic = settings.topic_raw if source == "raw" else settings.topic_segmented
            failure = Failure(stage, reason, "Error", f"{reason} for the test")
            fut = await prod.send(
                settings.topic_dlq,
                value,
                key=key,
                partition=partition,
                headers=dlq_headers(failure, topic, 0, offset),
            )
            await fut
    finally:
        await prod.stop()


def _replay(settings: Settings, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dlq", "replay", *args],
        env={**os.environ, **settings.as_env()},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    summary: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
    return summary


@pytest.fixture(scope="module")
def dlq_settings(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = make_settings(kafka_bootstrap, tmp_path_factory.mktemp("dlq-replay"))
    asyncio.run(_fill_dlq(settings))
    return settings


def test_dry_run_counts_and_sends_nothing(dlq_settings: Settings) -> None:
    summary = _replay(dlq_settings, "--dry-run")
    assert summary["scanned"] == 5 and summary["matched"] == 5
    assert summary["skipped_not_raw"] == 1  # the enrich failure holds an internal record
    assert summary["sent"] == 0 and summary["dry_run"] is True
    assert summary["destinations"] == {dlq_settings.topic_raw: 4}


def test_replay_by_reason_sends_original_key_and_bytes(dlq_settings: Settings) -> None:
    s = dlq_settings
    summary = _replay(s, "--reason", "invalid_json", "--reason", "binary_payload")
    assert summary["sent"] == 3
    assert summary["by_reason"] == {"binary_payload": 1, "invalid_json": 2}
    got = collect(s, s.topic_raw, until=lambda msgs: len(msgs) >= 3, timeout=30)
    assert len(got) == 3
    sent = sorted((m.key, m.value) for m in got)
    want = sorted(
        (k, v) for _, k, v, _, r, _, _ in LETTERS if r in {"invalid_json", "binary_payload"}
    )
    assert sent == want
    origins = {m.headers["replayed_from"] for m in got}
    assert origins == {f"{s.topic_dlq}:0:0", f"{s.topic_dlq}:1:0", f"{s.topic_dlq}:1:2"}


def test_replay_by_offset_range_and_stage_to_source(dlq_settings: Settings) -> None:
    s = dlq_settings
    # Partition 1, offsets 1..1 is the enrich failure: only --to-source sends it (to its topic).
    summary = _replay(s, "--partition", "1", "--from-offset", "1", "--to-offset", "1")
    assert (summary["matched"], summary["sent"], summary["skipped_not_raw"]) == (1, 0, 1)
    summary = _replay(
        s, "--stage", "enrich", "--partition", "1", "--from-offset", "1", "--to-offset", "1",
        "--to-source",
    )  # fmt: skip
    assert summary["sent"] == 1
    assert summary["destinations"] == {s.topic_segmented: 1}
    got = collect(s, s.topic_segmented, until=lambda msgs: len(msgs) >= 1, timeout=30)
    assert [(m.key, m.value) for m in got] == [(b"story-9", b'{"story_id": "story-9"}')]


def test_bad_range_and_missing_topic_are_clear_errors(dlq_settings: Settings) -> None:
    env = {**os.environ, **dlq_settings.as_env()}
    bad = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dlq", "replay", "--from-offset", "5", "--to-offset", "2"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert bad.returncode == 2 and "--from-offset" in bad.stderr
    env["NEWSFLOW_TOPIC_DLQ"] = "no.such.dlq.topic"
    missing = subprocess.run(
        [sys.executable, "-m", "streams.cli", "dlq", "replay"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr
