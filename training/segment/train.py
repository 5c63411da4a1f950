"""Train the segmentation line classifier on L3S-GN1 and export it into the package.

    .venv/bin/python -m training.segment.train            # 5-fold CV report + write the model
    .venv/bin/python -m training.segment.train --folds 0  # just train on all pages and write

Steps:

1. Every page is turned into lines exactly as :func:`streams.segment.segment` does it: the HTML
   form through the renderer, the plain-text dump through ``clean_text`` (both forms are used;
   ``is_html`` is a feature). :func:`streams.segment.text.analyze` labels the lines with the rules
   and :func:`streams.segment.text.features_of` computes the features.
2. Labels: the page's human-labelled blocks are located in order in the page's lines (whitespace
   collapsed); a line takes the label covering most of its characters (headline, fulltext ->
   body, supplemental, comments; related and boilerplate -> other). Lines no block covers are
   left out of training.
3. Model: scikit-learn ``HistGradientBoostingClassifier`` (pinned; see ``SKLEARN_VERSION``),
   lines weighted by their length (body F1 counts tokens).
4. Cross-validation by page (folds from a hash of the page id, so a page's two forms are always
   in the same fold): the out-of-fold line accuracy is printed here; the page-level out-of-fold
   scores (body F1, headline, comments, supplemental) come from
   ``python -m streams.evaluate.segment_eval --cv 5``, which calls :func:`fold_models`.
5. The final model is trained on all pages and exported as JSON tree arrays
   (``streams/segment/models/line_gbdt.json``), evaluated at runtime with numpy only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One thread: OpenMP spin-waiting on a shared, busy machine makes training many times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from streams.records import RawStory
from streams.segment.clean import fix_mojibake
from streams.segment.core import analysis_for
from streams.segment.features import FEATURE_NAMES, FEATURES_VERSION, N_FEATURES
from streams.segment.model import CLASSES, FORMAT, MODEL_PATH, TreeModel, tree_arrays
from streams.segment.text import features_of

SKLEARN_VERSION = "1.9.1"
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared/data/l3s-gn1-dev.jsonl.gz"
LABEL_CLASS = {
    "boilerplate": 0,
    "related": 0,
    "fulltext": 1,
    "headline": 2,
    "supplemental": 0,  # left to the rules (see streams.segment.model.CLASSES)
    "comments": 3,
}
PARAMS: dict[str, Any] = {
    "max_iter": 40,
    "learning_rate": 0.2,
    "max_leaf_nodes": 15,
    "max_depth": 5,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}


def load_pages(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                break
            out.append(json.loads(line))
    return out


def fold_of(page_id: str, k: int) -> int:
    return int(hashlib.sha1(page_id.encode()).hexdigest(), 16) % k


def line_labels(texts: list[str], blocks: Iterable[dict[str, str]]) -> list[int]:
    """Class per line (``-1``: no block found on it), aligning blocks in order."""
    starts: list[int] = []
    parts: list[str] = []
    pos = 0
    for t in texts:
        t = " ".join(t.split())
        starts.append(pos)
        parts.append(t)
        pos += len(t) + 1
    concat = " ".join(parts)
    lab = np.full(len(concat) + 1, -1, dtype=np.int8)
    cursor = 0
    for b in blocks:
        t = " ".join(str(b.get("text") or "").split())
        if not t:
            continue
        c = LABEL_CLASS.get(str(b.get("label")), 0)
        at = concat.find(t, cursor)
        if at < 0:
            t2 = fix_mojibake(t)
            if t2 != t:
                t = t2
                at = concat.find(t, cursor)
        if at < 0:
            continue
        # A short block found far ahead is more likely a repeat elsewhere than this block.
        if len(t) < 20 and at - cursor > 2000:
            continue
        lab[at : at + len(t)] = c
        cursor = at + len(t)
    out = []
    for s, t in zip(starts, parts, strict=True):
        seg = lab[s : s + len(t)]
        seg = seg[seg >= 0]
        if len(seg) == 0:
            out.append(-1)
            continue
        counts = np.bincount(seg, minlength=len(CLASSES))
        out.append(int(counts.argmax()))
    return out


@dataclass
class Dataset:
    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    page: np.ndarray  # page index per row
    form: np.ndarray  # 0 html, 1 text


def build_dataset(pages: list[dict[str, Any]], verbose: bool = True) -> Dataset:
    xs, ys, ws, ps, fs = [], [], [], [], []
    t0 = time.perf_counter()
    for i, page in enumerate(pages):
        for fi, form in enumerate(("html", "text")):
            an = analysis_for(RawStory(story_id=str(page["id"]), body=page.get(form) or ""))
            if an is None or not an.lines:
                continue
            x = features_of(an)
            y = np.asarray(line_labels([ln.text for ln in an.lines], page["blocks"]))
            keep = y >= 0
            xs.append(x[keep])
            ys.append(y[keep])
            words = np.asarray([ln.words for ln in an.lines], dtype=np.float64)[keep]
            ws.append(1.0 + np.sqrt(np.minimum(words, 100.0)))
            ps.append(np.full(int(keep.sum()), i))
            fs.append(np.full(int(keep.sum()), fi))
        if verbose and (i + 1) % 100 == 0:
            print(
                f"[train] featurized {i + 1}/{len(pages)} pages, {time.perf_counter() - t0:.1f}s",
                file=sys.stderr,
            )
    return Dataset(
        np.concatenate(xs),
        np.concatenate(ys),
        np.concatenate(ws),
        np.concatenate(ps),
        np.concatenate(fs),
    )


def fit(ds: Dataset, rows: np.ndarray | None = None, params: dict[str, Any] | None = None) -> Any:
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier

    if sklearn.__version__ != SKLEARN_VERSION:
        print(
            f"[train] warning: scikit-learn {sklearn.__version__}, model built with {SKLEARN_VERSION}",
            file=sys.stderr,
        )
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(**{**PARAMS, **(params or {})})
    with threadpool_limits(1):
        if rows is None:
            clf.fit(ds.x, ds.y, sample_weight=ds.w)
        else:
            clf.fit(ds.x[rows], ds.y[rows], sample_weight=ds.w[rows])
    return clf


def export(clf: Any) -> dict[str, Any]:
    """The classifier as JSON tree arrays (see :class:`streams.segment.model.TreeModel`)."""
    classes = [int(c) for c in clf.classes_]
    if classes != list(range(len(CLASSES))):
        raise ValueError(f"training data lacks some classes: {classes}")
    trees: list[Any] = []
    class_starts: list[int] = []
    for c in range(len(classes)):
        class_starts.append(len(trees))
        trees.extend(it[c].nodes for it in clf._predictors)
    class_starts.append(len(trees))
    return {
        "format": FORMAT,
        "features_version": FEATURES_VERSION,
        "n_features": N_FEATURES,
        "feature_names": list(FEATURE_NAMES),
        "classes": list(CLASSES),
        "baseline": [float(v) for v in np.asarray(clf._baseline_prediction).ravel()],
        **tree_arrays(trees),
        "class_starts": class_starts,
        "trainer": {"library": "scikit-learn", "version": SKLEARN_VERSION, "params": PARAMS},
    }


def to_model(clf: Any) -> TreeModel:
    return TreeModel(export(clf))


def fold_models(
    pages: list[dict[str, Any]], k: int, ds: Dataset | None = None, verbose: bool = True
) -> tuple[dict[int, TreeModel], Dataset]:
    """One model per fold, each trained on the pages outside the fold."""
    if ds is None:
        ds = build_dataset(pages, verbose)
    folds = np.asarray([fold_of(str(p["id"]), k) for p in pages])
    row_fold = folds[ds.page]
    models: dict[int, TreeModel] = {}
    for f in range(k):
        t0 = time.perf_counter()
        clf = fit(ds, np.flatnonzero(row_fold != f))
        models[f] = to_model(clf)
        if verbose:
            print(
                f"[train] fold {f + 1}/{k} trained in {time.perf_counter() - t0:.1f}s",
                file=sys.stderr,
            )
    return models, ds


def line_report(
    models: dict[int, TreeModel], ds: Dataset, pages: list[dict[str, Any]], k: int
) -> str:
    """Out-of-fold line-level precision / recall per class and form (token-weighted by words)."""
    folds = np.asarray([fold_of(str(p["id"]), k) for p in pages])
    row_fold = folds[ds.page]
    pred = np.zeros(len(ds.y), dtype=np.int64)
    for f, m in models.items():
        rows = np.flatnonzero(row_fold == f)
        pred[rows] = m.predict_proba(ds.x[rows]).argmax(axis=1)
    out = ["out-of-fold line classification (lines weighted by word count):"]
    words = ds.x[:, FEATURE_NAMES.index("words")]
    for fi, form in enumerate(("html", "text")):
        sel = ds.form == fi
        acc = float((pred[sel] == ds.y[sel]).mean())
        out.append(f"  {form}: line accuracy {acc:.3f}")
        for c, name in enumerate(CLASSES):
            tp = float(words[sel & (pred == c) & (ds.y == c)].sum())
            np_ = float(words[sel & (pred == c)].sum())
            ng = float(words[sel & (ds.y == c)].sum())
            p = tp / np_ if np_ else 0.0
            r = tp / ng if ng else 0.0
            f1 = 2 * p * r / (p + r) if p + r else 0.0
            out.append(f"    {name:<13} P {p:.3f} R {r:.3f} F1 {f1:.3f}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--folds", type=int, default=5, help="CV folds for the report (0: none)")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument(
        "--pages", action="store_true", help="also run the page-level out-of-fold evaluation"
    )
    args = ap.parse_args(argv)
    pages = load_pages(args.data, args.limit)
    ds = build_dataset(pages)
    print(
        f"[train] {len(pages)} pages, {len(ds.y)} labelled lines, {N_FEATURES} features",
        file=sys.stderr,
    )
    if args.folds and args.folds > 1:
        from streams.evaluate import segment_eval

        models, _ = fold_models(pages, args.folds, ds)
        if args.limit is None:
            segment_eval.save_cv_models(pages, args.folds, models)  # reused by segment_eval --cv
        print(line_report(models, ds, pages, args.folds))
        if args.pages:
            res = segment_eval.run_cv(pages, args.folds, models=models)
            print(segment_eval._fmt_table(res["rows"]))
    t0 = time.perf_counter()
    clf = fit(ds)
    spec = export(clf)
    TreeModel(spec)  # validates
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(spec, separators=(",", ":")), encoding="utf-8")
    check = TreeModel.load(args.out).predict_proba(ds.x[:2000])
    diff = float(np.abs(check - clf.predict_proba(ds.x[:2000])).max())
    print(
        f"[train] final model on all pages in {time.perf_counter() - t0:.1f}s -> {args.out} "
        f"({args.out.stat().st_size / 1024:.0f} KiB; max |p - sklearn p| = {diff:.2e})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
