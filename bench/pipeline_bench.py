"""newsflow's benchmark (not a test): one run, one broker, the same stories, one table.

    newsflow bench                      # default run: a few minutes on a loaded 2-core machine
    newsflow bench --smoke              # tiny sizes, about what CI runs (tests/unit/test_bench_smoke.py)
    newsflow bench --stories 64 --repeats 5 --tax-messages 10000 --latency-seconds 120 \
        --memory-stories 1000000       # the full run: about an hour and a half here
    .venv/bin/python -m bench.pipeline_bench --json var/bench.json --markdown var/bench.md

What it measures, in this order, in one run on one local broker (``deploy/kafka/kafka-local``
on ``--kafka-port``, default 39392, with its own state dir; or ``--bootstrap HOST:PORT``):

1. Framework tax: a Faust pass-through agent (newsflow's own Faust app settings; raw bytes in,
   the same bytes out) against a plain aiokafka consume->produce loop (``bench/baselines.py``).
2. The whole pipeline (``newsflow worker``) against the per-message script a user would write
   instead (``bench/baselines.py script``: trafilatura, spaCy, datasketch MinHash + LSH), and
   against ``newsflow process`` over the same stories in one process (stream overhead); on the
   L3S-GN1 HTML pages and on their plain-text dumps, separately.
3. Latency produce -> output (as read back by a consumer) at half of the pipeline's measured
   maximum throughput.
4. Scaling: a second worker process in the same consumer group.
5. Per stage: microseconds per story from the worker's ``newsflow_stage_processing_seconds``
   and from direct timing of the stage functions, plus a cProfile summary.
6. Memory: RSS of a process running segment + dedup over a long synthetic stream.

Every throughput is end to end: from the first message produced to the last output read back,
for N messages sent as fast as the producer can. Contenders run interleaved, each repeat on a
fresh slice of stories (the same slice for every contender), and the table shows the median
over repeats of each contender and the median of the per-repeat ratios. Absolute stories/s are
this machine's figures (2 shared cores, the broker and the benchmark itself on them too): the
ratios are the comparable numbers. Every process started here is stopped at the end, on
failure too (and dies with this process: PR_SET_PDEATHSIG, the broker's --owner-pid).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gzip
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared/data/l3s-gn1-dev.jsonl.gz"
KAFKA_LOCAL = ROOT / "deploy" / "kafka" / "kafka-local"
FORMS = ("html", "text")
MAX_BYTES = 6_000_000
# A pipeline story with no output after this many idle seconds counts as lost (and is reported).
IDLE_SECONDS = 10.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# processes


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_mb(self) -> float | None:
        try:
            text = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return None
        m = re.search(r"VmRSS:\s+(\d+) kB", text)
        return int(m.group(1)) / 1024 if m else None

    def cpu_seconds(self, main_thread: bool = False) -> float:
        """User + system CPU time of the process so far (all its threads), from /proc; with
        ``main_thread``, of its main thread only (a worker's event loop: Kafka, Faust, dedup).

        CPU per message is the comparable figure on a machine shared with other jobs: wall
        time there depends on who else runs, CPU time much less."""
        pid = self.popen.pid
        path = f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat"
        try:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return float("nan")
        # fields[0] is the state (field 3 of stat(5)); utime and stime are fields 14 and 15
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


class Processes:
    """Every child process of the run; ``stop_all`` in a ``finally``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[Proc] = []

    def spawn(
        self, name: str, cmd: list[str], env: dict[str, str] | None = None, pipes: bool = False
    ) -> Proc:
        log_path = self.workdir / f"{name}.log"
        logf = open(log_path, "ab")  # noqa: SIM115 - closed with the process
        popen = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else logf,
            stderr=logf,
            preexec_fn=_die_with_parent,
        )
        logf.close()
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self.procs.clear()


DEFAULT_KAFKA_PORT = 39392


def _pair_free(port: int) -> bool:
    for p in (port, port + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def free_port_pair() -> int:
    """A port P with P and P+1 free (the broker's listener and controller)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


class Broker:
    def __init__(self, port: int, state_dir: Path) -> None:
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(port),
            "KAFKA_STATE_DIR": str(state_dir),
            "PYTHON": sys.executable,
        }
        self.env.pop("KAFKA_OWNER_PID", None)
        self.started = False

    def start(self) -> str:
        log(f"starting the broker on port {self.env['KAFKA_PORT']} ({self.env['KAFKA_STATE_DIR']})")
        self.started = True
        res = subprocess.run(
            [str(KAFKA_LOCAL), "start", "--fresh", "--owner-pid", str(os.getpid())],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if res.returncode != 0:
            raise RuntimeError(f"local Kafka did not start:\n{res.stderr[-3000:]}")
        return res.stdout.strip().splitlines()[-1]

    def stop(self) -> None:
        if self.started:
            self.started = False
            subprocess.run(
                [str(KAFKA_LOCAL), "wipe"],
                env=self.env,
                capture_output=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
            )


# ---------------------------------------------------------------------------------------------
# stories


def load_pages(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def envelope(page: dict[str, Any], form: str, story_id: str) -> tuple[bytes, bytes]:
    """A ``news.raw`` message (key, value) for one form of one L3S-GN1 page."""
    import orjson

    doc = {
        "id": story_id,
        "url": page.get("url"),
        "body": page["html"] if form == "html" else page["text"],
        "content_type": "text/html" if form == "html" else "text/plain",
    }
    return story_id.encode(), orjson.dumps(doc)


def messages_for(
    pages: Sequence[dict[str, Any]], forms: Sequence[str], tag: str
) -> list[tuple[bytes, bytes]]:
    """Messages for pages x forms, forms interleaved page by page; ids unique by ``tag``."""
    return [envelope(p, form, f"{tag}-{form}-{p['id']}") for p in pages for form in forms]


# ---------------------------------------------------------------------------------------------
# driving a contender through Kafka


@dataclass
class Run:
    sent: int
    received: int
    seconds: float
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0


async def _drive(
    bootstrap: str,
    in_topic: str,
    out_topics: Sequence[str],
    messages: Sequence[tuple[bytes, bytes]],
    rate: float | None,
    timeout: float,
    idle: float | None = None,
) -> Run:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=MAX_BYTES,
        max_partition_fetch_bytes=MAX_BYTES,
        fetch_max_wait_ms=50,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=MAX_BYTES
    )
    await consumer.start()
    await producer.start()
    try:
        tps: list[Any] = []
        for topic in out_topics:
            parts = await producer.partitions_for(topic)
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
        pending = {k for k, _ in messages}
        sent_at: dict[bytes, float] = {}
        got_at: dict[bytes, float] = {}
        done = asyncio.Event()

        all_sent = asyncio.Event()

        async def read() -> None:
            last = time.perf_counter()
            while pending:
                batch = await consumer.getmany(timeout_ms=100)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        if r.key in pending:
                            pending.discard(r.key)
                            got_at[r.key] = now
                            last = now
                if all_sent.is_set() and idle and now - max(last, sent_done[0]) > idle:
                    break  # nothing new for `idle` seconds: the rest is lost (reported)
            done.set()

        sent_done = [float("inf")]

        reader = asyncio.ensure_future(read())
        t0 = time.perf_counter()
        futures = []
        for i, (key, value) in enumerate(messages):
            if rate:
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at[key] = time.perf_counter()
            futures.append(await producer.send(in_topic, value, key=key))
        await asyncio.gather(*futures)
        sent_done[0] = time.perf_counter()
        all_sent.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        if pending:
            log(f"{in_topic}: no output yet for {sorted(pending)[:5]}")
        end = max(got_at.values(), default=time.perf_counter())
        return Run(
            sent=len(messages),
            received=len(got_at),
            seconds=end - t0,
            latencies=sorted(got_at[k] - sent_at[k] for k in got_at),
        )
    finally:
        await producer.stop()
        await consumer.stop()


def drive(
    bootstrap: str,
    in_topic: str,
    out_topics: Sequence[str],
    messages: Sequence[tuple[bytes, bytes]],
    rate: float | None = None,
    timeout: float = 600.0,
    idle: float | None = None,
    lost_ok: bool = False,
) -> Run:
    """Send ``messages`` to ``in_topic`` and wait for one output each on ``out_topics``.

    With ``idle``, gives up once nothing new arrived for that many seconds after the last send;
    outputs that never came are an error unless ``lost_ok`` (then ``Run.received`` tells).
    """
    run = asyncio.run(_drive(bootstrap, in_topic, out_topics, messages, rate, timeout, idle))
    if run.received < run.sent and not lost_ok:
        raise RuntimeError(
            f"{in_topic}: {run.received} of {run.sent} outputs within {timeout:.0f}s"
        )
    return run


def ensure_topics_for(settings: Any) -> None:
    from streams.kafka_io import ensure_topics

    asyncio.run(ensure_topics(settings))


@dataclass
class Contender:
    """A consume->produce process: messages go to ``in_topic``, one output each appears on
    one of ``out_topics``."""

    name: str
    proc: Proc
    in_topic: str
    out_topics: list[str]
    web_port: int | None = None

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.web_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as resp:
            return str(resp.read().decode())

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.proc.log_tail()}")
            if self.web_port is not None:
                with contextlib.suppress(OSError):
                    self.metrics()
                    return
            elif "READY" in self.proc.log_tail(200000):
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready in {timeout:.0f}s:\n{self.proc.log_tail()}")


def stage_sums(metrics_text: str) -> dict[str, tuple[float, float]]:
    """``{stage: (seconds sum, count)}`` of ``newsflow_stage_processing_seconds``."""
    out: dict[str, list[float]] = {}
    for m in re.finditer(
        r'^newsflow_stage_processing_seconds_(sum|count)\{stage="(\w+)"\} ([0-9.e+-]+)$',
        metrics_text,
        re.M,
    ):
        kind, stage, value = m.group(1), m.group(2), float(m.group(3))
        out.setdefault(stage, [0.0, 0.0])[0 if kind == "sum" else 1] = value
    return {k: (v[0], v[1]) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# hidden modes (run as child processes of the benchmark)


def _faust_passthrough() -> int:
    """A Faust worker with newsflow's app settings and one agent: raw in, same bytes out."""
    import faust

    from streams.app import create_app
    from streams.logs import configure
    from streams.settings import Settings

    settings = Settings.from_env()
    configure(settings)
    app, topics, _tables = create_app(settings)
    out = topics.stories

    @app.agent(topics.raw, name="passthrough")
    async def passthrough(stream: faust.StreamT[bytes]) -> None:
        async for key, value in stream.items():
            await out.send(key=key, value=value)

    sys.argv = [
        sys.argv[0], "worker", "--loglevel", settings.log_level,
        "--web-port", str(settings.web_port), "--web-bind", settings.web_host,
        "--web-host", settings.web_host,
    ]  # fmt: skip
    app.main()
    return 0


def _process_server(warm_path: str) -> int:
    """``newsflow process``'s code path as a service on stdin/stdout (one JSON line each way):
    ``{"op": "run"|"stages"|"profile", "path": JSONL}``. Models load and warm up first."""
    import cProfile
    import pstats

    from streams.dedup import DedupState, decide
    from streams.enrich import enrich_batch
    from streams.normalize import normalize
    from streams.pipeline import segment_message
    from streams.process import process_lines
    from streams.records import encode
    from streams.settings import Settings

    settings = Settings()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing else may write on the reply channel

    def run_lines(lines: list[bytes]) -> int:
        n = 0
        for outcome in process_lines(lines, settings, batch_size=settings.enrich_batch_size):
            if outcome.record is not None:
                encode(outcome.record)
            n += 1
        return n

    def stages(lines: list[bytes]) -> dict[str, float]:
        state = DedupState.in_memory()
        seg_t = enr_t = ded_t = 0.0
        n = 0
        size = settings.enrich_batch_size
        for i in range(0, len(lines), size):
            t = time.perf_counter()
            segs = []
            for line in lines[i : i + size]:
                with contextlib.suppress(Exception):
                    segs.append(segment_message(line, None, max_bytes=settings.max_message_bytes))
            t1 = time.perf_counter()
            enriched = enrich_batch(segs, size)
            t2 = time.perf_counter()
            for item in enriched:
                encode(normalize(item, decide(item, state, now=time.time())))
            t3 = time.perf_counter()
            seg_t, enr_t, ded_t = seg_t + t1 - t, enr_t + t2 - t1, ded_t + t3 - t2
            n += len(lines[i : i + size])
        return {
            "segment": seg_t / n * 1e6,
            "enrich": enr_t / n * 1e6,
            "dedup": ded_t / n * 1e6,
            "stories": n,
        }

    def profile(lines: list[bytes], top: int) -> dict[str, Any]:
        prof = cProfile.Profile()
        prof.enable()
        run_lines(lines)
        prof.disable()
        st = pstats.Stats(prof)
        total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
        groups: dict[str, float] = {}
        rows = []
        for (filename, lineno, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
            group = _profile_group(filename, func)
            groups[group] = groups.get(group, 0.0) + tt
            rows.append((tt, _short(filename, lineno, func)))
        rows.sort(reverse=True)
        return {
            "total_seconds": total,
            "groups": sorted(((g, t / total) for g, t in groups.items()), key=lambda x: -x[1]),
            "top": [(name, tt / total) for tt, name in rows[:top]],
        }

    warm = Path(warm_path).read_bytes().splitlines()
    run_lines(warm)
    stages(warm)
    print("READY", file=out, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        lines = Path(cmd["path"]).read_bytes().splitlines()
        reply: dict[str, Any]
        if cmd["op"] == "run":
            t = time.perf_counter()
            n = run_lines(lines)
            reply = {"n": n, "seconds": time.perf_counter() - t}
        elif cmd["op"] == "stages":
            reply = stages(lines)
        else:
            reply = profile(lines, int(cmd.get("top", 15)))
        print(json.dumps(reply), file=out, flush=True)
    return 0


_GROUPS = [
    ("spacy", "spaCy/thinc (NER model)"),
    ("thinc", "spaCy/thinc (NER model)"),
    ("numpy", "spaCy/thinc (NER model)"),
    ("streams/segment", "segment (newsflow code)"),
    ("streams/enrich", "enrich rules (newsflow code)"),
    ("streams/dedup", "dedup (newsflow code)"),
    ("rensa", "dedup (newsflow code)"),
    ("lingua", "language detection (lingua)"),
    ("trafilatura", "HTML (lxml/trafilatura helpers)"),
    ("lxml", "HTML (lxml/trafilatura helpers)"),
    ("html", "HTML (lxml/trafilatura helpers)"),
    ("msgspec", "decode/encode (msgspec/orjson)"),
    ("orjson", "decode/encode (msgspec/orjson)"),
    ("streams/", "other newsflow code"),
    ("/re/", "regex (stdlib re)"),
]


def _profile_group(filename: str, func: str) -> str:
    if filename == "~":
        if "re.Pattern" in func or "_sre" in func:
            return "regex (stdlib re)"
        if "lxml" in func or "etree" in func:
            return "HTML (lxml/trafilatura helpers)"
        return "C builtins (str, dict, list...)"
    for needle, group in _GROUPS:
        if needle in filename:
            return group
    return "other Python"


def _short(filename: str, lineno: int, func: str) -> str:
    if filename == "~":
        return func
    parts = Path(filename).parts
    for anchor in ("streams", "spacy", "thinc", "lingua", "trafilatura", "lxml"):
        if anchor in parts:
            filename = "/".join(parts[parts.index(anchor) :])
            break
    else:
        filename = "/".join(parts[-2:])
    return f"{filename}:{lineno}({func})"


def _memory(stories: int, interval: float, samples: int, seed: int) -> int:
    """Segment + dedup over a long synthetic stream (no NER), RSS sampled along the way."""
    import orjson

    from bench.dedup_bench import Stream
    from streams.dedup import DedupState, decide
    from streams.enrich.text_stats import exact_fingerprint
    from streams.normalize import normalize
    from streams.pipeline import segment_message
    from streams.records import Enriched, Fingerprints, encode
    from streams.settings import Settings

    settings = Settings()
    state = DedupState.in_memory(
        window_hours=settings.dedup_window_hours, max_entries=settings.dedup_max_entries
    )
    stream = Stream(seed, interval)
    every = max(1, stories // samples)
    points: list[tuple[int, float, int]] = []
    t0 = time.perf_counter()
    for n in range(1, stories + 1):
        item, _replay = stream.next()
        seg0 = item.segmented
        raw = orjson.dumps(
            {
                "id": seg0.story_id,
                "url": f"https://news.example.com/{seg0.story_id}",
                "title": seg0.headline,
                "published_at": seg0.published_at,
                "body": "\n\n".join(seg0.body),
                "content_type": "text/plain",
            }
        )
        seg = segment_message(raw, None, max_bytes=settings.max_message_bytes)
        enriched = Enriched(
            segmented=seg,
            language="en",
            published_at=seg.published_at,
            fingerprints=Fingerprints(exact=exact_fingerprint(seg.body)),
        )
        encode(normalize(enriched, decide(enriched, state, now=time.time())))
        if n % every == 0:
            points.append((n, _self_rss_mb(), len(state)))
    print(
        json.dumps(
            {
                "stories": stories,
                "interval": interval,
                "window_stories": int(settings.dedup_window_hours * 3600 / interval),
                "seconds": time.perf_counter() - t0,
                "points": points,
            }
        )
    )
    return 0


def _self_rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    m = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else 0.0


# ---------------------------------------------------------------------------------------------
# statistics and the table


def med(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


@dataclass
class Row:
    measure: str
    result: str
    figures: str
    target: str
    verdict: str


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def render_table(rows: list[Row]) -> str:
    head = ("measure", "result", "this machine's figures", "target", "verdict")
    cells = [head, *[(r.measure, r.result, r.figures, r.target, r.verdict) for r in rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = []
    for i, c in enumerate(cells):
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# the run


@dataclass
class Config:
    stories: int
    repeats: int
    tax_messages: int
    latency_seconds: float
    scale_stories: int
    memory_stories: int
    profile_stories: int
    skip: set[str]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="newsflow bench", description=(__doc__ or "").split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CI): checks it runs")
    ap.add_argument(
        "--stories",
        type=int,
        default=16,
        help="pages per repeat and form (each repeat a fresh slice; default 16)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="repeats (default 3)")
    ap.add_argument(
        "--tax-messages",
        type=int,
        default=2000,
        help="messages per framework-tax repeat (default 2000)",
    )
    ap.add_argument(
        "--latency-seconds",
        type=float,
        default=20.0,
        help="length of the paced latency run (default 20)",
    )
    ap.add_argument(
        "--scale-stories",
        type=int,
        default=None,
        help="pages per scaling repeat, both forms (default: --stories)",
    )
    ap.add_argument(
        "--memory-stories",
        type=int,
        default=10000,
        help="synthetic stories through segment+dedup (1000000 for the full check)",
    )
    ap.add_argument(
        "--memory-interval",
        type=float,
        default=None,
        help="event-time seconds per synthetic story (default: the 72 h window holds "
        "1/10 of the stream, at least 5 s)",
    )
    ap.add_argument(
        "--profile-stories",
        type=int,
        default=None,
        help="pages of each form in the profile (default: --stories)",
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma list of sections to skip: tax,pipeline,latency,scaling,memory,profile",
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument(
        "--bootstrap", default=None, help="use this broker (HOST:PORT) instead of starting one"
    )
    ap.add_argument(
        "--kafka-port",
        type=int,
        default=None,
        help="the broker's port (and +1 for its controller); default 39392, or a "
        "free pair when that one is taken",
    )
    ap.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="logs and state (default: a temporary dir, removed unless --keep)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs)")
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None, help="write the table here too")
    # hidden child modes
    ap.add_argument(
        "--child", choices=["faust-passthrough", "process-server", "memory"], help=argparse.SUPPRESS
    )
    ap.add_argument("--warm", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv) if argv is not None else None
    if argv and argv[0] == "--":  # `newsflow bench -- --smoke` passes the separator through
        argv = argv[1:]
    args = parse_args(argv)
    if args.child == "faust-passthrough":
        return _faust_passthrough()
    if args.child == "process-server":
        return _process_server(args.warm)
    if args.child == "memory":
        return _memory(args.memory_stories, args.memory_interval, 20, args.seed)

    if args.smoke:
        cfg = Config(stories=3, repeats=1, tax_messages=100, latency_seconds=4.0,
                     scale_stories=3, memory_stories=1500, profile_stories=2,
                     skip=set())  # fmt: skip
    else:
        cfg = Config(
            stories=args.stories,
            repeats=args.repeats,
            tax_messages=args.tax_messages,
            latency_seconds=args.latency_seconds,
            scale_stories=args.scale_stories or args.stories,
            memory_stories=args.memory_stories,
            profile_stories=args.profile_stories or args.stories,
            skip=set(),
        )
    cfg.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="newsflow-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    procs = Processes(workdir)
    port = args.kafka_port
    if port is None:
        port = DEFAULT_KAFKA_PORT if _pair_free(DEFAULT_KAFKA_PORT) else free_port_pair()
    broker = Broker(port, workdir / "kafka")

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        result = Bench(cfg, args, procs, broker, workdir).run()
    finally:
        procs.stop_all()
        broker.stop()
        signal.signal(signal.SIGTERM, old)
        if not args.keep and args.workdir is None:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"logs kept in {workdir}")
    table = render_table(result["rows"])
    print(table)
    for extra in result["notes"]:
        print(extra)
    if args.markdown:
        args.markdown.write_text(table + "\n\n" + "\n".join(result["notes"]) + "\n")
    if args.json_out:
        data = {**result, "rows": [asdict(r) for r in result["rows"]]}
        args.json_out.write_text(json.dumps(data, indent=2, default=str))
    return 0


class Bench:
    def __init__(
        self, cfg: Config, args: argparse.Namespace, procs: Processes, broker: Broker,
        workdir: Path,
    ) -> None:  # fmt: skip
        self.cfg = cfg
        self.args = args
        self.procs = procs
        self.broker = broker
        self.workdir = workdir
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.raw: dict[str, Any] = {}
        self.lost: dict[str, tuple[int, int]] = {}

    # -- helpers ---------------------------------------------------------------------------
    def settings(self, name: str, **overrides: Any) -> Any:
        from streams.settings import Settings
        from tests.integration.conftest import make_settings

        d = Settings()
        tmp = self.workdir / name
        tmp.mkdir(exist_ok=True)
        # The production defaults, not make_settings' test tweaks (2 partitions, 0.1 s batches).
        return make_settings(
            self.bootstrap, tmp, partitions=d.partitions,
            enrich_batch_seconds=d.enrich_batch_seconds, log_format="json", **overrides,
        )  # fmt: skip

    def worker(self, name: str, settings: Any) -> Contender:
        proc = self.procs.spawn(
            name, [sys.executable, "-m", "streams.cli", "worker"], env=settings.as_env()
        )
        return Contender(
            name, proc, settings.topic_raw, [settings.topic_stories, settings.topic_dlq],
            web_port=settings.web_port,
        )  # fmt: skip

    def pdrive(
        self, c: Contender, msgs: Sequence[tuple[bytes, bytes]], phase: str,
        rate: float | None = None,
    ) -> Run:  # fmt: skip
        """``drive`` for the pipeline: a story that never comes out is counted, not fatal."""
        run = drive(self.bootstrap, c.in_topic, c.out_topics, msgs, rate=rate,
                    idle=IDLE_SECONDS, lost_ok=True)  # fmt: skip
        lost, sent = self.lost.get(phase, (0, 0))
        self.lost[phase] = (lost + run.sent - run.received, sent + run.sent)
        return run

    def warm(self, c: Contender, pages: Sequence[dict[str, Any]], tag: str) -> None:
        c.wait_ready()
        msgs = messages_for(pages, FORMS, f"warm{tag}")
        try:
            if c.name.startswith("worker"):
                self.pdrive(c, msgs, "warm-up")
            else:
                drive(self.bootstrap, c.in_topic, c.out_topics, msgs, timeout=300)
        except RuntimeError:
            if c.web_port is not None:
                with contextlib.suppress(OSError):
                    log("metrics:\n" + "\n".join(
                        line for line in c.metrics().splitlines()
                        if line.startswith(("newsflow_stage_messages", "newsflow_consumer_lag"))
                    ))  # fmt: skip
            raise

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        pages = load_pages(self.args.data)
        need = cfg.stories * cfg.repeats
        self.warm_pages = pages[-4:]
        pool = pages[:-4]
        if need > len(pool):
            raise SystemExit(f"--stories x --repeats = {need} > {len(pool)} pages available")
        self.slices = [pool[r * cfg.stories : (r + 1) * cfg.stories] for r in range(cfg.repeats)]
        self.fresh = pool[need:]  # pages not used by the repeats (latency, scaling)
        self.started = time.time()
        load = os.getloadavg()
        self.notes.append(
            f"Machine: {os.cpu_count()} cores, load average at start "
            f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}; stories: L3S-GN1 dev "
            f"({len(pages)} pages), {cfg.stories} per repeat and form, {cfg.repeats} repeats."
        )

        kafka_sections = {"tax", "pipeline", "latency", "scaling"} - cfg.skip
        if kafka_sections:
            self.bootstrap = self.args.bootstrap or self.broker.start()
            log(f"broker at {self.bootstrap}")
            self.kafka_phases()
            keep = getattr(self, "process", None)
            for proc in list(self.procs.procs):
                if proc is not keep:
                    self.procs.stop(proc)
            self.broker.stop()
        if "profile" not in cfg.skip:
            self.stage_costs()
        if "memory" not in cfg.skip:
            self.memory()
        secs = time.time() - self.started
        self.notes.append(f"Run time: {secs / 60:.1f} min.")
        return {"rows": self.rows, "notes": self.notes, "raw": self.raw,
                "config": asdict(cfg) | {"skip": sorted(cfg.skip)}}  # fmt: skip

    def kafka_phases(self) -> None:
        cfg = self.cfg
        py = sys.executable
        contenders: dict[str, Contender] = {}
        # Start everything at once (startups overlap), then wait for each.
        if "tax" not in cfg.skip:
            s = self.settings("faust-pass")
            ensure_topics_for(s)
            proc = self.procs.spawn(
                "faust-passthrough",
                [py, "-m", "bench.pipeline_bench", "--child", "faust-passthrough"],
                env=s.as_env(),
            )
            contenders["faust"] = Contender("faust pass-through", proc, s.topic_raw,
                                            [s.topic_stories], web_port=s.web_port)  # fmt: skip
            s = self.settings("aiokafka-pass")
            ensure_topics_for(s)
            proc = self.procs.spawn("aiokafka-passthrough", [
                py, "bench/baselines.py", "passthrough", "--bootstrap", self.bootstrap,
                "--in", s.topic_raw, "--out", s.topic_stories])  # fmt: skip
            contenders["aiokafka"] = Contender("aiokafka loop", proc, s.topic_raw,
                                               [s.topic_stories])  # fmt: skip
        if {"pipeline", "latency", "scaling"} - cfg.skip:
            self.pipe_settings = self.settings("pipeline")
            ensure_topics_for(self.pipe_settings)
            contenders["pipeline"] = self.worker("worker-1", self.pipe_settings)
        if "pipeline" not in cfg.skip:
            s = self.settings("script")
            ensure_topics_for(s)
            proc = self.procs.spawn("script", [
                py, "bench/baselines.py", "script", "--bootstrap", self.bootstrap,
                "--in", s.topic_raw, "--out", s.topic_stories])  # fmt: skip
            contenders["script"] = Contender("per-message script", proc, s.topic_raw,
                                             [s.topic_stories])  # fmt: skip
            warm_file = self.workdir / "warm.jsonl"
            warm_file.write_bytes(b"\n".join(v for _, v in messages_for(
                self.warm_pages, FORMS, "warmproc")) + b"\n")  # fmt: skip
            self.process = self.procs.spawn(
                "process-server",
                [py, "-m", "bench.pipeline_bench", "--child", "process-server",
                 "--warm", str(warm_file)],
                pipes=True,
            )  # fmt: skip
        for key, c in contenders.items():
            log(f"waiting for {c.name}")
            self.warm(c, self.warm_pages, key)
        if "pipeline" not in cfg.skip:
            self._process_reply(timeout=600)  # READY
        log("all contenders warm")

        if "tax" not in cfg.skip:
            self.framework_tax(contenders["faust"], contenders["aiokafka"])
            self.procs.stop(contenders.pop("faust").proc)
            self.procs.stop(contenders.pop("aiokafka").proc)
        pipeline = contenders.get("pipeline")
        self.max_rate: float | None = None
        if "pipeline" not in cfg.skip and pipeline:
            self.pipeline_vs(pipeline, contenders["script"])
            self.procs.stop(contenders.pop("script").proc)
        if pipeline and "latency" not in cfg.skip:
            self.latency(pipeline)
        if pipeline and "scaling" not in cfg.skip:
            self.scaling(pipeline)
        if self.lost:
            lost = sum(v[0] for v in self.lost.values())
            sent = sum(v[1] for v in self.lost.values())
            where = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in self.lost.items())
            self.raw["lost"] = self.lost
            self.rows.append(Row(
                "Correctness: pipeline stories with no output",
                f"{lost} of {sent}", f"no record on stories/dlq {IDLE_SECONDS:.0f} s after the "
                f"last output ({where})", "0", verdict(lost == 0),
            ))  # fmt: skip

    # -- 1. framework tax ------------------------------------------------------------------
    def framework_tax(self, faust_c: Contender, aio_c: Contender) -> None:
        cfg = self.cfg
        base = messages_for([p for s in self.slices for p in s], FORMS, "x")
        rates: dict[str, list[float]] = {"faust": [], "aiokafka": []}
        cpu_us: dict[str, list[float]] = {"faust": [], "aiokafka": []}
        ratios, cpu_ratios = [], []
        for rep in range(cfg.repeats):
            order = [("faust", faust_c), ("aiokafka", aio_c)]
            if rep % 2:
                order.reverse()
            got, cpu = {}, {}
            for key, c in order:
                msgs = [
                    (f"tax{rep}-{key}-{i}".encode(), base[i % len(base)][1])
                    for i in range(cfg.tax_messages)
                ]
                cpu0 = c.proc.cpu_seconds()
                run = drive(self.bootstrap, c.in_topic, c.out_topics, msgs)
                cpu[key] = (c.proc.cpu_seconds() - cpu0) / len(msgs) * 1e6
                got[key] = run.rate
                rates[key].append(run.rate)
                cpu_us[key].append(cpu[key])
                log(f"tax rep {rep}: {c.name} {run.rate:.0f} msg/s, {cpu[key]:.0f} us CPU/msg")
            ratios.append(got["faust"] / got["aiokafka"])
            cpu_ratios.append(cpu["aiokafka"] / cpu["faust"])
        ratio, cpu_ratio = med(ratios), med(cpu_ratios)
        self.raw["tax"] = {"rates": rates, "ratios": ratios, "cpu_us_per_msg": cpu_us,
                           "cpu_ratios": cpu_ratios}  # fmt: skip
        avg_kb = sum(len(v) for _, v in base) / len(base) / 1024
        self.rows.append(Row(
            "Framework tax: Faust pass-through / aiokafka loop",
            f"{ratio:.2f}",
            f"{med(rates['faust']):.0f} vs {med(rates['aiokafka']):.0f} msg/s "
            f"({cfg.tax_messages} msgs of {avg_kb:.1f} KB avg)",
            ">= 0.80", verdict(ratio >= 0.8),
        ))  # fmt: skip
        self.rows.append(Row(
            "Framework tax in CPU: aiokafka CPU/msg / Faust CPU/msg",
            f"{cpu_ratio:.2f}",
            f"{med(cpu_us['aiokafka']):.0f} vs {med(cpu_us['faust']):.0f} us CPU/msg",
            ">= 0.80", verdict(cpu_ratio >= 0.8),
        ))  # fmt: skip

    # -- 2. pipeline vs script vs newsflow process -----------------------------------------
    def _process_reply(self, timeout: float) -> dict[str, Any]:
        import select

        assert self.process.popen.stdout is not None
        out: IO[bytes] = self.process.popen.stdout
        ready, _, _ = select.select([out], [], [], timeout)
        if not ready:
            raise RuntimeError(f"process server silent:\n{self.process.log_tail()}")
        line = out.readline()
        if not line:
            raise RuntimeError(f"process server exited:\n{self.process.log_tail()}")
        if line.strip() == b"READY":
            return {}
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _process_call(self, op: str, lines: Sequence[bytes], **extra: Any) -> dict[str, Any]:
        path = self.workdir / f"process-{uuid.uuid4().hex[:6]}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        assert self.process.popen.stdin is not None
        self.process.popen.stdin.write(json.dumps({"op": op, "path": str(path), **extra})
                                       .encode() + b"\n")  # fmt: skip
        self.process.popen.stdin.flush()
        return self._process_reply(timeout=1800)

    def pipeline_vs(self, pipeline: Contender, script: Contender) -> None:
        cfg = self.cfg
        rates: dict[str, dict[str, list[float]]] = {
            f: {"pipeline": [], "script": [], "process": []} for f in FORMS
        }
        vs_script: dict[str, list[float]] = {f: [] for f in FORMS}
        vs_process: dict[str, list[float]] = {f: [] for f in FORMS}
        # CPU seconds per story of each contender's process (the broker's share is not counted)
        cpu: dict[str, dict[str, list[float]]] = {
            f: {"pipeline": [], "script": [], "process": []} for f in FORMS
        }
        procs = {"pipeline": pipeline.proc, "script": script.proc, "process": self.process}
        # the worker's event-loop thread alone, per story (the rest: stage threads, fetcher)
        loop_cpu: dict[str, list[float]] = {f: [] for f in FORMS}
        idle = self._idle_cpu(pipeline.proc)
        before = stage_sums(pipeline.metrics())
        rss = [pipeline.proc.rss_mb()]
        for rep, pages in enumerate(self.slices):
            for form in FORMS:
                got: dict[str, float] = {}
                order = ["pipeline", "script", "process"]
                order = order[rep % 3 :] + order[: rep % 3]
                for who in order:
                    msgs = messages_for(pages, [form], f"r{rep}{who}")
                    cpu0 = procs[who].cpu_seconds()
                    loop0 = pipeline.proc.cpu_seconds(main_thread=True)
                    if who == "process":
                        reply = self._process_call("run", [v for _, v in msgs])
                        rate = reply["n"] / reply["seconds"]
                    else:
                        c = pipeline if who == "pipeline" else script
                        if who == "pipeline":
                            rate = self.pdrive(c, msgs, "pipeline").rate
                        else:
                            rate = drive(self.bootstrap, c.in_topic, c.out_topics, msgs).rate
                    got[who] = rate
                    rates[form][who].append(rate)
                    cpu[form][who].append((procs[who].cpu_seconds() - cpu0) / len(msgs))
                    if who == "pipeline":
                        loop_cpu[form].append(
                            (pipeline.proc.cpu_seconds(main_thread=True) - loop0) / len(msgs)
                        )
                    log(f"rep {rep} {form}: {who} {rate:.2f} stories/s, "
                        f"{cpu[form][who][-1] * 1e3:.0f} ms CPU/story")  # fmt: skip
                vs_script[form].append(got["pipeline"] / got["script"])
                vs_process[form].append(got["pipeline"] / got["process"])
            rss.append(pipeline.proc.rss_mb())
        metrics_after = pipeline.metrics()
        after = stage_sums(metrics_after)
        self.raw["pipeline"] = {"rates": rates, "vs_script": vs_script, "cpu_s_per_story": cpu,
                                "vs_process": vs_process, "worker_rss_mb": rss,
                                "loop_cpu_s_per_story": loop_cpu,
                                "idle_cpu_ms_per_s": idle}  # fmt: skip

        def cpu_ratio(form: str, num: str, den: str) -> float:
            return med([a / b for a, b in zip(cpu[form][num], cpu[form][den], strict=True) if b])

        # (title, the other contender, per-repeat wall ratios, format, target, as shown)
        comparisons = [
            ("Pipeline / per-message script", "script", vs_script, "{:.1f}x", 3.0, ">= 3x"),
            ("Stream overhead: Kafka pipeline / newsflow process", "process", vs_process,
             "{:.2f}", 0.85, ">= 0.85"),
        ]  # fmt: skip
        for title, other, wall, fmt, target, shown in comparisons:
            for form in FORMS:
                r, cf = rates[form], cpu[form]
                ratio = med(wall[form])
                cratio = cpu_ratio(form, other, "pipeline")
                self.rows.append(Row(
                    f"{title} ({form})", fmt.format(ratio),
                    f"{med(r['pipeline']):.2f} vs {med(r[other]):.2f} stories/s",
                    shown, verdict(ratio >= target),
                ))  # fmt: skip
                self.rows.append(Row(
                    f"  same, in CPU: {other} CPU/story / pipeline CPU/story ({form})",
                    fmt.format(cratio),
                    f"{med(cf[other]) * 1e3:.0f} vs {med(cf['pipeline']) * 1e3:.0f} ms CPU/story",
                    shown, verdict(cratio >= target),
                ))  # fmt: skip
        # the maximum the latency run is paced against: a 50/50 mix of the forms
        h, t = med(rates["html"]["pipeline"]), med(rates["text"]["pipeline"])
        self.max_rate = 2 / (1 / h + 1 / t)
        # per stage, from the worker's histogram over the repeats
        costs = []
        for stage in ("segment", "enrich", "dedup"):
            s0, c0 = before.get(stage, (0.0, 0.0))
            s1, c1 = after.get(stage, (0.0, 0.0))
            if c1 > c0:
                costs.append(f"{stage} {(s1 - s0) / (c1 - c0) * 1e6:,.0f}")
        self.raw["worker_stage_us"] = costs
        self.rows.append(Row(
            "Per stage, worker histogram (us/story, both forms)",
            ", ".join(costs) or "-", "newsflow_stage_processing_seconds sum/count",
            "-", "n/a",
        ))  # fmt: skip
        self.worker_cpu_rows(cpu, loop_cpu, idle, metrics_after)
        rss_valid = [x for x in rss if x]
        if rss_valid:
            self.rows.append(Row(
                "Worker RSS during the repeats",
                f"{rss_valid[0]:.0f} -> {rss_valid[-1]:.0f} MB",
                f"{2 * cfg.stories * cfg.repeats} stories", "-", "n/a",
            ))  # fmt: skip

    def _idle_cpu(self, proc: Proc, seconds: float = 5.0) -> float:
        """The warm worker's CPU while no story flows (ms per second): a cost per second of
        wall time, which a short timed run pays per story too."""
        cpu0 = proc.cpu_seconds()
        time.sleep(seconds)
        return (proc.cpu_seconds() - cpu0) / seconds * 1e3

    def worker_cpu_rows(
        self, cpu: dict[str, dict[str, list[float]]], loop_cpu: dict[str, list[float]],
        idle: float, metrics_text: str,
    ) -> None:  # fmt: skip
        """Where the worker's CPU goes: its event-loop thread (Kafka produce and the hand-off
        of fetched messages, Faust's stream machinery, the dedup stage and its tables) against
        the other threads (segment and enrich in the executor, Faust's fetcher thread)."""
        shares = []
        for form in FORMS:
            total, loop = med(cpu[form]["pipeline"]), med(loop_cpu[form])
            shares.append(f"{form} {loop * 1e3:.1f} of {total * 1e3:.1f}")
        batches = re.search(r"^newsflow_enrich_batch_size_count ([0-9.e+]+)$", metrics_text, re.M)
        stories = re.search(r"^newsflow_enrich_batch_size_sum ([0-9.e+]+)$", metrics_text, re.M)
        mean_batch = (
            f"; enrich batches {float(stories.group(1)) / float(batches.group(1)):.1f} stories "
            "on average (whole run)"
            if batches and stories and float(batches.group(1))
            else ""
        )
        self.rows.append(Row(
            "Worker CPU: event-loop thread of all (ms/story)", ", ".join(shares),
            f"idle worker {idle:.0f} ms CPU per s{mean_batch}", "-", "n/a",
        ))  # fmt: skip

    # -- 3. latency --------------------------------------------------------------------------
    def latency(self, pipeline: Contender) -> None:
        cfg = self.cfg
        if self.max_rate is None:
            h = self.pdrive(pipeline, messages_for(self.slices[0], FORMS, "lmax"), "latency")
            self.max_rate = h.rate
        rate = self.max_rate / 2
        n = max(8, int(rate * cfg.latency_seconds))
        pages = list(self._cycle(self.fresh or self.slices[0], (n + 1) // 2))
        msgs = messages_for(pages, FORMS, "lat")[:n]
        log(f"latency: {n} stories at {rate:.2f}/s")
        run = self.pdrive(pipeline, msgs, "latency", rate=rate)
        lat = run.latencies
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
        self.raw["latency"] = {"rate": rate, "n": n, "latencies": lat}
        self.rows.append(Row(
            "Latency produce -> output read, p50 / p99",
            f"{p50 * 1000:.0f} / {p99 * 1000:.0f} ms",
            f"{n} stories (both forms) at {rate:.2f}/s = half of {self.max_rate:.2f}/s; "
            f"max {max(lat) * 1000:.0f} ms",
            "p99 <= 500 ms", verdict(p99 <= 0.5),
        ))  # fmt: skip

    @staticmethod
    def _cycle(items: Sequence[Any], n: int) -> Iterator[Any]:
        for i in range(n):
            yield items[i % len(items)]

    # -- 4. scaling ----------------------------------------------------------------------------
    def scaling(self, w1: Contender) -> None:
        cfg = self.cfg
        pool = self.fresh or [p for s in self.slices for p in s]
        k = cfg.scale_stories

        def batch(rep: int, tag: str) -> list[tuple[bytes, bytes]]:
            pages = [pool[(rep * k + i) % len(pool)] for i in range(k)]
            return messages_for(pages, FORMS, f"s{tag}{rep}")

        one = []
        for rep in range(cfg.repeats):
            one.append(self.pdrive(w1, batch(rep, "a"), "scaling").rate)
            log(f"scaling rep {rep}: 1 worker {one[-1]:.2f} stories/s")
        s2 = self.pipe_settings.replace(
            web_port=_free_port(), data_dir=str(self.workdir / "pipeline" / "data2")
        )
        w2 = self.worker("worker-2", s2)
        w2.wait_ready()
        # Wait for the rebalance: warm-up stories until the new worker has segmented some.
        for attempt in range(10):
            self.pdrive(w1, messages_for(self.warm_pages, FORMS, f"w2warm{attempt}"), "warm-up")
            got = re.search(r'newsflow_stage_messages_in_total\{stage="enrich"\} ([0-9.e+]+)',
                            w2.metrics())  # fmt: skip
            if got and float(got.group(1)) > 0:
                break
        two = []
        for rep in range(cfg.repeats):
            two.append(self.pdrive(w1, batch(rep, "b"), "scaling").rate)
            log(f"scaling rep {rep}: 2 workers {two[-1]:.2f} stories/s")
        ratio = med(two) / med(one)
        self.raw["scaling"] = {"one": one, "two": two}
        self.rows.append(Row(
            "Scaling: 2 worker processes / 1",
            f"{ratio:.2f}",
            f"{med(two):.2f} vs {med(one):.2f} stories/s ({2 * k} stories/repeat, both forms)",
            "report (2 cores shared with the broker)", "n/a",
        ))  # fmt: skip

    # -- 5. per stage --------------------------------------------------------------------------
    def stage_costs(self) -> None:
        cfg = self.cfg
        proc = getattr(self, "process", None)
        if proc is None or not proc.alive():
            warm_file = self.workdir / "warm.jsonl"
            warm_file.write_bytes(b"\n".join(v for _, v in messages_for(
                self.warm_pages, FORMS, "warmproc")) + b"\n")  # fmt: skip
            self.process = self.procs.spawn(
                "process-server-2",
                [sys.executable, "-m", "bench.pipeline_bench", "--child", "process-server",
                 "--warm", str(warm_file)],
                pipes=True,
            )  # fmt: skip
            self._process_reply(timeout=600)
        pages = [p for s in self.slices for p in s][: max(cfg.profile_stories, cfg.stories)]
        per_form = {}
        for form in FORMS:
            msgs = messages_for(pages, [form], f"st{form}")
            per_form[form] = self._process_call("stages", [v for _, v in msgs])
            st = per_form[form]
            self.rows.append(Row(
                f"Per stage, direct timing ({form}, us/story)",
                f"segment {st['segment']:,.0f}, enrich {st['enrich']:,.0f}, "
                f"dedup {st['dedup']:,.0f}",
                f"{st['stories']} stories, one process", "-", "n/a",
            ))  # fmt: skip
        prof_pages = pages[: cfg.profile_stories]
        prof = self._process_call("profile", [v for _, v in messages_for(
            prof_pages, FORMS, "prof")], top=12)  # fmt: skip
        self.raw["stages"] = per_form
        self.raw["profile"] = prof
        groups = ", ".join(f"{g} {share:.0%}" for g, share in prof["groups"][:4])
        self.rows.append(Row(
            "Profile (cProfile self time, newsflow process)", groups,
            f"{2 * len(prof_pages)} stories, {prof['total_seconds']:.1f} s profiled",
            "-", "n/a",
        ))  # fmt: skip
        self.notes.append("Top functions by self time (cProfile, newsflow process path):")
        for name, share in prof["top"]:
            self.notes.append(f"  {share:6.1%}  {name}")
        self.procs.stop(self.process)

    # -- 6. memory -----------------------------------------------------------------------------
    def memory(self) -> None:
        cfg = self.cfg
        n = cfg.memory_stories
        interval = self.args.memory_interval or max(5.0, 72 * 3600 / (n / 10))
        log(f"memory: {n} synthetic stories through segment + dedup")
        proc = self.procs.spawn(
            "memory",
            [
                sys.executable,
                "-m",
                "bench.pipeline_bench",
                "--child",
                "memory",
                "--memory-stories",
                str(n),
                "--memory-interval",
                str(interval),
            ],
            pipes=True,
        )
        out, _ = proc.popen.communicate(timeout=24 * 3600)
        self.procs.procs.remove(proc)
        if proc.popen.returncode != 0:
            raise RuntimeError(f"memory run failed:\n{proc.log_tail()}")
        data = json.loads(out)
        self.raw["memory"] = data
        points = data["points"]
        window = data["window_stories"]
        # Flatness: once the event-time window is full (state at its bound), RSS should not grow.
        full = [p for p in points if p[0] >= 2 * window] or points[len(points) // 2 :]
        lo, hi = min(p[1] for p in full), max(p[1] for p in full)
        growth = (full[-1][1] - full[0][1]) / full[0][1]
        spread = (hi - lo) / lo
        self.rows.append(Row(
            "Memory: RSS, segment + dedup, synthetic stream",
            f"{full[0][1]:.0f} -> {full[-1][1]:.0f} MB ({growth:+.1%}; spread {spread:.1%})",
            f"{n:,} stories, window {window:,} stories, from story {full[0][0]:,}; "
            f"{n / data['seconds']:.0f} stories/s",
            "flat within 10%", verdict(abs(growth) <= 0.10 and spread <= 0.10),
        ))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
