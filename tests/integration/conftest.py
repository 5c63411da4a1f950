"""Fixtures that run the real thing: the local Kafka broker and a `newsflow worker` process.

The broker is started once per test session by ``deploy/kafka/kafka-local`` on its own port
and state dir (``NEWSFLOW_TEST_KAFKA_PORT``, default 39092), with this process as its owner so
it stops even if pytest is killed. Each worker fixture gets unique topic names, app id, data
dir and web port, so tests never see each other's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.kafka_io import (
    Outgoing,
    Received,
    consume,
    ensure_topics,
    kafka_client_kwargs,
    produce,
)
from streams.settings import Settings

REPO = Path(__file__).resolve().parents[2]
KAFKA_LOCAL = REPO / "deploy" / "kafka" / "kafka-local"
KAFKA_PORT = int(os.environ.get("NEWSFLOW_TEST_KAFKA_PORT", "39092"))
WORKER_READY_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BrokerStartError(RuntimeError):
    """A broker script's ``start`` failed or timed out (the message has its stderr's tail)."""


@contextlib.contextmanager
def owned_broker(
    script: Path,
    env_vars: dict[str, str],
    *,
    log: Path,
    timeout: float = 600,
    stop_timeout: float = 180,
) -> Iterator[str]:
    """Start ``script`` (``kafka-local`` or ``kafka-cluster``) owned by this process (its
    watchdog stops the broker if we die), yield the bootstrap address, and always stop it,
    also after a failed or timed-out start. The start's stderr goes to ``log``, so a failure
    shows how far the start got."""
    env = {**os.environ, **env_vars, "PYTHON": sys.executable}
    env.pop("KAFKA_OWNER_PID", None)

    def tail() -> str:
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    try:
        with log.open("w") as err:
            try:
                started = subprocess.run(
                    [str(script), "start", "--fresh", "--owner-pid", str(os.getpid())],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    text=True,
                    timeout=timeout,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired as exc:
                raise BrokerStartError(
                    f"{script.name} start timed out ({timeout:.0f} s):\n{tail()}"
                ) from exc
        if started.returncode != 0:
            raise BrokerStartError(f"{script.name} did not start:\n{tail()}")
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(
            [str(script), "stop"],
            env=env,
            capture_output=True,
            timeout=stop_timeout,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("integration tests need Java 17+ for the local Kafka broker")
    state = tmp_path_factory.mktemp("kafka-state")
    env = {"KAFKA_PORT": str(KAFKA_PORT), "KAFKA_STATE_DIR": str(state)}
    try:
        with owned_broker(KAFKA_LOCAL, env, log=state.parent / "kafka-start.err") as bootstrap:
            yield bootstrap
    except BrokerStartError as exc:
        pytest.fail(f"local Kafka did not start: {exc}")


def make_settings(bootstrap: str, tmp: Path, **overrides: object) -> Settings:
    tag = uuid.uuid4().hex[:8]
    base = Settings(
        broker=f"kafka://{bootstrap}",
        app_id=f"newsflow-test-{tag}",
        topic_raw=f"t{tag}.news.raw",
        topic_segmented=f"t{tag}.news.segmented",
        topic_enriched=f"t{tag}.news.enriched",
        topic_stories=f"t{tag}.news.stories",
        topic_dlq=f"t{tag}.news.dlq",
        partitions=2,
        web_port=free_port(),
        data_dir=str(tmp / "data"),
        log_format="json",
        enrich_batch_seconds=0.1,
    )
    return base.replace(**overrides)


@dataclass
class Worker:
    settings: Settings
    proc: subprocess.Popen[bytes]
    log_path: Path

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.settings.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_worker(
    settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None
) -> Worker:
    env = {**os.environ, **settings.as_env(), **(extra_env or {})}
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    worker = Worker(settings, proc, log_path)
    deadline = time.monotonic() + WORKER_READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}:\n{worker.log_tail()}")
        try:
            worker.metrics()
            return worker
        except OSError:
            time.sleep(0.5)
    worker.stop(signal.SIGKILL)
    raise RuntimeError(f"worker not ready in {WORKER_READY_TIMEOUT}s:\n{worker.log_tail()}")


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    tmp = tmp_path_factory.mktemp("worker")
    settings = make_settings(kafka_bootstrap, tmp)
    asyncio.run(ensure_topics(settings))
    w = start_worker(settings, tmp / "worker.log")
    try:
        yield w
    finally:
        w.stop()


def send(settings: Settings, *messages: tuple[bytes | None, bytes]) -> None:
    asyncio.run(produce(settings, [Outgoing(k, v, "test") for k, v in messages]))


def collect(
    settings: Settings,
    topic: str,
    until: Callable[[list[Received]], bool],
    timeout: float = 90.0,
) -> list[Received]:
    """Read ``topic`` from the beginning until ``until(records)`` holds or ``timeout`` passes."""

    async def run() -> list[Received]:
        got: list[Received] = []

        async def read() -> None:
            async for msg in consume(settings, [topic], from_beginning=True, idle_timeout=None):
                got.append(msg)
                if until(got):
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(read(), timeout)
        return got

    return asyncio.run(run())


def group_lag(settings: Settings, topics: list[str] | None = None) -> dict[tuple[str, int], int]:
    """Messages the worker group (``settings.app_id``) has not committed, per topic-partition.

    ``end offset - committed offset`` from the broker itself (ListOffsets + OffsetFetch); a
    partition the group never committed counts from offset 0. Defaults to the three topics
    the agents consume.
    """
    names = topics or [settings.topic_raw, settings.topic_segmented, settings.topic_enriched]

    async def run() -> dict[tuple[str, int], int]:
        admin = AIOKafkaAdminClient(**kafka_client_kwargs(settings))
        consumer = AIOKafkaConsumer(**kafka_client_kwargs(settings))
        await admin.start()
        await consumer.start()
        try:
            described = await admin.describe_topics(names)
            tps = [
                TopicPartition(t["topic"], p["partition"])
                for t in described
                for p in t["partitions"]
            ]
            ends = await consumer.end_offsets(tps)
            # A fresh broker answers "coordinator not available" until __consumer_offsets is
            # ready: retriable, so retry (bounded) instead of failing the test.
            for attempt in range(60):
                try:
                    committed = await admin.list_consumer_group_offsets(settings.app_id)
                    break
                except KafkaError as exc:
                    if not exc.retriable or attempt == 59:
                        raise
                    await asyncio.sleep(0.5)
            lag = {}
            for tp in tps:
                meta = committed.get(tp)
                position = meta.offset if meta is not None and meta.offset >= 0 else 0
                lag[(tp.topic, tp.partition)] = ends[tp] - position
            return lag
        finally:
            await consumer.stop()
            await admin.close()

    return asyncio.run(run())


class WorkerPool:
    """Starts workers for one test and kills every one of them at teardown, even on failure."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[Worker] = []

    def start(
        self, settings: Settings, name: str = "worker", extra_env: dict[str, str] | None = None
    ) -> Worker:
        w = start_worker(settings, self.tmp / f"{name}.log", extra_env)
        self.started.append(w)
        return w

    def close(self) -> None:
        for w in self.started:
            with contextlib.suppress(Exception):
                w.stop(signal.SIGKILL, timeout=10)


@pytest.fixture
def worker_pool(tmp_path: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(tmp_path)
    try:
        yield pool
    finally:
        pool.close()
