"""Ingest benchmark: one ingest process polling N feeds (default 500) on a compressed
schedule against a local fake news site (another process, 127.0.0.1 only).

The target is 500 feeds every 5 minutes (1.7 feeds/s). The schedule is compressed to a
5 s interval (100 feeds/s, 60x the target) for a few rounds; every feed gets one new item
per round (a page to fetch and send), unchanged feeds answer 304 to the conditional GET.

Reported: the cold first pass (every feed and every item's page, no spreading) in feeds/s
and pages/s; then per scheduled round: polls done, lateness, CPU seconds of the ingest
process, RSS; and the capacity estimate (feeds polled per CPU-second). Messages go to an
in-memory counting sink, or to Kafka with ``--kafka HOST:PORT`` (the real producer).

    .venv/bin/python bench/ingest_bench.py [--feeds 500] [--interval 5] [--rounds 4]
                                           [--items 10] [--hosts 20] [--kafka 127.0.0.1:9092]

A benchmark, not a test: it takes about (rounds + 2) x interval seconds plus the cold pass.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.ingest.config import IngestConfig
from streams.ingest.http import PoliteFetcher
from streams.ingest.producer import KafkaSink, MemorySink
from streams.ingest.rss import FeedSpec, RssIngestor
from streams.ingest.state import SeenStore
from streams.settings import Settings


def changes(n: int, r: int, share: float) -> bool:
    """Does feed n get a new item in round r (r >= 1)?  Deterministic, ``share`` of feeds."""
    return r >= 1 and ((n * 7919 + r * 104729) % 1000) < share * 1000


def serve(hosts: int, items: int, share: float, round_no: Any, q: Any) -> None:
    """The fake site: /feed/<n>.xml lists the newest ``items`` items of feed n; in each round
    (``round_no``, advanced by the benchmark) a ``share`` of the feeds get one new item;
    /page/<n>/<i> is a ~2 KB article."""
    from aiohttp import web

    from streams.ingest.fakesite import FakeSite, article

    site = FakeSite()
    paragraph_count = 12

    newest_cache: dict[int, tuple[int, int]] = {}

    def newest(n: int, r: int) -> int:
        last_r, count = newest_cache.get(n, (0, items))
        for k in range(last_r + 1, r + 1):
            count += changes(n, k, share)
        newest_cache[n] = (max(last_r, r), count)
        return count

    async def feed(request: web.Request) -> web.StreamResponse:
        n = int(request.path.split("/")[-1].split(".")[0])
        top = newest(n, int(round_no.value))
        etag = f'"f{n}-{top}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        base = f"http://127.0.0.1:{request.url.port}"
        rows = "".join(
            f"<item><title>Feed {n} story {i}</title><link>{base}/page/{n}/{i}</link>"
            f"<guid>{base}/page/{n}/{i}</guid>"
            f"<pubDate>Mon, 01 Jan 2024 {i % 24:02d}:00:00 GMT</pubDate></item>"
            for i in range(top - 1, max(-1, top - 1 - items), -1)
        )
        xml = (
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>Bench feed {n}</title><link>{base}/</link><description>b</description>"
            f"{rows}</channel></rss>"
        )
        return web.Response(
            body=xml.encode(), content_type="application/rss+xml", headers={"ETag": etag}
        )

    async def page(request: web.Request) -> web.StreamResponse:
        _, _, n, i = request.path.split("/")
        return web.Response(
            text=article(f"Feed {n} story {i}", paragraphs=paragraph_count, seed=f"{n}-{i}"),
            content_type="text/html",
        )

    async def router(request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/feed/"):
            return await feed(request)
        if request.path.startswith("/page/"):
            return await page(request)
        return web.Response(status=404)

    site.fallback = router
    site.start(ports=hosts)
    q.put(site.ports)
    while True:
        time.sleep(3600)


def rss_kb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return float(line.split()[1])
    return 0.0


def cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def bench(args: argparse.Namespace, ports: list[int], round_no: Any) -> dict[str, Any]:
    feeds = [
        FeedSpec(f"http://127.0.0.1:{ports[n % len(ports)]}/feed/{n}.xml")
        for n in range(args.feeds)
    ]
    config = IngestConfig(
        interval=args.interval,
        concurrency=args.concurrency,
        host_concurrency=args.host_concurrency,
        host_rate=args.host_rate,
        spread=True,
        retries=1,
        deadline=10.0,
        linger_ms=50,
        allowed_networks="127.0.0.1/32",  # the fake site; the fetcher refuses loopback otherwise
    )
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    store = SeenStore(tmp / "seen.sqlite3")
    settings = Settings()
    if args.kafka:
        tag = str(int(time.time()))
        settings = Settings(broker=f"kafka://{args.kafka}", topic_raw=f"bench.ingest.{tag}.raw")
        from streams.kafka_io import ensure_topics

        await ensure_topics(settings)
        sink: KafkaSink | MemorySink = KafkaSink(settings, config)
    else:
        sink = MemorySink(keep=False)
    await sink.start()
    fetcher = PoliteFetcher(config)
    ing = RssIngestor(
        feeds,
        fetcher=fetcher,
        store=store,
        sink=sink,
        config=config,
        max_message_bytes=settings.max_message_bytes,
    )
    out: dict[str, Any] = {
        "feeds": args.feeds,
        "hosts": len(ports),
        "interval_s": args.interval,
        "sink": "kafka" if args.kafka else "memory",
        "rss_start_mb": round(rss_kb() / 1024, 1),
    }

    # 1. cold pass: every feed at once (no spreading), every item's page fetched and sent
    polls: list[tuple[float, float, int]] = []
    orig_poll = ing.poll

    async def timed_poll(url: str) -> list[str]:
        s = time.monotonic()
        st = await orig_poll(url)
        polls.append((s, time.monotonic(), sum(1 for x in st if x in ("sent", "update"))))
        return st

    ing.poll = timed_poll  # type: ignore[method-assign]
    c0, w0 = cpu_seconds(), time.monotonic()
    await _cold(ing, config)
    if isinstance(sink, KafkaSink):
        await sink.flush()
    wall, cpu = time.monotonic() - w0, cpu_seconds() - c0
    sent = sum(p[2] for p in polls)
    out["cold"] = {
        "feeds": len(polls),
        "pages_sent": sent,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "feeds_per_s": round(len(polls) / wall, 1),
        "pages_per_s": round(sent / wall, 1),
        "rss_mb": round(rss_kb() / 1024, 1),
    }
    print("cold pass:", out["cold"], flush=True)

    # 2. scheduled rounds at the compressed interval
    rounds = []
    stop = asyncio.Event()
    polls.clear()
    round_no.value = 1
    task = asyncio.create_task(ing.run(stop, rounds=args.rounds))
    start = time.monotonic()
    for r in range(args.rounds):
        round_no.value = r + 1
        c0 = cpu_seconds()
        n0 = len(polls)
        await asyncio.sleep(max(0.0, start + (r + 1) * args.interval - time.monotonic()))
        window = polls[n0:]
        lat = sorted(e - s for s, e, _ in window) or [0.0]
        rounds.append(
            {
                "round": r + 1,
                "polls": len(window),
                "pages_sent": sum(p[2] for p in window),
                "cpu_s": round(cpu_seconds() - c0, 2),
                "cpu_util": round((cpu_seconds() - c0) / args.interval, 2),
                "poll_p50_ms": round(lat[len(lat) // 2] * 1000, 1),
                "poll_p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1),
                "rss_mb": round(rss_kb() / 1024, 1),
            }
        )
        print("round:", rounds[-1], flush=True)
    try:
        await asyncio.wait_for(task, args.interval * 2 + 60)
    except TimeoutError:
        out["unfinished"] = True
        stop.set()
    total_cpu = sum(r["cpu_s"] for r in rounds)
    total_polls = sum(r["polls"] for r in rounds)
    out["rounds"] = rounds
    out["steady_feeds_per_s"] = round(total_polls / (args.rounds * args.interval), 1)
    out["capacity_feeds_per_cpu_s"] = round(total_polls / total_cpu, 1) if total_cpu else None
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["store_items"] = store.count_items()
    out["messages"] = sink.sent
    await fetcher.close()
    await sink.stop()
    store.close()
    return out


async def _cold(ing: RssIngestor, config: IngestConfig) -> None:
    sem = asyncio.Semaphore(config.concurrency)

    async def one(url: str) -> None:
        async with sem:
            await ing.poll(url)

    await asyncio.gather(*(one(u) for u in ing.feeds))


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--feeds", type=int, default=500)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--items", type=int, default=10, help="items per feed")
    p.add_argument(
        "--changed-share",
        type=float,
        default=0.2,
        help="share of feeds with a new item each round (1.0: every feed, every round)",
    )
    p.add_argument("--hosts", type=int, default=20, help="ports of the fake site (politeness keys)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--host-concurrency", type=int, default=4)
    p.add_argument("--host-rate", type=float, default=200.0)
    p.add_argument(
        "--kafka", default=None, help="send to this broker (host:port) instead of memory"
    )
    args = p.parse_args()

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    round_no = ctx.Value("i", 0)
    server = ctx.Process(
        target=serve, args=(args.hosts, args.items, args.changed_share, round_no, q), daemon=True
    )
    server.start()
    try:
        ports = q.get(timeout=30)
        import json

        result = asyncio.run(bench(args, ports, round_no))
        print(json.dumps(result, indent=2))
    finally:
        server.terminate()
        server.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
