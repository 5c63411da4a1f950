"""Fault injection, part 3: the broker restarts under a running worker.

This test starts its own broker (``deploy/kafka/kafka-local``) on a free port pair with its
own state dir, so stopping it does not disturb the session broker the other tests share. The
broker is stopped with this process as its owner (a watchdog stops it if pytest dies) and
always stopped at teardown.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.kafka_io import ensure_topics
from tests.integration.conftest import KAFKA_LOCAL, Worker, WorkerPool, make_settings, send
from tests.integration.test_faults_crash import (
    FAST_FAILOVER,
    StoryCollector,
    _record,
    _repeats,
    _wait_lag_zero,
    make_stories,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BROKER_STORIES = int(os.environ.get("NEWSFLOW_FAULT_BROKER_STORIES", "1000"))
DOWNTIME_SECONDS = 8.0
OUTAGE_SECONDS = 15.0


def _free_port_pair() -> int:
    """A port p with p and p + 1 (the KRaft controller port) both free."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


class Broker:
    def __init__(self, state: Path) -> None:
        self.port = _free_port_pair()
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_STATE_DIR": str(state),
            "PYTHON": sys.executable,
        }
        self.env.pop("KAFKA_OWNER_PID", None)

    def _run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KAFKA_LOCAL), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *extra: str) -> str:
        done = self._run("start", *extra, "--owner-pid", str(os.getpid()))
        if done.returncode != 0:
            raise RuntimeError(f"broker did not start:\n{done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        self._run("stop", timeout=120)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka-state")
    try:
        broker.start("--fresh")
        yield broker
    finally:
        broker.stop()


def test_broker_restart_mid_stream_loses_nothing(
    own_broker: Broker, tmp_path: Path, worker_pool: WorkerPool
) -> None:
    """Invariant: stop the broker (clean stop, same state dir) while stories flow, keep it
    down for DOWNTIME_SECONDS, start it again: the same worker process, untouched, reconnects
    and every story_id comes out on news.stories; repeats carry the same verdict; lag 0."""
    _outage(own_broker, tmp_path, worker_pool, "broker_restart", DOWNTIME_SECONDS, {})


def test_outage_longer_than_the_producer_timeout_loses_nothing(
    own_broker: Broker, tmp_path: Path, worker_pool: WorkerPool
) -> None:
    """Invariant: with the producer's request timeout (3 s) far shorter than the outage
    (OUTAGE_SECONDS), deliveries in flight fail with timeouts; the agents send them again
    once the broker is back instead of crashing or committing the batch: nothing is lost, the
    worker recovers by itself, and the failed sends are counted as retriable."""
    worker = _outage(
        own_broker, tmp_path, worker_pool, "broker_outage_over_producer_timeout",
        OUTAGE_SECONDS, {"PRODUCER_REQUEST_TIMEOUT": "3"},
    )  # fmt: skip
    retried = sum(
        float(line.rsplit(" ", 1)[1])
        for line in worker.metrics().splitlines()
        if line.startswith("newsflow_send_failures_total{") and 'retriable="true"' in line
    )
    assert retried > 0, "no send timed out: the outage did not exceed the producer timeout"


def _outage(
    own_broker: Broker,
    tmp_path: Path,
    worker_pool: WorkerPool,
    name: str,
    downtime: float,
    worker_env: dict[str, str],
) -> Worker:
    bootstrap = f"127.0.0.1:{own_broker.port}"
    settings = make_settings(bootstrap, tmp_path, partitions=4)
    asyncio.run(ensure_topics(settings))
    tag = uuid.uuid4().hex[:6]
    stories = make_stories(f"broker-{tag}", BROKER_STORIES, 5)
    ids = set(stories)
    worker = worker_pool.start(settings, "worker", {**FAST_FAILOVER, **worker_env})
    send(settings, *((k.encode(), v) for k, v in stories.items()))
    with StoryCollector(settings) as out:
        before = out.wait_for(ids, BROKER_STORIES // 4, timeout=240)
        assert len(before) >= BROKER_STORIES // 4, worker.log_tail()
    stopped_after = len(before)
    t_stop = time.monotonic()
    own_broker.stop()
    time.sleep(downtime)
    own_broker.start()
    t_up = time.monotonic()
    assert worker.proc.poll() is None, f"worker died with the broker:\n{worker.log_tail()}"
    with StoryCollector(settings) as out:
        seen = out.wait_for(ids, BROKER_STORIES, timeout=300)
        t_done = time.monotonic()
        lag = _wait_lag_zero(settings, timeout=90)
        records = out.snapshot()
    missing = ids - seen
    assert not missing, f"lost {len(missing)}: {sorted(missing)[:5]}\n{worker.log_tail()}"
    assert worker.proc.poll() is None, "the worker exited; it should recover by itself"
    assert not any(lag.values()), lag
    total, repeated, disagree = _repeats(records, ids)
    assert not disagree, disagree[:5]
    _record(
        name,
        {
            "stories": BROKER_STORIES,
            "outputs_before_stop": stopped_after,
            "broker_down_seconds": round(t_up - t_stop, 1),
            "seconds_from_broker_up_to_drained": round(t_done - t_up, 1),
            "output_messages": total,
            "repeated_outputs": repeated,
        },
    )
    return worker
