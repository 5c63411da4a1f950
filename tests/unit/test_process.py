"""`newsflow process`: the stages over JSONL, no Kafka; records validate against the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "data" / "000_f0e4afc2f3b2e801.txt"
SAMPLES = REPO / "samples"
VALIDATOR = Draft202012Validator(
    json.loads((REPO / "schemas" / "normalized_story.v1.json").read_text())
)


def run_process(tmp_path: Path, lines: list[bytes]) -> tuple[list[dict], list[dict], str]:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out, dlq = tmp_path / "out.jsonl", tmp_path / "dlq.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "process", str(src), str(out), "--dlq", str(dlq)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    failures = [orjson.loads(x) for x in dlq.read_bytes().splitlines()]
    return records, failures, done.stderr


def sample_lines() -> list[bytes]:
    lines = []
    for path in sorted(SAMPLES.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".json":
            try:
                lines.append(orjson.dumps(orjson.loads(data)))
            except orjson.JSONDecodeError:
                lines.append(data.replace(b"\n", b" ").strip())
        else:
            lines.append(orjson.dumps({"body": data.decode()}))
    return lines


def test_samples_in_order_valid_with_duplicate_and_failure(tmp_path: Path) -> None:
    lines = [*sample_lines(), b"\xff\xfe invalid utf-8 line"]
    records, failures, stderr = run_process(tmp_path, lines)
    assert len(records) + len(failures) == len(lines)
    for rec in records:
        errors = [e.message for e in VALIDATOR.iter_errors(rec)]
        assert not errors, (rec["story_id"], errors)
    by_id = {r["story_id"]: r for r in records}
    assert by_id["wire-santos-0209"]["dedup"]["status"] == "original"
    assert by_id["syndicated-santos-0209"]["dedup"] == {
        "status": "duplicate", "canonical_id": "wire-santos-0209", "similarity": 1.0}
    assert {f["reason"] for f in failures} == {"invalid_json", "invalid_utf8"}
    assert all("payload" in f or "payload_b64" in f for f in failures)
    assert '"failed":2' in stderr


def test_seed_through_process(tmp_path: Path) -> None:
    if not SEED.exists():
        pytest.skip("seed story not available")
    line = orjson.dumps({"id": "seed", "body": SEED.read_text()})
    records, failures, _ = run_process(tmp_path, [line])
    assert not failures
    rec = records[0]
    assert rec["headline"] == "Russia's Putin accepts Japan invitation, minister says"
    assert rec["published_at"] == "2014-01-21T13:16:00Z"
    assert {"RU", "JP"} <= set(rec["countries"])
    people = {e["text"] for e in rec["entities"] if e["type"] == "PERSON"}
    assert {"Vladimir Putin", "Sergei Lavrov", "Shinzo Abe"} <= people
    assert rec["word_count"] > 200


def test_stdin_stdout_and_bare_lines(tmp_path: Path) -> None:
    body = b"Officials in Lisbon said on Monday the bridge would reopen after repairs to its deck."
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "process", "-", "-"], input=body + b"\n",
        capture_output=True, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    (rec,) = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert rec["story_id"].startswith("sha-")


def test_missing_input_file_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "process", str(tmp_path / "nope.jsonl"), "-"],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr
