"""The trained line classifier: features, the numpy tree evaluator, the packaged model, labels."""

from __future__ import annotations

import numpy as np
import pytest

from streams.records import RawStory
from streams.segment import segment
from streams.segment.features import FEATURE_NAMES, N_FEATURES, char_stats
from streams.segment.model import CLASSES, MODEL_PATH, TreeModel, get_model, use_model
from streams.segment.text import analyze, features_of

PAGE = """Markets | World | Sport

Putin accepts Japan invitation

MOSCOW Tue Jan 21, 2014 8:16am EST

MOSCOW (Reuters) - Russian President Vladimir Putin has accepted an invitation to visit Japan, the foreign minister said on Tuesday in Moscow.

Lavrov made clear that despite the visit there would be no swift solution to a territorial dispute over the islands.

Comments (1)
tmc wrote:
just part of it all.
Jan 21, 2014 10:03am EST -- Report as abuse
"""


def test_char_stats() -> None:
    cap, upper, digit, punct, wlen = char_stats(["Hello World, 2008!", "abc def", "X"])
    assert cap[0] == 1.0 and cap[1] == 0.0
    assert upper[2] == 1.0
    assert digit[0] == pytest.approx(4 / 18)
    assert punct[0] == pytest.approx(2 / 18)
    assert wlen.tolist() == pytest.approx([16 / 3, 3.0, 1.0])


def test_features_shape_and_finite() -> None:
    an = analyze(PAGE)
    x = features_of(an)
    assert x.shape == (len(an.lines), N_FEATURES) == (len(an.lines), len(FEATURE_NAMES))
    assert x.dtype == np.float32
    assert np.isfinite(x).all()
    assert analyze("").lines == []


def test_packaged_model_loads_once_and_predicts() -> None:
    if not MODEL_PATH.exists():
        pytest.skip("no packaged model")
    m = get_model()
    assert m is not None and m is get_model()
    assert MODEL_PATH.stat().st_size < 2_000_000
    p = m.predict_proba(features_of(analyze(PAGE)))
    assert p.shape[1] == len(CLASSES)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert m.predict_proba(np.zeros((0, N_FEATURES), dtype=np.float32)).shape[0] == 0


def test_rules_only_and_model_paths_agree_on_easy_page() -> None:
    with use_model(None):
        rules = segment(RawStory(story_id="r", body=PAGE))
    model = segment(RawStory(story_id="m", body=PAGE))
    for s in (rules, model):
        assert s.has_article
        assert s.headline == "Putin accepts Japan invitation"
        assert s.body[0].startswith("MOSCOW (Reuters) - Russian President")
        assert s.comments and s.comments[0].author == "tmc"


def test_exported_trees_match_sklearn() -> None:
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier

    from training.segment.train import export

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, N_FEATURES)).astype(np.float32)
    x[:, 1] = rng.integers(0, 40, size=600)  # integer-valued feature: ties at thresholds
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 20).astype(int) * 2
    y[y == 3] = 3
    y[:4] = [0, 1, 2, 3]
    clf = HistGradientBoostingClassifier(max_iter=8, max_leaf_nodes=7, random_state=0).fit(x, y)
    m = TreeModel(export(clf))
    assert np.abs(m.predict_proba(x) - clf.predict_proba(x)).max() < 1e-6


def test_line_labels_alignment() -> None:
    pytest.importorskip("sklearn")
    from training.segment.train import LABEL_CLASS, line_labels

    lines = [
        "Home News",
        "Big headline here",
        "First   paragraph of text.",
        "Unlabelled",
        "a comment",
    ]
    blocks = [
        {"label": "boilerplate", "text": "Home News"},
        {"label": "headline", "text": "Big headline here"},
        {"label": "fulltext", "text": "First paragraph of text."},
        {"label": "comments", "text": "a comment"},
    ]
    got = line_labels(lines, blocks)
    assert got == [
        LABEL_CLASS["boilerplate"],
        LABEL_CLASS["headline"],
        LABEL_CLASS["fulltext"],
        -1,
        LABEL_CLASS["comments"],
    ]


def test_bad_model_spec_rejected() -> None:
    with pytest.raises(ValueError):
        TreeModel({"format": "other"})
