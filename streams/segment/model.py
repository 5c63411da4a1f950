"""The trained line classifier: a gradient-boosted tree ensemble evaluated with numpy.

The model is trained by ``training/segment/train.py`` (scikit-learn's
HistGradientBoostingClassifier) and exported to a plain JSON file of tree arrays
(``models/line_gbdt.json``): no pickle, no scikit-learn at runtime. All trees are evaluated at
once, level by level, over all lines of a page (vectorized), which costs well under a
millisecond for a typical page.

Classes (columns of :meth:`TreeModel.predict_proba`): see :data:`CLASSES`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from streams.segment.features import FEATURES_VERSION, N_FEATURES

#: Supplemental text (captions, credits, bylines, datelines) is left to the rules and counts as
#: "other" here: fewer classes, fewer trees, faster evaluation.
CLASSES = ("other", "body", "headline", "comments")
C_OTHER, C_BODY, C_HEAD, C_COMMENT = range(4)
MODEL_PATH = Path(__file__).with_name("models") / "line_gbdt.json"
FORMAT = "newsflow-gbdt/1"


def tree_arrays(trees: Iterable[Any]) -> dict[str, Any]:
    """Fitted trees (scikit-learn HistGradientBoosting predictor ``nodes``, one structured array
    per tree, in model order) as :class:`TreeModel`'s flat JSON arrays: ``depth``, ``feature``,
    ``threshold``, ``left``, ``right``, ``value`` and ``roots``. A leaf points to itself with
    threshold 1e300 (strict JSON has no Infinity); values are rounded to 7 digits."""
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []
    roots: list[int] = []
    depth = 0
    for nodes in trees:
        if nodes["is_categorical"].any():
            raise ValueError("categorical splits are not supported by the exporter")
        off = len(feature)
        roots.append(off)
        depth = max(depth, int(nodes["depth"].max()))
        for j, nd in enumerate(nodes):
            leaf = bool(nd["is_leaf"])
            feature.append(0 if leaf else int(nd["feature_idx"]))
            threshold.append(1e300 if leaf else float(nd["num_threshold"]))
            left.append(off + (j if leaf else int(nd["left"])))
            right.append(off + (j if leaf else int(nd["right"])))
            value.append(round(float(nd["value"]), 7) if leaf else 0.0)
    return {
        "depth": depth,
        "feature": feature,
        "threshold": threshold,
        "left": left,
        "right": right,
        "value": value,
        "roots": roots,
    }


class TreeModel:
    """A multi-class tree ensemble: raw score per class = baseline + sum of its trees' leaves."""

    def __init__(
        self,
        spec: dict[str, Any],
        features_version: int = FEATURES_VERSION,
        n_features: int = N_FEATURES,
        classes: tuple[str, ...] = CLASSES,
    ) -> None:
        """``spec`` as exported by the training script; the other arguments are what this
        code expects of it (the line classifier's by default; the headline ranker passes its
        own, with one class: a raw score per row)."""
        if spec.get("format") != FORMAT:
            raise ValueError(f"unknown model format {spec.get('format')!r}")
        if spec.get("features_version") != features_version or spec.get("n_features") != n_features:
            raise ValueError("model was trained on a different feature set; retrain it")
        if tuple(spec.get("classes", ())) != classes:
            raise ValueError("model classes differ from this code's; retrain it")
        self.spec = spec
        self.classes = tuple(spec["classes"])
        self.baseline = np.asarray(spec["baseline"], dtype=np.float64)
        self.depth = int(spec["depth"])
        # Features are float32: the largest float32 <= a float64 threshold splits them the same.
        thr64 = np.asarray(spec["threshold"], dtype=np.float64)
        thr32 = np.minimum(thr64, np.finfo(np.float32).max).astype(np.float32)
        up = thr32.astype(np.float64) > thr64
        thr32[up] = np.nextafter(thr32[up], np.float32(-np.inf))
        left = np.asarray(spec["left"], dtype=np.int32)
        right = np.asarray(spec["right"], dtype=np.int32)
        value = np.asarray(spec["value"], dtype=np.float64)
        roots = np.asarray(spec["roots"], dtype=np.int32)
        # Trees are stored grouped by class; class c owns trees [starts[c], starts[c+1]).
        self.class_starts = np.asarray(spec["class_starts"], dtype=np.intp)
        self._heap(thr32, left, right, value, roots)

    def _heap(
        self,
        thr32: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        value: np.ndarray,
        roots: np.ndarray,
    ) -> None:
        """Every tree as a complete binary tree of :attr:`depth` levels (heap order: the
        children of node ``h`` are ``2h + 1`` and ``2h + 2``), so evaluation finds a child by
        arithmetic. A leaf above the last level is padded with "always left" nodes
        (threshold +inf) down to a copy of its value in the last level."""
        n_trees, depth = len(roots), self.depth
        n_inner, n_leaf = (1 << depth) - 1, 1 << depth
        feat = np.zeros((n_trees, max(1, n_inner)), dtype=np.int32)
        thr = np.full((n_trees, max(1, n_inner)), np.inf, dtype=np.float32)
        leaves = np.zeros((n_trees, n_leaf), dtype=np.float64)
        spec_feature = np.asarray(self.spec["feature"], dtype=np.int32)
        for t, root in enumerate(roots.tolist()):
            stack = [(root, 0, 0)]
            while stack:
                node, h, d = stack.pop()
                if d == depth:
                    leaves[t, h - n_inner] = value[node]
                    continue
                lt, rt = int(left[node]), int(right[node])
                if lt != node:  # an inner node (leaves point at themselves)
                    feat[t, h] = spec_feature[node]
                    thr[t, h] = thr32[node]
                stack.append((lt, 2 * h + 1, d + 1))
                stack.append((rt, 2 * h + 2, d + 1))
        self.h_feature = feat.ravel()
        self.h_threshold = thr.ravel()
        self.h_value = leaves.ravel()
        self.root_feature = feat[:, 0].copy()
        self.root_threshold = thr[:, 0].copy()
        self.inner_base = (np.arange(n_trees, dtype=np.int32) * np.int32(n_inner))[:, None]
        self.leaf_base = (np.arange(n_trees, dtype=np.int32) * np.int32(n_leaf))[:, None]
        self.n_inner = n_inner

    @classmethod
    def load(cls, path: Path, **expect: Any) -> TreeModel:
        return cls(json.loads(path.read_text(encoding="utf-8")), **expect)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw class scores (``n x n_classes``) for a float feature matrix.

        All trees advance one level at a time over all lines (``trees x lines`` node indices);
        the features are read from the transposed matrix (a tree's lines share its feature)."""
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, len(self.classes)))
        xt = np.ascontiguousarray(x.T, dtype=np.float32)
        if self.depth == 0:
            loc = np.zeros((len(self.root_feature), n), dtype=np.int32)
        else:
            loc = 1 + (xt[self.root_feature] > self.root_threshold[:, None]).astype(np.int32)
            xf, line, nn = xt.ravel(), np.arange(n, dtype=np.int32)[None, :], np.int32(n)
            feature, threshold, base = self.h_feature, self.h_threshold, self.inner_base
            for _ in range(self.depth - 1):
                g = loc + base
                right = xf.take(feature.take(g) * nn + line) > threshold.take(g)
                loc = loc * 2 + 1 + right
        leaf = self.h_value.take(loc - self.n_inner + self.leaf_base)  # trees x lines
        sums = np.add.reduceat(leaf, self.class_starts[:-1], axis=0)
        return sums.T + self.baseline[None, :]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = self.raw(x)
        if z.shape[0] == 0:
            return z
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        probs: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return probs


_MODEL: TreeModel | None = None
_LOADED = False
_OVERRIDE: list[TreeModel | None] = []


def get_model() -> TreeModel | None:
    """The packaged model, loaded once (``None`` if missing or unreadable: rules only)."""
    global _MODEL, _LOADED
    if _OVERRIDE:
        return _OVERRIDE[-1]
    if not _LOADED:
        _LOADED = True
        try:
            _MODEL = TreeModel.load(MODEL_PATH)
        except (OSError, ValueError, KeyError, TypeError):
            _MODEL = None
    return _MODEL


@contextlib.contextmanager
def use_model(model: TreeModel | None) -> Iterator[None]:
    """Temporarily segment with another model (cross-validation folds), or ``None`` (rules only)."""
    _OVERRIDE.append(model)
    try:
        yield
    finally:
        _OVERRIDE.pop()
