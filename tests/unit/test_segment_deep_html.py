"""HTML nested deeper than libxml2's limit (256 open elements) keeps the rest of the page."""

from __future__ import annotations

import time

from streams.records import RawStory
from streams.segment import segment
from streams.segment.html import flatten_deep, render

PARAS = [
    "The city council approved the new budget on Tuesday after a long debate about spending on "
    "roads, schools and the public transport network that many residents rely on every day.",
    "Council members said the plan would keep taxes flat for another year while adding money for "
    "repairs that had been postponed several times since the financial crisis hit the region.",
    "Opponents argued that the budget relied on optimistic revenue forecasts and warned that cuts "
    "could follow next spring if the economy slowed down as some analysts now expect it will.",
]


def _page(depth: int, tag: str = "div") -> str:
    deep = f"<{tag}>" * depth + f"<p>{PARAS[1]}</p>" + f"</{tag}>" * depth
    return (
        "<html><head><title>Council approves budget</title></head><body>"
        "<h1>Council approves budget</h1>"
        f"<p>{PARAS[0]}</p>{deep}<p>{PARAS[2]}</p>"
        "<p>Copyright 2024 Example News. All rights reserved.</p></body></html>"
    )


def test_render_keeps_text_after_deep_nesting() -> None:
    for depth in (10, 300, 3000):
        lines = [s for s in render(_page(depth)).lines if s]
        assert lines[-1].startswith("Copyright"), depth
        assert PARAS[1] in lines and PARAS[2] in lines, depth


def test_segment_deep_page_body() -> None:
    for tag in ("div", "font", "span"):
        seg = segment(RawStory(story_id="deep", body=_page(1000, tag)))
        assert seg.has_article
        assert seg.body == PARAS, tag
        assert seg.headline == "Council approves budget"


def test_flatten_deep_keeps_text_links_and_headings() -> None:
    src = "<div class=nav>a<span>b</span><a href=1>c</a><p>d</p><table><tr><td>e</td></tr></table>"
    flat = flatten_deep(src + "<h1>g</h1><font>f</font></div>")
    assert "<div" not in flat and "<span" not in flat and "<td" not in flat and "<font" not in flat
    assert "<a href=1>c</a>" in flat and "<p>d</p>" in flat and "<h1>g</h1>" in flat
    assert [w for w in "abcdefg" if w not in flat] == []
    # A tag written inside a script stays script text (the renderer skips scripts).
    assert flatten_deep("<script>var s='<b>';</script>").startswith("<script>")


def test_deep_page_is_fast() -> None:
    body = _page(20000)
    t0 = time.process_time()
    seg = segment(RawStory(story_id="deep", body=body))
    assert seg.has_article and PARAS[2] in seg.body
    assert time.process_time() - t0 < 5.0
