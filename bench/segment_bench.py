"""Benchmark (not a test): segmentation speed on one core, with trafilatura as the in-run baseline.

    .venv/bin/python bench/segment_bench.py                 # all 386 L3S-GN1 pages, 3 repeats
    .venv/bin/python bench/segment_bench.py --pages 100 --repeats 5 --json out.json
    # against older code in the same run (passes alternate between the two):
    git archive <commit> streams | tar -x -C /tmp/segbase
    .venv/bin/python bench/segment_bench.py --baseline /tmp/segbase --repeats 7

Measures, on the L3S-GN1 dev pages (both forms of each page):

* text: plain-text page dumps through ``segment()`` (stories/s);
* html: the HTML pages through ``segment()`` (pages/s);
* trafilatura: ``trafilatura.extract`` on the same HTML pages (pages/s), and our speed-up ratio.

Each figure is the median over ``--repeats`` passes (after one warm-up pass that also loads the
line model). The process is pinned to one CPU when the OS allows it and numeric libraries are
limited to one thread. Targets (issue 3): >= 200 text stories/s and >= 30 HTML pages/s per core.
Timings on a shared, busy machine are lower and noisier than on an idle core: the report prints
the load average so numbers can be judged, and also the rate per CPU-second of this process
(``time.process_time``), which waiting for the core does not count (cache and memory-bandwidth
contention still do). With ``--baseline DIR`` (a directory holding an older ``streams``
package) both versions run in this process, their passes alternating, and the report gives
each one's median rate per CPU-second and the median of the per-pass-pair ratios (new / old):
the comparison least disturbed by load changes during the run.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.records import RawStory  # noqa: E402
from streams.segment import segment  # noqa: E402
from streams.segment.model import get_model  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared/data/l3s-gn1-dev.jsonl.gz"


def _pin_one_core() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"pinned to cpu {cpus[-1]}"
    except (AttributeError, OSError):
        return "not pinned"


def _rate(fn: Any, items: list[Any], repeats: int) -> tuple[float, list[float], float]:
    """Median items/s over the passes by wall clock, the passes, and the median items per
    CPU-second of this process (less disturbed by other load on a shared machine)."""
    for it in items[: min(20, len(items))]:  # warm-up
        fn(it)
    rates = []
    cpu_rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        c0 = time.process_time()
        for it in items:
            fn(it)
        rates.append(len(items) / (time.perf_counter() - t0))
        cpu_rates.append(len(items) / max(1e-9, time.process_time() - c0))
    return statistics.median(rates), rates, statistics.median(cpu_rates)


def _load_tree(path: Path) -> tuple[Any, Any]:
    """``segment`` and ``RawStory`` of the ``streams`` package under ``path``, imported
    beside the current one (the modules are swapped out of ``sys.modules`` meanwhile)."""
    mine = {k: v for k, v in sys.modules.items() if k == "streams" or k.startswith("streams.")}
    for k in mine:
        del sys.modules[k]
    sys.path.insert(0, str(path))
    try:
        seg = importlib.import_module("streams.segment")
        rec = importlib.import_module("streams.records")
        importlib.import_module("streams.segment.model").get_model()
        if not Path(seg.__file__ or "").resolve().is_relative_to(path.resolve()):
            raise SystemExit(f"{path} has no streams package")
    finally:
        sys.path.remove(str(path))
        for k in [k for k in sys.modules if k == "streams" or k.startswith("streams.")]:
            del sys.modules[k]
        sys.modules.update(mine)
    return seg.segment, rec.RawStory


def _ab(
    pages: list[dict[str, Any]], field: str, base: tuple[Any, Any], repeats: int
) -> dict[str, Any]:
    """Alternating passes of the baseline and this code over the same pages (CPU time)."""
    runs: dict[str, list[float]] = {"base": [], "new": []}
    fns = {"base": base[0], "new": segment}
    items = {
        "base": [base[1](story_id=str(p["id"]), body=p[field]) for p in pages],
        "new": [RawStory(story_id=str(p["id"]), body=p[field]) for p in pages],
    }
    for name in ("base", "new"):  # warm-up
        for it in items[name][:20]:
            fns[name](it)
    for rep in range(repeats):
        for name in ("base", "new") if rep % 2 == 0 else ("new", "base"):
            c0 = time.process_time()
            for it in items[name]:
                fns[name](it)
            runs[name].append(len(pages) / max(1e-9, time.process_time() - c0))
    ratios = [n / b for n, b in zip(runs["new"], runs["base"], strict=True)]
    return {
        "base_per_cpu_s": statistics.median(runs["base"]),
        "new_per_cpu_s": statistics.median(runs["new"]),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--pages", type=int, default=None, help="only the first N pages")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-trafilatura", action="store_true")
    ap.add_argument("--json", dest="json_out", type=Path, default=None)
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="directory with an older streams package: alternate passes, report the ratio",
    )
    args = ap.parse_args(argv)
    pin = _pin_one_core()
    pages = []
    with gzip.open(args.data, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if args.pages is not None and i >= args.pages:
                break
            pages.append(json.loads(line))
    texts = [RawStory(story_id=str(p["id"]), body=p["text"]) for p in pages]
    htmls = [RawStory(story_id=str(p["id"]), body=p["html"]) for p in pages]
    model = get_model()
    if args.baseline is not None:
        base = _load_tree(args.baseline)
        print(
            f"segment bench: {len(pages)} L3S-GN1 pages, {args.repeats} alternating passes per "
            f"version, {pin}, baseline {args.baseline}, load average {os.getloadavg()}"
        )
        out: dict[str, Any] = {"pages": len(pages), "baseline": str(args.baseline)}
        for form in ("text", "html"):
            r = _ab(pages, form, base, args.repeats)
            out[form] = r
            print(
                f"  {form:<5} baseline {r['base_per_cpu_s']:7.1f}/CPU-s   this code "
                f"{r['new_per_cpu_s']:7.1f}/CPU-s   ratio (median of pass pairs) {r['ratio']:.3f}"
                f"  [{min(r['ratios']):.3f}-{max(r['ratios']):.3f}]"
            )
        print(f"  load average after {os.getloadavg()}")
        if args.json_out is not None:
            args.json_out.write_text(json.dumps(out, indent=1), encoding="utf-8")
        return 0
    res: dict[str, Any] = {
        "pages": len(pages),
        "repeats": args.repeats,
        "cpu": pin,
        "model": "packaged line model" if model is not None else "rules only (no model file)",
        "loadavg_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    res["text_per_s"], res["text_runs"], res["text_per_cpu_s"] = _rate(segment, texts, args.repeats)
    res["html_per_s"], res["html_runs"], res["html_per_cpu_s"] = _rate(segment, htmls, args.repeats)
    if not args.no_trafilatura:
        import trafilatura

        res["trafilatura_html_per_s"], res["trafilatura_runs"], res["trafilatura_per_cpu_s"] = (
            _rate(lambda r: trafilatura.extract(r.body), htmls, args.repeats)
        )
        res["html_speedup_vs_trafilatura"] = res["html_per_s"] / res["trafilatura_html_per_s"]
    res["loadavg_after"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"segment bench: {res['pages']} L3S-GN1 pages, median of {args.repeats}, {pin}, {res['model']}"
    )
    print(
        f"  text dumps   {res['text_per_s']:8.1f} stories/s   (target >= 200)"
        f"   {res['text_per_cpu_s']:8.1f} per CPU-second"
    )
    print(
        f"  html pages   {res['html_per_s']:8.1f} pages/s     (target >= 30)"
        f"   {res['html_per_cpu_s']:8.1f} per CPU-second"
    )
    if "trafilatura_html_per_s" in res:
        print(
            f"  trafilatura  {res['trafilatura_html_per_s']:8.1f} pages/s     "
            f"(segment html / trafilatura = {res['html_speedup_vs_trafilatura']:.2f}x)"
        )
    print(f"  load average before {res['loadavg_before']}, after {res['loadavg_after']}")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
