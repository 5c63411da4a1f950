"""Authenticated Kafka (issue 8, item 9): SASL_PLAINTEXT + SCRAM-SHA-512 end to end.

This test starts its own broker (``deploy/kafka/kafka-local`` in SASL mode:
``KAFKA_SASL_SCRAM_USERS``, users created when the storage is formatted) on a free port pair
with its own state dir, so it never touches the session broker. Invariants:

* with the right credentials, ``newsflow topics`` creates the topics and a ``newsflow worker``
  turns a story on ``news.raw`` into a record on ``news.stories``;
* a client without credentials, and a worker with a wrong password, are refused: the worker
  exits non-zero within a bounded time with the broker's ``SaslAuthenticationFailed`` in its
  log (both through ``newsflow worker`` and through Faust's own connection), and nothing is
  processed (no output, no committed offset);
* the password appears in no worker log and not on ``/metrics``.

The broker is started with this process as its owner (a watchdog stops it if pytest dies)
and stopped at teardown; every worker is killed at teardown, even on failure.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import GroupCoordinatorNotAvailableError

from streams.kafka_io import KafkaUnreachable, ensure_topics
from streams.settings import Settings
from tests.integration.conftest import (
    REPO,
    WorkerPool,
    collect,
    group_lag,
    make_settings,
    send,
)
from tests.integration.test_faults_broker import Broker
from tests.integration.test_faults_crash import make_stories

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

USER = "newsflow"
PASSWORD = f"pw-{uuid.uuid4().hex}"  # unique, so a grep for it means something
WRONG = f"wrong-{uuid.uuid4().hex}"
REFUSED_WITHIN = 60.0  # seconds for a refused worker / CLI call to give up


@pytest.fixture
def sasl_broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka-state")
    broker.env["KAFKA_SASL_SCRAM_USERS"] = f"{USER}:{PASSWORD}"
    try:
        broker.start("--fresh")
        yield broker
    finally:
        broker.stop()


def _sasl_settings(bootstrap: str, tmp: Path, password: str = PASSWORD) -> Settings:
    return make_settings(
        bootstrap,
        tmp,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=USER,
        sasl_password=password,
    )


def _cli(
    settings: Settings, *args: str, log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env={**os.environ, **settings.as_env()},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=REFUSED_WITHIN + 60,
        stdin=subprocess.DEVNULL,
    )
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    return done


def _refused_worker(settings: Settings, log: Path, faust_only: bool = False) -> tuple[int, str]:
    """Run a worker that must be refused: its exit code and log. ``faust_only`` skips the
    CLI's own topic check, so Faust's connection (broker_credentials) is the one refused."""
    code = (
        "import sys; from streams.worker import app; "
        f"sys.argv = ['newsflow', 'worker', '--web-port', '{settings.web_port}', "
        "'--web-bind', '127.0.0.1']; app.main()"
    )
    cmd = ["-c", code] if faust_only else ["-m", "streams.cli", "worker"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *cmd],
            env={**os.environ, **settings.as_env()},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            rc = proc.wait(timeout=REFUSED_WITHIN)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            pytest.fail(f"a worker with a wrong password still ran after {REFUSED_WITHIN}s")
    return rc, log.read_text(errors="replace")


def _group_lag(settings: Settings, timeout: float = 60.0) -> dict[tuple[str, int], int]:
    """``group_lag`` with the right credentials, retried while the fresh broker creates
    ``__consumer_offsets`` (GroupCoordinatorNotAvailable at first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return group_lag(settings)
        except GroupCoordinatorNotAvailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_sasl_scram_worker_with_right_and_wrong_credentials(
    sasl_broker: Broker, tmp_path: Path, worker_pool: WorkerPool
) -> None:
    bootstrap = f"127.0.0.1:{sasl_broker.port}"
    settings = _sasl_settings(bootstrap, tmp_path)
    wrong = settings.replace(sasl_password=WRONG)

    # No credentials at all: the SASL listener does not talk to a PLAINTEXT client.
    plain = settings.replace(security_protocol="PLAINTEXT", sasl_username="", sasl_password="")
    with pytest.raises(KafkaUnreachable):
        asyncio.run(ensure_topics(plain, timeout=10))

    # Wrong password: `newsflow topics` fails with a clear message and creates nothing.
    refused = _cli(wrong, "topics", log=tmp_path / "topics-wrong.log")
    assert refused.returncode != 0
    assert "SaslAuthenticationFailed" in refused.stderr, refused.stderr[-3000:]
    assert "cannot connect to Kafka" in refused.stderr
    assert WRONG not in refused.stdout + refused.stderr

    # Right password: the topics are created.
    created = _cli(settings, "topics", log=tmp_path / "topics.log")
    assert created.returncode == 0, created.stderr[-3000:]
    assert settings.topic_raw in created.stdout

    stories = make_stories("sasl", 1)
    ((story_id, payload),) = stories.items()
    send(settings, (None, payload))

    # Wrong password: the worker is refused (through the CLI, and through Faust's own
    # connection) and exits non-zero; the story is not processed, no offset is committed.
    for name, faust_only in (("worker-wrong", False), ("faust-wrong", True)):
        rc, text = _refused_worker(wrong, tmp_path / f"{name}.log", faust_only)
        assert rc != 0, (name, text[-3000:])
        assert "SaslAuthenticationFailed" in text, (name, text[-3000:])
        assert WRONG not in text, name
    nothing = collect(settings, settings.topic_stories, lambda got: bool(got), timeout=5)
    assert nothing == []
    assert sum(_group_lag(settings).values()) == 1  # the story, uncommitted on news.raw

    # Right password: the same story comes out on news.stories.
    worker = worker_pool.start(settings, "worker")
    out = collect(settings, settings.topic_stories, lambda got: bool(got), timeout=120)
    assert [m.key for m in out] == [story_id.encode()], worker.log_tail()
    assert out[0].json()["story_id"] == story_id  # type: ignore[index]

    # The password is on no log line and not on /metrics.
    metrics = worker.metrics()
    assert "newsflow_" in metrics
    assert PASSWORD not in metrics
    worker.stop()
    for log in tmp_path.glob("*.log"):
        text = log.read_text(errors="replace")
        assert PASSWORD not in text, log.name
        assert WRONG not in text, log.name
    server_logs = (tmp_path / "kafka-state" / "logs").glob("*")
    for log in server_logs:
        assert PASSWORD not in log.read_text(errors="replace"), log.name
