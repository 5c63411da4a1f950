"""Integration tests for deploy/kafka/kafka-local (a real Kafka broker from Maven jars).

Each test starts its own broker on a non-default port with its own state dir under
tmp_path, so it never touches a developer's broker on 9092. Needs Java 17+ (and Maven
the first time, to fetch the jars into deploy/kafka/lib/).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "kafka" / "kafka-local"
PORT = int(os.environ.get("KAFKA_LOCAL_TEST_PORT", "19092"))
OWNER_TEST_PORT = PORT + 100

# start may include a first-time `fetch` (maven), hence the generous outer bound;
# the broker's own readiness wait is bounded by KAFKA_START_TIMEOUT.
START_TIMEOUT_S = 300
CMD_TIMEOUT_S = 60

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("kafka-local needs Java 17+ (no java on PATH)", allow_module_level=True)


def _env(state_dir: Path, port: int) -> dict[str, str]:
    env = os.environ.copy()
    env.pop("KAFKA_OWNER_PID", None)
    env.update(
        KAFKA_PORT=str(port),
        KAFKA_CONTROLLER_PORT=str(port + 1),
        KAFKA_STATE_DIR=str(state_dir),
        KAFKA_START_TIMEOUT="90",
        KAFKA_STOP_TIMEOUT="30",
        PYTHON=sys.executable,
    )
    return env


def _run(
    env: dict[str, str], *args: str, timeout: float = CMD_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _gone(pid: int) -> bool:
    """True if pid no longer exists or is a zombie (it has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.2)
    return _gone(pid)


class _Broker:
    def __init__(self, state_dir: Path, port: int) -> None:
        self.state_dir = state_dir
        self.port = port
        self.env = _env(state_dir, port)

    @property
    def pid(self) -> int:
        return int((self.state_dir / "kafka.pid").read_text().strip())

    def start(self, *extra: str) -> str:
        res = _run(self.env, "start", *extra, timeout=START_TIMEOUT_S)
        assert res.returncode == 0, f"start failed ({res.returncode}):\n{res.stderr[-4000:]}"
        out: str = res.stdout.strip()
        return out

    def status(self) -> int:
        return _run(self.env, "status").returncode

    def stop(self) -> subprocess.CompletedProcess[str]:
        return _run(self.env, "stop", timeout=CMD_TIMEOUT_S + 30)


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[[int], _Broker]]:
    brokers: list[_Broker] = []

    def make(port: int) -> _Broker:
        b = _Broker(tmp_path / f"kafka-{port}", port)
        brokers.append(b)
        return b

    yield make
    for b in brokers:  # never leave a broker behind, whatever the test did
        with contextlib.suppress(subprocess.TimeoutExpired):
            b.stop()


async def _roundtrip(bootstrap: str) -> list[bytes]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"kafka-local-test-{uuid.uuid4().hex[:8]}"
    payloads = [f"msg-{i}".encode() for i in range(3)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=20000)
    await asyncio.wait_for(producer.start(), 30)
    try:
        for p in payloads:  # the first send auto-creates the topic
            await asyncio.wait_for(producer.send_and_wait(topic, p, key=b"k"), 30)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"g-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await asyncio.wait_for(consumer.start(), 30)
    got: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < len(payloads) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for msgs in batches.values():
                got.extend(m.value for m in msgs)
        await asyncio.wait_for(consumer.commit(), 30)
    finally:
        await consumer.stop()
    assert got == payloads
    return got


def test_start_status_roundtrip_stop(broker_factory: Callable[[int], _Broker]) -> None:
    b = broker_factory(PORT)
    assert b.status() != 0

    bootstrap = b.start("--owner-pid", str(os.getpid()))
    assert bootstrap == f"127.0.0.1:{PORT}"
    pid = b.pid
    assert not _gone(pid)
    assert b.status() == 0
    assert (b.state_dir / "logs" / "server.log").exists()

    asyncio.run(_roundtrip(bootstrap))

    # A second start on a running, answering broker is a no-op success.
    assert b.start() == bootstrap
    assert b.pid == pid

    res = b.stop()
    assert res.returncode == 0, res.stderr
    assert _wait_gone(pid, 5), f"broker pid {pid} still running after stop"
    assert not (b.state_dir / "kafka.pid").exists()
    assert not (b.state_dir / "watchdog.pid").exists()
    assert b.status() != 0
    # stop is idempotent
    assert b.stop().returncode == 0


def test_owner_death_stops_broker(broker_factory: Callable[[int], _Broker]) -> None:
    b = broker_factory(OWNER_TEST_PORT)
    owner = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
    try:
        assert b.start("--owner-pid", str(owner.pid)) == f"127.0.0.1:{OWNER_TEST_PORT}"
        pid = b.pid
        assert b.status() == 0
    finally:
        owner.kill()
        owner.wait(10)
    # The watchdog polls once a second, then stops the broker (SIGTERM, bounded).
    assert _wait_gone(pid, 45), f"broker pid {pid} survived its owner"
    assert b.status() != 0
