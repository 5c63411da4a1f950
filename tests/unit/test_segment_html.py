"""An HTML page with navigation, a figure, a byline, comments and a footer."""

from __future__ import annotations

from streams.records import RawStory, Segmented
from streams.segment import segment

PARAS = [
    "LONDON (Reuters) - Britain's central bank held interest rates steady on Thursday, saying inflation "
    "was still too high for a cut even though growth had slowed sharply over the winter months.",
    "The decision was widely expected by economists, who had warned that a cut would risk pushing "
    "prices up again at a time when energy bills are already rising for most households.",
    "Governor Jane Doe told reporters that the committee would keep watching the data closely and "
    "that it stood ready to act if the outlook for jobs and spending deteriorated further.",
]

PAGE = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>Bank holds rates as inflation bites | Example News</title>
  <meta property="og:title" content="Bank holds rates as inflation bites">
  <meta property="article:published_time" content="2024-03-07T12:05:00+00:00">
  <script>var x = "<p>not text</p>";</script>
  <style>p {{ color: red; }}</style>
</head>
<body>
  <nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
    <li><a href="/business">Business</a></li><li><a href="/markets">Markets</a></li></ul></nav>
  <div class="cookie-banner">We use cookies to improve your experience. Accept cookies?</div>
  <article>
    <h1>Bank holds rates as inflation bites</h1>
    <p class="byline">By Jane Smith and John Brown</p>
    <figure>
      <img src="bank.jpg" alt="">
      <figcaption>The central bank building in London, March 7, 2024. REUTERS/Toby Melville</figcaption>
    </figure>
    <p>{PARAS[0]}</p>
    <p>{PARAS[1]}</p>
    <div class="share"><a href="#">Share on Facebook</a> <a href="#">Tweet</a></div>
    <p>{PARAS[2]}</p>
    <p>(Reporting by Jane Smith; Editing by Mark Potter)</p>
  </article>
  <aside class="related"><h3>Related stories</h3><ul>
    <li><a href="/a">Markets rally after rate decision in surprise move</a></li>
    <li><a href="/b">Pound slips against the dollar as traders weigh the outlook</a></li></ul></aside>
  <section id="comments">
    <h2>Comments (2)</h2>
    <div class="comment"><p class="author">sam_k wrote:</p>
      <p>Rates should have been cut months ago, this is hurting small firms.</p>
      <p class="date">Mar 7, 2024 1:30pm GMT</p></div>
    <div class="comment"><p class="author">Ann wrote:</p>
      <p>Sensible decision given the energy prices.</p>
      <p class="date">Mar 7, 2024 2:45pm GMT</p></div>
  </section>
  <footer><p>&copy; 2024 Example News. All rights reserved.</p><p><a href="/privacy">Privacy policy</a></p></footer>
</body>
</html>"""


def _seg() -> Segmented:
    return segment(RawStory(story_id="h1", body=PAGE))


def test_html_parts() -> None:
    s = _seg()
    assert s.content_kind == "html"
    assert s.has_article
    assert s.headline == "Bank holds rates as inflation bites"
    assert s.body == PARAS
    assert s.lead == PARAS[0]
    assert s.language_hint == "en"
    assert s.published_at == "2024-03-07T12:05:00Z"


def test_html_dateline_byline() -> None:
    s = _seg()
    assert s.dateline is not None
    assert s.dateline.place == "LONDON"
    assert s.byline.authors == ["Jane Smith", "John Brown"]
    assert s.byline.editors == ["Mark Potter"]
    assert s.byline.agency == "Reuters"


def test_html_caption() -> None:
    s = _seg()
    assert len(s.captions) == 1
    assert s.captions[0].text == "The central bank building in London, March 7, 2024."
    assert s.captions[0].credit == "REUTERS/Toby Melville"


def test_html_comments() -> None:
    s = _seg()
    assert [c.author for c in s.comments] == ["sam_k", "Ann"]
    assert [c.posted_at for c in s.comments] == ["2024-03-07T13:30:00Z", "2024-03-07T14:45:00Z"]
    assert s.comments[1].text == "Sensible decision given the energy prices."


def test_html_no_boilerplate_in_body() -> None:
    text = "\n".join(_seg().body)
    for junk in (
        "cookies",
        "Share on",
        "Related stories",
        "Markets rally",
        "All rights reserved",
        "Home",
        "Rates should have been cut",
        "Editing by",
        "REUTERS/",
    ):
        assert junk not in text


def test_html_without_article() -> None:
    page = "<html><body><nav><a href='/'>Home</a> <a href='/x'>News</a></nav><footer>&copy; 2024</footer></body></html>"
    s = segment(RawStory(story_id="h2", body=page))
    assert s.content_kind == "html"
    assert not s.has_article
    assert s.body == []
