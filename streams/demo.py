"""``newsflow demo``: the whole job on this machine, with a watched inbox folder.

1. starts the local Kafka broker (``deploy/kafka/kafka-local``), owned by this process;
2. creates the topics and starts a ``newsflow worker`` process;
3. feeds the bundled sample stories (``samples/``);
4. keeps going: every file dropped into the inbox folder is sent to ``news.raw`` once by the
   folder connector (``streams.ingest.folder``; then moved to ``inbox/done/``), and every record on ``news.stories`` is printed and
   appended to the output JSONL file;
5. Ctrl-C (or ``--duration``) stops the worker and the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from streams.ingest.config import IngestConfig
from streams.ingest.folder import FolderWatcher
from streams.ingest.producer import KafkaSink
from streams.ingest.state import SeenStore
from streams.kafka_io import consume, ensure_topics, messages_from_file, produce
from streams.settings import Settings
from streams.tail import format_dead_letter, format_story

REPO = Path(__file__).resolve().parents[1]
KAFKA_LOCAL = REPO / "deploy" / "kafka" / "kafka-local"
SAMPLES = REPO / "samples"


def say(msg: str) -> None:
    print(f"newsflow demo: {msg}", file=sys.stderr, flush=True)


def start_broker(settings: Settings) -> str | None:
    """Start the local broker; returns its port, or None if one was already running (which
    the demo then leaves running when it stops)."""
    port = settings.bootstrap_servers.split(",")[0].rsplit(":", 1)[-1]
    env = {**os.environ, "KAFKA_PORT": port}
    running = subprocess.run([str(KAFKA_LOCAL), "status"], env=env, capture_output=True,
                             timeout=60, stdin=subprocess.DEVNULL, check=False)
    if running.returncode == 0:
        say(f"using the Kafka broker already running on 127.0.0.1:{port}")
        return None
    say(f"starting the local Kafka broker on 127.0.0.1:{port} (first run downloads its jars)")
    done = subprocess.run(
        [str(KAFKA_LOCAL), "start", "--owner-pid", str(os.getpid())],
        env=env, stdout=subprocess.PIPE, text=True, timeout=900, stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise SystemExit(f"newsflow demo: the broker did not start; see `{KAFKA_LOCAL} logs`")
    return port


def stop_broker(port: str) -> None:
    subprocess.run([str(KAFKA_LOCAL), "stop"], env={**os.environ, "KAFKA_PORT": port},
                   timeout=120, stdin=subprocess.DEVNULL, check=False)


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - lives as long as the worker
    proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"],
                            env={**os.environ, **settings.as_env()}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{settings.web_port}/metrics"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"newsflow demo: the worker exited; see {log_path}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2).close()
            return proc
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"newsflow demo: the worker did not come up in 180 s; see {log_path}")


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def follow(settings: Settings, inbox: Path, out: Path, duration: float | None) -> None:
    stop_at = time.monotonic() + duration if duration else None

    async def watch_inbox() -> None:
        # The folder connector (`newsflow ingest folder`): each file is sent once, after it
        # stopped changing, remembered in the ingest seen-store, then moved to inbox/done/.
        config = IngestConfig.from_env().replace(folder_settle=0.5)
        store = SeenStore(config.state_path(settings))
        sink = KafkaSink(settings, config)
        await sink.start()
        watcher = FolderWatcher(inbox, sink=sink, store=store, config=config,
                                max_message_bytes=settings.max_message_bytes,
                                done_dir=inbox / "done")
        try:
            while stop_at is None or time.monotonic() < stop_at:
                sent = await watcher.scan()
                if sent:
                    say(f"sent {sent} file(s) from the inbox")
                await asyncio.sleep(1.0)
        finally:
            await sink.stop()
            store.close()

    async def print_records(topic: str, dlq: bool) -> None:
        with open(out, "ab") as sink:
            async for msg in consume(settings, [topic], from_beginning=True, idle_timeout=None):
                print(format_dead_letter(msg) if dlq else format_story(msg), flush=True)
                if not dlq:
                    sink.write(msg.value + b"\n")
                    sink.flush()

    tasks = [asyncio.create_task(watch_inbox()),
             asyncio.create_task(print_records(settings.topic_stories, dlq=False)),
             asyncio.create_task(print_records(settings.topic_dlq, dlq=True))]
    try:
        if stop_at is None:
            await asyncio.gather(*tasks)
        else:
            await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def run_demo(settings: Settings, *, with_broker: bool, inbox: Path, out: Path,
             duration: float | None) -> int:
    port = start_broker(settings) if with_broker else None
    worker: subprocess.Popen[bytes] | None = None
    try:
        asyncio.run(ensure_topics(settings))
        log_path = Path(settings.data_dir) / "worker.log"
        say("starting the worker (loading models takes a few seconds)")
        worker = start_worker(settings, log_path)
        inbox.mkdir(parents=True, exist_ok=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        samples = [m for p in sorted(SAMPLES.iterdir()) if p.is_file()
                   for m in messages_from_file(p)]
        sent = asyncio.run(produce(settings, samples))
        say(f"sent {sent} bundled sample stories from {SAMPLES}")
        say(f"output: topic {settings.topic_stories} on {settings.bootstrap_servers}, "
            f"also appended to {out}")
        say(f"dead letters: topic {settings.topic_dlq}  (newsflow tail --dlq)")
        say(f"metrics: http://127.0.0.1:{settings.web_port}/metrics   worker log: {log_path}")
        say(f"drop .txt/.html/.json/.jsonl files into {inbox}/ to ingest them; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(follow(settings, inbox, out, duration))
    finally:
        say("stopping")
        if worker is not None:
            stop_worker(worker)
        if port is not None:
            stop_broker(port)
    return 0
