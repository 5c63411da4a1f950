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
from collections.abc import Iterator
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


class TreeModel:
    """A multi-class tree ensemble: raw score per class = baseline + sum of its trees' leaves."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if spec.get("format") != FORMAT:
            raise ValueError(f"unknown model format {spec.get('format')!r}")
        if spec.get("features_version") != FEATURES_VERSION or spec.get("n_features") != N_FEATURES:
            raise ValueError("model was trained on a different feature set; retrain it")
        if tuple(spec.get("classes", ())) != CLASSES:
            raise ValueError("model classes differ from this code's; retrain it")
        self.spec = spec
        self.classes = tuple(spec["classes"])
        self.baseline = np.asarray(spec["baseline"], dtype=np.float64)
        self.depth = int(spec["depth"])
        self.feature = np.asarray(spec["feature"], dtype=np.int32)
        # Features are float32: the largest float32 <= a float64 threshold splits them the same.
        thr64 = np.asarray(spec["threshold"], dtype=np.float64)
        thr32 = np.minimum(thr64, np.finfo(np.float32).max).astype(np.float32)
        up = thr32.astype(np.float64) > thr64
        thr32[up] = np.nextafter(thr32[up], np.float32(-np.inf))
        self.threshold = thr32
        left = np.asarray(spec["left"], dtype=np.int32)
        right = np.asarray(spec["right"], dtype=np.int32)
        # child[2 * node + goes_right]
        self.child = np.stack([left, right], axis=1).ravel().astype(np.int32)
        self.value = np.asarray(spec["value"], dtype=np.float64)
        self.roots = np.asarray(spec["roots"], dtype=np.int32)
        # Trees are stored grouped by class; class c owns trees [starts[c], starts[c+1]).
        self.class_starts = np.asarray(spec["class_starts"], dtype=np.intp)

    @classmethod
    def load(cls, path: Path) -> TreeModel:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw class scores (``n x n_classes``) for a float feature matrix."""
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, len(self.classes)))
        xf = np.ascontiguousarray(x, dtype=np.float32).ravel()
        row_off = (np.arange(n, dtype=np.int32) * np.int32(x.shape[1]))[None, :]
        cur = np.repeat(self.roots[:, None], n, axis=1)
        feature, threshold, child = self.feature, self.threshold, self.child
        for _ in range(self.depth):
            right = xf.take(row_off + feature.take(cur)) > threshold.take(cur)
            cur = child.take(cur * 2 + right)
        leaf = self.value.take(cur)  # trees x lines
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
