"""Train the headline ranker (:mod:`streams.segment.headline`) on L3S-GN1, nested in the
line classifier's cross-validation.

    .venv/bin/python -m streams.segment.headline_train          # fold rankers + packaged ranker
    .venv/bin/python -m streams.segment.headline_train --dev    # design check (folds 1-4 only)

Needs scikit-learn (a training-only dependency, as for ``training/segment/train.py``).

The ranker learns from the line model's probabilities, so those must look like the ones it
will see at run time, on pages the line model did not train on:

* the **packaged ranker** is trained on every page, each scored by the line model of the
  5-fold cross-validation that did not train on it (``var/segment-cv``, shared with
  ``python -m streams.evaluate.segment_eval``);
* the **fold rankers** used for the held-out evaluation (fold ``f``: the ranker that segments
  the pages of fold ``f``) never see fold ``f``: they are trained on the other folds' pages,
  each scored by an *inner* line model trained without fold ``f`` and without the page's own
  fold (20 inner models, cached beside the fold models). This is nested cross-validation: no
  label of a held-out page reaches its line model or its ranker.

A candidate is a positive when its text equals a ``headline`` block (or all of them joined)
after the evaluation's normalization; pages whose candidates include no positive are left out
of training. ``--dev`` compares ranker settings by cross-validation over folds 1-4 only (fold
0 is never looked at), against the line model's own choice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from streams.records import RawStory
from streams.segment import headline as hl
from streams.segment.core import analysis_for
from streams.segment.model import FORMAT, TreeModel, tree_arrays
from streams.segment.text import Analysis, _model_body, features_of

K = 5
PARAMS: dict[str, Any] = {
    "max_iter": 150,
    "learning_rate": 0.05,
    "max_leaf_nodes": 8,
    "max_depth": 3,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}


@dataclass
class Doc:
    page: int
    fold: int
    form: str
    an: Analysis
    x: np.ndarray  # line features
    gold: set[str]  # normalized gold headlines ({} when the page has none)


def _norm_headline(s: str) -> str:
    from streams.evaluate.segment_eval import norm_headline

    return norm_headline(s)


def build_docs(pages: list[dict[str, Any]]) -> list[Doc]:
    from streams.evaluate.segment_eval import _fold_of

    docs = []
    for i, page in enumerate(pages):
        heads = [b["text"] for b in page["blocks"] if b["label"] == "headline"]
        gold = {_norm_headline(g) for g in [*heads, " ".join(heads)]} if heads else set()
        for form in ("html", "text"):
            an = analysis_for(RawStory(story_id=str(page["id"]), body=page.get(form) or ""))
            if an is None or not an.lines:
                continue
            docs.append(Doc(i, _fold_of(str(page["id"]), K), form, an, features_of(an), gold))
    return docs


@dataclass
class Rows:
    x: np.ndarray
    y: np.ndarray
    group: np.ndarray  # document index per row
    cands: list[list[int]]


def ranker_rows(docs: list[Doc], model_of: dict[int, TreeModel]) -> Rows:
    """Candidate rows of every document, scored by ``model_of[doc index]``."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    gs: list[np.ndarray] = []
    cl: list[list[int]] = []
    for j, d in enumerate(docs):
        p = model_of[j].predict_proba(d.x)
        got = _model_body(d.an.lines, p)
        if got is None:
            cl.append([])
            continue
        a, _, body_idx = got
        cands = hl.candidates(d.an, p, d.x, a)
        cl.append(cands)
        if not cands:
            continue
        xs.append(hl.rank_features(d.an, p, d.x, a, cands, d.an.lines[body_idx[0]].text))
        ys.append(np.asarray([_norm_headline(d.an.lines[k].text) in d.gold for k in cands]))
        gs.append(np.full(len(cands), j))
    return Rows(np.concatenate(xs), np.concatenate(ys), np.concatenate(gs), cl)


def fit(rows: Rows, docs_mask: np.ndarray, params: dict[str, Any] | None = None) -> Any:
    """A binary tree ensemble on the rows of the selected documents that have a positive."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    has_pos = np.zeros(len(docs_mask), dtype=bool)
    has_pos[np.unique(rows.group[rows.y])] = True
    sel = docs_mask[rows.group] & has_pos[rows.group]
    clf = HistGradientBoostingClassifier(**{**PARAMS, **(params or {})})
    with threadpool_limits(1):
        clf.fit(rows.x[sel], rows.y[sel].astype(np.int64))
    return clf


def export(clf: Any) -> dict[str, Any]:
    """A binary classifier as JSON tree arrays (:class:`TreeModel`, one class: raw score)."""
    trees = [it[0].nodes for it in clf._predictors]
    return {
        "format": FORMAT,
        "features_version": hl.RANK_VERSION,
        "n_features": hl.N_RANK_FEATURES,
        "feature_names": list(hl.RANK_FEATURES),
        "classes": list(hl.RANK_CLASSES),
        "baseline": [float(np.asarray(clf._baseline_prediction).ravel()[0])],
        **tree_arrays(trees),
        "class_starts": [0, len(trees)],
        "trainer": {"library": "scikit-learn", "params": PARAMS},
    }


def to_ranker(clf: Any) -> TreeModel:
    return TreeModel(
        export(clf),
        features_version=hl.RANK_VERSION,
        n_features=hl.N_RANK_FEATURES,
        classes=hl.RANK_CLASSES,
    )


def pick_accuracy(
    rows: Rows, docs: list[Doc], scores: np.ndarray, docs_mask: np.ndarray
) -> dict[str, float]:
    """Share of documents (with a gold headline, in the mask) whose best-scored candidate is
    a gold headline, per form."""
    best: dict[int, tuple[float, bool]] = {}
    for s, g, y in zip(scores.tolist(), rows.group.tolist(), rows.y.tolist(), strict=True):
        if g not in best or s > best[g][0]:
            best[g] = (s, y)
    out: dict[str, float] = {}
    for form in ("html", "text"):
        idx = [j for j, d in enumerate(docs) if d.form == form and d.gold and docs_mask[j]]
        out[form] = sum(1 for j in idx if best.get(j, (0.0, False))[1]) / max(1, len(idx))
    return out


def line_model_accuracy(
    docs: list[Doc], model_of: dict[int, TreeModel], mask: np.ndarray
) -> dict[str, float]:
    """The previous choice (line model's best line, rule headline below HEAD_MIN)."""
    out: dict[str, float] = {}
    for form in ("html", "text"):
        ok = n = 0
        for j, d in enumerate(docs):
            if d.form != form or not d.gold or not mask[j]:
                continue
            n += 1
            p = model_of[j].predict_proba(d.x)
            got = _model_body(d.an.lines, p)
            if got is None:
                continue
            h = hl._line_model_choice(d.an, p, got[0])
            ok += h is not None and _norm_headline(d.an.lines[h].text) in d.gold
        out[form] = ok / max(1, n)
    return out


def _ranker_key() -> str:
    h = hashlib.sha1()
    for f in (Path(hl.__file__), Path(__file__)):
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def fold_dir(pages: list[dict[str, Any]], cache: Path | None = None) -> Path:
    from streams.evaluate import segment_eval

    return (cache or segment_eval.DEFAULT_CACHE) / segment_eval._cache_key(pages, K)


def inner_models(
    pages: list[dict[str, Any]], d: Path, verbose: bool = True
) -> dict[tuple[int, int], TreeModel]:
    """Line models trained without folds ``f`` and ``g`` (cached in ``d``)."""
    from training.segment import train

    out: dict[tuple[int, int], TreeModel] = {}
    need = [(f, g) for f in range(K) for g in range(K) if g != f and f < g]
    missing = [fg for fg in need if not (d / f"inner{fg[0]}{fg[1]}.json").exists()]
    ds = train.build_dataset(pages, verbose) if missing else None
    folds = np.asarray([train.fold_of(str(p["id"]), K) for p in pages])
    for f, g in need:
        path = d / f"inner{f}{g}.json"
        if not path.exists():
            assert ds is not None
            t0 = time.perf_counter()
            row_fold = folds[ds.page]
            clf = train.fit(ds, np.flatnonzero((row_fold != f) & (row_fold != g)))
            m = train.to_model(clf)
            d.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(m.spec, separators=(",", ":")))
            if verbose:
                print(
                    f"[headline] inner model {f}{g} in {time.perf_counter() - t0:.0f}s",
                    file=sys.stderr,
                )
        out[(f, g)] = out[(g, f)] = TreeModel.load(path)
    return out


def fold_rankers(
    pages: list[dict[str, Any]],
    outer: dict[int, TreeModel],
    cache: Path | None = None,
    verbose: bool = True,
    docs: list[Doc] | None = None,
) -> dict[int, TreeModel]:
    """The held-out evaluation's rankers (nested; cached beside the fold models)."""
    d = fold_dir(pages, cache)
    key = _ranker_key()
    paths = {f: d / f"ranker{f}-{key}.json" for f in range(K)}
    if all(p.exists() for p in paths.values()):
        return {f: hl.load_ranker(p) for f, p in paths.items()}
    docs = docs if docs is not None else build_docs(pages)
    inner = inner_models(pages, d, verbose)
    out: dict[int, TreeModel] = {}
    for f in range(K):
        model_of = {j: inner[(f, doc.fold)] for j, doc in enumerate(docs) if doc.fold != f}
        mask = np.asarray([doc.fold != f for doc in docs])
        sub = [j for j in range(len(docs)) if mask[j]]
        rows = ranker_rows([docs[j] for j in sub], {i: model_of[j] for i, j in enumerate(sub)})
        clf = fit(rows, np.ones(len(sub), dtype=bool))
        r = to_ranker(clf)
        paths[f].write_text(json.dumps(r.spec, separators=(",", ":")))
        out[f] = r
        if verbose:
            print(f"[headline] fold ranker {f} trained on {len(sub)} documents", file=sys.stderr)
    return out


def dev_report(docs: list[Doc], outer: dict[int, TreeModel], params: list[dict[str, Any]]) -> None:
    """Cross-validation over folds 1-4 only (fold 0 untouched): each fold's documents are
    scored by a ranker trained on the other three (line probabilities out-of-fold)."""
    model_of = {j: outer[d.fold] for j, d in enumerate(docs)}
    rows = ranker_rows(docs, model_of)
    dev = np.asarray([d.fold != 0 for d in docs])
    print("line model choice (folds 1-4):", line_model_accuracy(docs, model_of, dev))
    oracle = {}
    for form in ("html", "text"):
        idx = [j for j, d in enumerate(docs) if d.form == form and d.gold and dev[j]]
        pos = set(rows.group[rows.y].tolist())
        oracle[form] = sum(1 for j in idx if j in pos) / max(1, len(idx))
    print("a gold headline among the candidates:", oracle)
    doc_fold = np.asarray([d.fold for d in docs])
    doc_html = np.asarray([d.form == "html" for d in docs])
    for prm in params:
        scores = np.zeros(len(rows.y))
        per_form = bool(prm.get("per_form"))
        prm = {k: v for k, v in prm.items() if k != "per_form"}
        for f in range(1, K):
            for part in (doc_html, ~doc_html) if per_form else (np.ones(len(docs), bool),):
                clf = fit(rows, dev & (doc_fold != f) & part, prm)
                sel = (doc_fold[rows.group] == f) & part[rows.group]
                scores[sel] = clf.decision_function(rows.x[sel])
        print(prm, "per form" if per_form else "", pick_accuracy(rows, docs, scores, dev))


def main(argv: list[str] | None = None) -> int:
    from streams.evaluate import segment_eval

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=segment_eval.DEFAULT_DATA)
    ap.add_argument("--dev", action="store_true", help="compare settings on folds 1-4 only")
    ap.add_argument("--out", type=Path, default=hl.RANKER_PATH)
    args = ap.parse_args(argv)
    pages = list(segment_eval.load(args.data, None))
    outer = segment_eval.cv_models(pages, K, None)
    if outer is None:
        return 1
    t0 = time.perf_counter()
    docs = build_docs(pages)
    print(
        f"[headline] {len(docs)} documents analysed in {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
    )
    if args.dev:
        grid: list[dict[str, Any]] = [
            {},
            {"max_iter": 150, "learning_rate": 0.05},
            {"per_form": True},
            {"per_form": True, "max_iter": 150, "learning_rate": 0.05},
            {"min_samples_leaf": 5},
        ]
        dev_report(docs, outer, grid)
        return 0
    fold_rankers(pages, outer, docs=docs)
    model_of = {j: outer[d.fold] for j, d in enumerate(docs)}
    rows = ranker_rows(docs, model_of)
    clf = fit(rows, np.ones(len(docs), dtype=bool))
    spec = export(clf)
    r = to_ranker(clf)
    diff = float(np.abs(r.raw(rows.x[:3000])[:, 0] - clf.decision_function(rows.x[:3000])).max())
    args.out.write_text(json.dumps(spec, separators=(",", ":")), encoding="utf-8")
    print(
        f"[headline] packaged ranker -> {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, "
        f"max |score - sklearn| = {diff:.1e})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
