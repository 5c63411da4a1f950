"""Exactly-once evaluation (issue 8, item 7): the crash test on a local 3-broker cluster,
once per processing guarantee, read back with a ``read_committed`` consumer.

For each seed and each mode (``at_least_once``, ``exactly_once``): fresh topics (replication
factor 3), N short synthetic stories (the crash test's generator), one ``newsflow worker``
with ``NEWSFLOW_PROCESSING_GUARANTEE=<mode>``, SIGKILLed 3 times after a random share of the
stories came out (same kill rule as ``tests/integration/test_faults_crash.py``) and
restarted on the same data dir; then drain, wait for the group's lag to reach 0, and read
``news.stories`` from the beginning twice: ``read_committed`` (what a transactional reader
sees) and ``read_uncommitted`` (what a plain reader sees, aborted writes included).

Reported per run: lost story_ids (input ids absent from the read_committed read), output
messages, repeated messages (messages - distinct ids), repeated ids whose copies disagree on
the dedup verdict, group lag after draining, time to drain, kill points, and counts of
notable worker log lines (fenced producers, crashed agents).

    .venv/bin/python -m bench.eos_eval                         # 1,000 stories, 1 random seed
    .venv/bin/python -m bench.eos_eval --stories 1500 --seeds 11 22 33
    .venv/bin/python -m bench.eos_eval --bootstrap 127.0.0.1:39500,...   # an existing cluster

The cluster is ``deploy/kafka/kafka-cluster`` (3 combined KRaft nodes, transaction log with
3 replicas and min ISR 2) on ``--cluster-port`` (default 39500-39505), started fresh with
this process as its owner and stopped at the end. Figures go to
``var/reliability/eos_eval.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from streams.kafka_io import Received, ensure_topics
from streams.settings import Settings
from tests.integration.conftest import (
    REPO,
    BrokerStartError,
    WorkerPool,
    group_lag,
    make_settings,
    owned_broker,
    send,
)
from tests.integration.test_faults_crash import FAST_FAILOVER, StoryCollector, make_stories

KAFKA_CLUSTER = REPO / "deploy" / "kafka" / "kafka-cluster"
FIGURES = REPO / "var" / "reliability" / "eos_eval.json"
MODES = ("at_least_once", "exactly_once")
# Worker log lines worth counting (substring -> label).
LOG_MARKERS = {
    "ProducerFenced": "producer_fenced",
    "Crashed": "agent_crashed",
    "abort_transaction": "abort_transaction",
    "InvalidProducerEpoch": "invalid_producer_epoch",
    "OutOfOrderSequence": "out_of_order_sequence",
}


def _received(msg: Any) -> Received:
    headers = {k: v.decode("utf-8", "replace") for k, v in (msg.headers or ())}
    return Received(
        msg.topic, msg.partition, msg.offset, msg.key, msg.value or b"", headers, msg.timestamp
    )


def _consumer(settings: Settings, isolation: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        settings.topic_stories,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        fetch_max_bytes=settings.max_message_bytes + 2_000_000,
        max_partition_fetch_bytes=settings.max_message_bytes + 2_000_000,
    )


class CommittedCollector(StoryCollector):
    """The crash test's live collector, reading with ``isolation_level='read_committed'``:
    in exactly_once mode a story counts as out only once its transaction committed."""

    def _run(self) -> None:
        async def main() -> None:
            consumer = _consumer(self.settings, "read_committed")
            await consumer.start()
            try:
                while not self._stop.is_set():
                    batch = await consumer.getmany(timeout_ms=200)
                    with self._lock:
                        for records in batch.values():
                            self.records.extend(_received(r) for r in records)
            finally:
                await consumer.stop()

        asyncio.run(main())


def read_all(settings: Settings, isolation: str, idle: float = 5.0) -> list[Received]:
    """Every message of news.stories visible at ``isolation``, from the beginning until
    ``idle`` seconds pass with nothing new."""

    async def run() -> list[Received]:
        consumer = _consumer(settings, isolation)
        await consumer.start()
        got: list[Received] = []
        try:
            last = time.monotonic()
            while time.monotonic() - last < idle:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(_received(r) for r in records)
                    last = time.monotonic()
        finally:
            await consumer.stop()
        return got

    return asyncio.run(run())


def visible_counts(settings: Settings, topic: str) -> dict[str, int]:
    """Messages of ``topic`` a read_committed and a read_uncommitted reader see."""
    out = {}
    for iso in ("read_committed", "read_uncommitted"):
        out[iso] = len(read_all(settings.replace(topic_stories=topic), iso, idle=3.0))
    return out


def locate(settings: Settings, ids: set[str], lost: list[str]) -> dict[str, Any]:
    """For lost story_ids: the last pipeline topic where a read_committed reader finds each
    (with partition and offset), i.e. the stage that dropped it."""
    where: dict[str, Any] = {}
    wanted = set(lost)
    topics = (settings.topic_raw, settings.topic_segmented, settings.topic_enriched)
    for topic in (*topics, settings.topic_dlq):
        for m in read_all(settings.replace(topic_stories=topic), "read_committed", idle=3.0):
            key = m.key.decode(errors="replace") if m.key else ""
            if key in wanted:
                where[key] = {"topic": topic, "partition": m.partition, "offset": m.offset}
    return {sid: where.get(sid, "nowhere (not produced?)") for sid in lost}


def analyse(records: list[Received], ids: set[str]) -> dict[str, Any]:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for m in records:
        if m.key and m.key.decode() in ids:
            by_id.setdefault(m.key.decode(), []).append(orjson.loads(m.value))
    total = sum(len(v) for v in by_id.values())
    repeated_ids = [sid for sid, recs in by_id.items() if len(recs) > 1]
    disagree = [
        sid
        for sid, recs in by_id.items()
        if any(r["story_id"] != sid or r["dedup"] != recs[0]["dedup"] for r in recs)
    ]
    statuses = Counter(str(recs[0]["dedup"]["status"]) for recs in by_id.values())
    return {
        "lost": len(ids - set(by_id)),
        "lost_ids": sorted(ids - set(by_id)),
        "output_messages": total,
        "repeated_messages": total - len(by_id),
        "repeated_ids": len(repeated_ids),
        "repeats_disagreeing": len(disagree),
        "disagreeing_examples": [
            {"story_id": sid, "verdicts": [r["dedup"] for r in by_id[sid]]} for sid in disagree[:3]
        ],
        "first_verdicts": dict(statuses),
    }


def _wait_lag_zero(settings: Settings, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    lag = group_lag(settings)
    while any(lag.values()) and time.monotonic() < deadline:
        time.sleep(1.0)
        lag = group_lag(settings)
    return {f"{t}[{p}]": n for (t, p), n in lag.items() if n}


def _log_counts(tmp: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in tmp.glob("worker-*.log"):
        text = path.read_text(errors="replace")
        for marker, label in LOG_MARKERS.items():
            counts[label] += text.count(marker)
    return {k: v for k, v in counts.items() if v}


def wait_progress(
    out: StoryCollector, ids: set[str], count: int, stall: float, timeout: float
) -> set[str]:
    """Wait until ``count`` distinct ids are out; give up after ``stall`` seconds without a
    new one (or ``timeout`` in all)."""
    deadline = time.monotonic() + timeout
    seen = out.distinct(ids)
    last_change, last_n = time.monotonic(), len(seen)
    while len(seen) < count and time.monotonic() < deadline:
        if time.monotonic() - last_change > stall:
            break
        time.sleep(0.5)
        seen = out.distinct(ids)
        if len(seen) != last_n:
            last_change, last_n = time.monotonic(), len(seen)
    return seen


def run_once(
    bootstrap: str,
    mode: str,
    seed: int,
    stories_n: int,
    tmp: Path,
    dedup_partitions: int = 1,
    stall: float = 90.0,
) -> dict[str, Any]:
    """The crash scenario of test 1 for one mode and seed; returns its figures."""
    rng = random.Random(seed)
    settings = make_settings(
        bootstrap,
        tmp,
        partitions=4,
        dedup_partitions=dedup_partitions,
        replication_factor=3,
        processing_guarantee=mode,
    )
    asyncio.run(ensure_topics(settings))
    stories = make_stories(f"eos-{mode[:3]}-{uuid.uuid4().hex[:6]}", stories_n, seed)
    ids = set(stories)
    thresholds = sorted(rng.sample(range(stories_n // 10, stories_n * 8 // 10), 3))
    kills: list[dict[str, Any]] = []
    result: dict[str, Any] = {
        "mode": mode,
        "seed": seed,
        "stories": stories_n,
        "partitions": settings.partitions,
        "dedup_partitions": dedup_partitions,
    }
    pool = WorkerPool(tmp)
    started = time.monotonic()
    try:
        with CommittedCollector(settings) as out:
            worker = pool.start(settings, "worker-0", FAST_FAILOVER)
            send(settings, *((k.encode(), v) for k, v in stories.items()))
            for n, threshold in enumerate(thresholds, start=1):
                seen = wait_progress(out, ids, threshold, stall, timeout=300)
                if len(seen) < threshold:
                    result["stalled"] = (
                        f"{len(seen)}/{stories_n} out, none new for {stall:.0f} s, before kill {n}"
                    )
                    print(f"  stalled before kill {n}:\n{worker.log_tail(2000)}", file=sys.stderr)
                    break
                time.sleep(rng.uniform(0.0, 1.5))
                kills.append(
                    {
                        "after_outputs": len(out.distinct(ids)),
                        "t": round(time.monotonic() - started, 1),
                    }
                )
                worker.stop(signal.SIGKILL)
                worker = pool.start(settings, f"worker-{n}", FAST_FAILOVER)
            seen = wait_progress(out, ids, stories_n, stall, timeout=400)
            if len(seen) < stories_n and "stalled" not in result:
                result["stalled"] = f"{len(seen)}/{stories_n} out, none new for {stall:.0f} s"
            result["seconds_to_all_out"] = round(time.monotonic() - started, 1)
            lag_wait = 90 if len(seen) == stories_n else 10
            result["lag_after_drain"] = _wait_lag_zero(settings, timeout=lag_wait)
            result["topics_visible"] = {
                t: visible_counts(settings, t)
                for t in (settings.topic_segmented, settings.topic_enriched, settings.topic_dlq)
            }
            time.sleep(3.0)  # late repeats (replayed uncommitted batches)
    finally:
        pool.close()
    result["kills"] = kills
    committed = analyse(read_all(settings, "read_committed"), ids)
    if committed["lost"]:
        committed["lost_where"] = locate(settings, ids, committed["lost_ids"])
    uncommitted = analyse(read_all(settings, "read_uncommitted"), ids)
    result["read_committed"] = committed
    result["read_uncommitted"] = {
        k: uncommitted[k]
        for k in ("lost", "output_messages", "repeated_messages", "repeats_disagreeing")
    }
    result["worker_log"] = _log_counts(tmp)
    return result


@contextlib.contextmanager
def cluster(port: int, state: Path) -> Iterator[str]:
    env = {"KAFKA_CLUSTER_PORT": str(port), "KAFKA_CLUSTER_STATE_DIR": str(state)}
    t0 = time.monotonic()
    try:
        with owned_broker(KAFKA_CLUSTER, env, log=state.parent / "cluster-start.err") as bootstrap:
            print(f"cluster ready in {time.monotonic() - t0:.0f} s", file=sys.stderr)
            yield bootstrap
    except BrokerStartError as exc:
        raise SystemExit(str(exc)) from exc


def provenance() -> dict[str, Any]:
    """The commit the workers ran, and the files that differed from it (shared tree)."""

    def git(*a: str) -> str:
        done = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30)
        return done.stdout.strip()

    return {
        "head": git("rev-parse", "--short", "HEAD"),
        "modified": git("status", "--short", "--untracked-files=no").splitlines(),
    }


def _summary(r: dict[str, Any]) -> str:
    c = r["read_committed"]
    u = r["read_uncommitted"]
    return (
        f"{r['mode']:<14} dedup_partitions {r['dedup_partitions']}  seed {r['seed']:>7}  "
        f"N {r['stories']}  lost {c['lost']}  "
        f"messages {c['output_messages']}  repeats {c['repeated_messages']} "
        f"({c['repeated_ids']} ids)  disagreeing {c['repeats_disagreeing']}  "
        f"| uncommitted: repeats {u['repeated_messages']}  "
        f"| lag {sum(r.get('lag_after_drain', {}).values())}  "
        f"drain {r.get('seconds_to_all_out')} s  kills {[k['after_outputs'] for k in r['kills']]}"
        + (f"  STALLED {r['stalled']}" if "stalled" in r else "")
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="*", default=None)
    ap.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES)
    ap.add_argument(
        "--dedup-partitions",
        type=int,
        nargs="*",
        default=[1],
        help="topologies to try: partitions of news.enriched and the dedup tables (1 = the "
        "production layout; 4 = every agent topic co-partitioned, Faust's best case)",
    )
    ap.add_argument("--stall", type=float, default=90.0, help="give up after this long idle")
    ap.add_argument("--cluster-port", type=int, default=39500)
    ap.add_argument("--bootstrap", default=None, help="use this running cluster instead")
    ap.add_argument("--out", type=Path, default=FIGURES)
    args = ap.parse_args(argv)
    seeds = args.seeds or [random.randrange(1_000_000)]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eos-eval-") as tmpdir:
        tmp = Path(tmpdir)
        ctx = (
            contextlib.nullcontext(args.bootstrap)
            if args.bootstrap
            else cluster(args.cluster_port, tmp / "cluster")
        )
        with ctx as bootstrap:
            for dp in args.dedup_partitions:
                for seed in seeds:
                    for mode in args.modes:
                        run_tmp = tmp / f"{mode}-{seed}-{dp}"
                        run_tmp.mkdir()
                        t0 = time.monotonic()
                        r = run_once(bootstrap, mode, seed, args.stories, run_tmp, dp, args.stall)
                        r["seconds_total"] = round(time.monotonic() - t0, 1)
                        results.append(r)
                        print(_summary(r), flush=True)
                        args.out.parent.mkdir(parents=True, exist_ok=True)
                        doc = {"code": provenance(), "cpus": os.cpu_count(), "runs": results}
                        args.out.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
