"""Benchmark of the dedup decision (not a test): per-story cost and memory over a long stream.

    .venv/bin/python bench/dedup_bench.py                 # 100k vs 300k stories
    .venv/bin/python bench/dedup_bench.py --stories 1000000 --checkpoints 100000,1000000

A seeded synthetic stream: stories of 60-250 words drawn from a 5000-word vocabulary plus
numbers and capitalized names, one every ``--interval`` seconds of event time (default 5 s, so
the default 72 h window holds 51,840 stories and is full long before the first checkpoint);
10% of the stories are near-duplicates of a recent one (words edited, a paragraph dropped or a
boilerplate line added), 2% exact copies, 1% replays.

Reports, for the last ``--sample`` stories before each checkpoint: the median and p99 CPU
microseconds (``time.process_time``: other processes on a shared machine do not count) per
``decide()`` call, the same for a baseline measured in the same run over the same stories (the
exact-hash stage this replaced: blake2b over the normalized text and three dict lookups/writes,
no MinHash), their ratio, the number of stories held in the state, and the process RSS.  Machine
load moves the absolute numbers; the ratio is the steadier figure.

``--reference DIR`` also runs the dedup stage of another checkout (``DIR/streams/dedup``, e.g.
``git archive <commit> streams | tar -x -C DIR``) over the same stream with its own state, its
calls interleaved with this tree's (order alternating), and reports the ratio of the two.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import Callable
from types import ModuleType
from typing import Any

from streams.dedup import DedupState, decide
from streams.enrich.text_stats import exact_fingerprint
from streams.records import Dedup, Enriched, Fingerprints, Segmented, Source


def load_reference(root: Path) -> ModuleType:
    """``root/streams/dedup`` as a module of its own, beside this tree's ``streams.dedup``."""
    package = root / "streams" / "dedup"
    ours = {name: sys.modules.pop(name) for name in list(sys.modules)
            if name == "streams.dedup" or name.startswith("streams.dedup.")}
    try:
        spec = importlib.util.spec_from_file_location(
            "streams.dedup", package / "__init__.py", submodule_search_locations=[str(package)])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["streams.dedup"] = module
        spec.loader.exec_module(module)
    finally:
        for name in [n for n in sys.modules if n == "streams.dedup" or
                     n.startswith("streams.dedup.")]:
            del sys.modules[name]
        sys.modules.update(ours)
    return module


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class Stream:
    def __init__(self, seed: int, interval: float) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))
                      for _ in range(5000)]
        self.names = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))).title()
                      for _ in range(2000)]
        self.interval = interval
        self.recent: list[tuple[str, list[str]]] = []
        self.n = 0

    def _paragraph(self) -> str:
        rng = self.rng
        words = []
        for _ in range(rng.randint(15, 50)):
            r = rng.random()
            if r < 0.06:
                words.append(str(rng.randint(1, 5000)))
            elif r < 0.12:
                words.append(rng.choice(self.names))
            else:
                words.append(rng.choice(self.vocab))
        return " ".join(words) + "."

    def next(self) -> tuple[Enriched, bool]:
        """(story, is a replay)."""
        rng = self.rng
        self.n += 1
        t = 536_457_600 + self.n * self.interval
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        r = rng.random()
        replay = False
        if self.recent and r < 0.01:
            story_id, body = rng.choice(self.recent)
            replay = True
        elif self.recent and r < 0.03:
            _, body = rng.choice(self.recent)
            story_id = f"s{self.n}"
        elif self.recent and r < 0.13:
            _, src = rng.choice(self.recent)
            body = list(src)
            op = rng.randrange(3)
            if op == 0 and len(body) > 2:
                del body[rng.randrange(len(body))]
            elif op == 1:
                body = [*body, "Share this article. Copyright 2024 Example News."]
            else:
                i = rng.randrange(len(body))
                words = body[i].split()
                words[rng.randrange(len(words))] = rng.choice(self.vocab)
                body[i] = " ".join(words)
            story_id = f"s{self.n}"
        else:
            body = [self._paragraph() for _ in range(rng.randint(2, 6))]
            story_id = f"s{self.n}"
        if not replay:
            self.recent.append((story_id, body))
            if len(self.recent) > 2000:
                self.recent = self.recent[-1000:]
        seg = Segmented(story_id=story_id, source=Source(url=None), content_kind="text",
                        headline=" ".join(body[0].split()[:8]).title(), body=body,
                        lead=body[0], published_at=published)
        item = Enriched(segmented=seg, language="en", published_at=published,
                        fingerprints=Fingerprints(exact=exact_fingerprint(body)))
        return item, replay


def baseline_decide(item: Enriched, stories: dict[str, bytes], fps: dict[str, bytes]) -> None:
    """The exact-hash stage: normalized-text digest, replay / duplicate lookups, one record."""
    seg = item.segmented
    text = "\n".join([seg.headline or "", *seg.body])
    norm = " ".join(text.casefold().split())
    fp = hashlib.blake2b(norm.encode(), digest_size=16).hexdigest()
    prev = stories.get(seg.story_id)
    if prev is not None and prev[:32] == fp.encode():
        return
    fps.get(fp)
    stories[seg.story_id] = fp.encode() + b"original"
    fps.setdefault(fp, seg.story_id.encode())


def timed(decide_fn: Callable[[Enriched, Any, float], Dedup], item: Enriched, state: Any,
          now: float) -> tuple[Dedup, float]:
    """A verdict and the CPU seconds it took."""
    t0 = time.process_time()
    verdict = decide_fn(item, state, now)
    return verdict, time.process_time() - t0


def same_verdict(a: Dedup, b: Dedup) -> bool:
    return (a.status, a.canonical_id, a.similarity, a.cluster_id) == (
        b.status, b.canonical_id, b.similarity, b.cluster_id)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stories", type=int, default=300_000)
    ap.add_argument("--checkpoints", default="100000,300000")
    ap.add_argument("--sample", type=int, default=5000)
    ap.add_argument("--interval", type=float, default=5.0, help="event-time seconds per story")
    ap.add_argument("--window-hours", type=float, default=72.0)
    ap.add_argument("--max-entries", type=int, default=2_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--progress", type=int, default=0, metavar="N",
                    help="also print RSS and stories held every N stories (long runs)")
    ap.add_argument("--reference", type=Path, metavar="DIR",
                    help="also time DIR/streams/dedup (another checkout) on the same stream")
    args = ap.parse_args(argv)
    checkpoints = sorted(int(c) for c in args.checkpoints.split(","))
    state = DedupState.in_memory(window_hours=args.window_hours, max_entries=args.max_entries)
    ref = load_reference(args.reference) if args.reference else None
    ref_state = None if ref is None else ref.DedupState.in_memory(
        window_hours=args.window_hours, max_entries=args.max_entries)
    base_stories: dict[str, bytes] = {}
    base_fps: dict[str, bytes] = {}
    stream = Stream(args.seed, args.interval)
    costs: list[float] = []
    base_costs: list[float] = []
    ref_costs: list[float] = []
    statuses: dict[str, int] = {}
    differ = 0
    now = time.time()
    clock = time.process_time
    print(f"stream: {args.stories} stories, one per {args.interval}s event time, window "
          f"{args.window_hours} h (= {int(args.window_hours * 3600 / args.interval)} stories), "
          f"cap {args.max_entries}; CPU time per call")
    rows = []
    started = time.perf_counter()
    for i in range(1, args.stories + 1):
        item, _ = stream.next()
        sample = i > checkpoints[0] - args.sample and any(
            c - args.sample < i <= c for c in checkpoints)
        if sample:
            ref_first = i % 2 == 0
            if ref is not None and ref_first:
                ref_verdict, cost = timed(ref.decide, item, ref_state, now)
                ref_costs.append(cost)
            verdict, cost = timed(decide, item, state, now)
            costs.append(cost)
            t0 = clock()
            baseline_decide(item, base_stories, base_fps)
            base_costs.append(clock() - t0)
            if ref is not None and not ref_first:
                ref_verdict, cost = timed(ref.decide, item, ref_state, now)
                ref_costs.append(cost)
            statuses[verdict.status] = statuses.get(verdict.status, 0) + 1
            differ += ref is not None and not same_verdict(verdict, ref_verdict)
        else:
            decide(item, state, now)
            baseline_decide(item, base_stories, base_fps)
            if ref is not None:
                ref.decide(item, ref_state, now)
        if len(base_stories) > 60_000:  # keep the baseline's dicts bounded too
            base_stories.clear()
            base_fps.clear()
        if args.progress and i % args.progress == 0 and i not in checkpoints:
            print(f"{i:>9} stories: held {len(state)} | RSS {rss_mb():7.1f} MB | "
                  f"{time.perf_counter() - started:7.0f} s", flush=True)
        if i in checkpoints:
            gc.collect()
            med = statistics.median(costs) * 1e6
            p99 = sorted(costs)[int(0.99 * (len(costs) - 1))] * 1e6
            bmed = statistics.median(base_costs) * 1e6
            row = (i, med, p99, bmed, med / bmed, len(state), len(state.stories), rss_mb())
            rows.append(row)
            print(f"{i:>9} stories: decide median {med:7.1f} us  p99 {p99:7.1f} us | baseline "
                  f"median {bmed:6.1f} us | ratio {med / bmed:5.1f}x | held {row[5]} "
                  f"(table {row[6]}) | RSS {row[7]:7.1f} MB | {statuses}", flush=True)
            if ref_costs:
                rmed = statistics.median(ref_costs) * 1e6
                print(f"{'':>9}  reference median {rmed:7.1f} us ({rmed / bmed:5.1f}x baseline) "
                      f"| this / reference {med / rmed:5.3f} | verdicts differing {differ}",
                      flush=True)
            costs.clear()
            base_costs.clear()
            ref_costs.clear()
            statuses.clear()
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        growth = (last[7] - first[7]) / first[7] * 100
        print(f"RSS {first[0]} -> {last[0]} stories: {first[7]:.1f} -> {last[7]:.1f} MB "
              f"({growth:+.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
