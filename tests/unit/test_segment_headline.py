"""The second-stage headline ranker: candidates, features, the packaged file, the exporter."""

from __future__ import annotations

import numpy as np
import pytest

from streams.records import RawStory
from streams.segment import segment
from streams.segment.headline import (
    N_RANK_FEATURES,
    NOT_HEAD,
    RANK_FEATURES,
    RANKER_PATH,
    candidates,
    get_ranker,
    load_ranker,
    rank_features,
    use_ranker,
)
from streams.segment.model import get_model
from streams.segment.text import Analysis, _model_body, analyze, features_of

PAGE = """Home | World | Business | Sport

Markets rally as oil slips

Putin accepts Japan invitation, minister says

By Jane Smith

MOSCOW Tue Jan 21, 2014 8:16am EST

Russian President Vladimir Putin answers a question in Moscow. REUTERS/Maxim Shemetov

MOSCOW (Reuters) - Russian President Vladimir Putin has accepted an invitation to visit Japan, the foreign minister said on Tuesday in Moscow after talks.

Lavrov made clear that despite the visit there would be no swift solution to a territorial dispute over the islands north of Hokkaido.

(Writing by Jane Smith; Editing by Mark Potter)
"""


def _body_start(text: str) -> tuple[Analysis, np.ndarray, np.ndarray, int]:
    an = analyze(text)
    m = get_model()
    if m is None:
        pytest.skip("no packaged line model")
    x = features_of(an)
    p = m.predict_proba(x)
    got = _model_body(an.lines, p)
    assert got is not None
    return an, p, x, got[0]


def test_candidates_skip_strong_rule_lines() -> None:
    an, p, x, a = _body_start(PAGE)
    cands = candidates(an, p, x, a)
    lines = an.lines
    assert cands and all(lines[k].kind not in NOT_HEAD for k in cands)
    texts = [lines[k].text for k in cands]
    assert "Putin accepts Japan invitation, minister says" in texts
    assert "By Jane Smith" not in texts
    assert all(k <= a + 1 for k in cands)


def test_rank_features_shape_and_finite() -> None:
    an, p, x, a = _body_start(PAGE)
    cands = candidates(an, p, x, a)
    r = rank_features(an, p, x, a, cands, "MOSCOW (Reuters) - Russian President")
    assert r.shape == (len(cands), N_RANK_FEATURES) == (len(cands), len(RANK_FEATURES))
    assert r.dtype == np.float32 and np.isfinite(r).all()
    assert rank_features(an, p, x, a, [], None).shape == (0, N_RANK_FEATURES)


def test_headline_with_and_without_ranker() -> None:
    for ranker in (get_ranker(), None):
        with use_ranker(ranker):
            seg = segment(RawStory(story_id="h", body=PAGE))
        assert seg.headline == "Putin accepts Japan invitation, minister says"


def test_packaged_ranker_small_and_loaded_once() -> None:
    if not RANKER_PATH.exists():
        pytest.skip("no packaged ranker")
    assert RANKER_PATH.stat().st_size < 300_000
    r = get_ranker()
    assert r is not None and r is get_ranker()
    assert load_ranker(RANKER_PATH).raw(np.zeros((3, N_RANK_FEATURES), np.float32)).shape == (3, 1)


def test_ranker_export_matches_sklearn() -> None:
    pytest.importorskip("sklearn")
    from sklearn.ensemble import HistGradientBoostingClassifier

    from streams.segment.headline_train import to_ranker

    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, N_RANK_FEATURES)).astype(np.float32)
    x[:, 1] = rng.integers(0, 10, size=500)
    y = ((x[:, 0] > 0.5) | (x[:, 1] < 2)).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=10, max_depth=3, random_state=0).fit(x, y)
    r = to_ranker(clf)
    assert np.abs(r.raw(x)[:, 0] - clf.decision_function(x)).max() < 1e-5
