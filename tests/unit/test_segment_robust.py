"""Robustness: odd payloads never raise and give sensible records."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.records import RawStory, Segmented, decode_segmented, encode
from streams.segment import segment
from streams.segment.core import _segment

ARTICLE = (
    "Storm closes schools across the region\n\n"
    "By Maria Lopez\n\n"
    "DENVER (AP) - A powerful winter storm closed hundreds of schools across the region on Monday, "
    "stranding travelers and knocking out power to tens of thousands of homes.\n\n"
    "Forecasters said another band of heavy snow was expected overnight, and officials urged "
    "residents to stay off the roads unless their journey was absolutely necessary.\n\n"
    "Crews worked through the night to clear the main highways, but many side streets remained "
    "impassable and several bus routes were suspended until further notice.\n"
)


def _ok(s: Segmented) -> None:
    decode_segmented(encode(s))  # round-trips through the typed decoder


def test_empty() -> None:
    for body in ("", "   ", "\n\n\t\r\n"):
        s = segment(RawStory(story_id="e", body=body))
        assert s.content_kind == "empty"
        assert not s.has_article
        assert s.body == []
        _ok(s)


def test_binary_junk_latin1() -> None:
    rng = random.Random(7)
    junk = bytes(rng.randrange(256) for _ in range(20000)).decode("latin-1")
    s = _segment(RawStory(story_id="b", body=junk))  # the internal path must not raise either
    _ok(s)
    assert s.content_kind in ("text", "html", "wire")


def test_big_page() -> None:
    nav = "\n".join(f"Section {i}" for i in range(50))
    filler = (
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. " * 8
        + "\n\n"
    ) * 3300
    body = nav + "\n\n" + ARTICLE + "\n\n" + filler
    assert len(body) > 2_000_000
    s = _segment(RawStory(story_id="big", body=body))
    assert s.has_article
    _ok(s)


def test_html_entities_and_crlf() -> None:
    body = ARTICLE.replace("schools", "schools &amp; colleges").replace("\n", "\r\n")
    body = body.replace("\r\n\r\nForecasters", "\r\rForecasters")  # a lone-CR paragraph break
    s = _segment(RawStory(story_id="crlf", body=body))
    assert s.headline == "Storm closes schools &amp; colleges across the region".replace(
        "&amp;", "&"
    )
    assert s.body[0].startswith(
        "DENVER (AP) - A powerful winter storm closed hundreds of schools & colleges"
    )
    assert all("\r" not in p and "&amp;" not in p for p in s.body)
    assert s.byline.authors == ["Maria Lopez"]
    assert s.byline.agency == "AP"
    assert s.dateline is not None and s.dateline.place == "DENVER"


def test_non_english_page() -> None:
    body = (
        "Startseite\nPolitik\nWirtschaft\n\n"
        "Regierung beschließt neues Klimapaket\n\n"
        "BERLIN (dpa) - Die Bundesregierung hat am Mittwoch ein umfangreiches Klimapaket beschlossen, "
        "das den Ausstoß von Treibhausgasen bis zum Ende des Jahrzehnts deutlich senken soll.\n\n"
        "Kritiker bemängeln jedoch, dass die Maßnahmen nicht weit genug gingen und die Kosten vor allem "
        "von Verbrauchern mit geringem Einkommen getragen werden müssten.\n\n"
        "© 2024 Beispiel Zeitung\n"
    )
    s = _segment(RawStory(story_id="de", body=body, language="de"))
    assert s.headline == "Regierung beschließt neues Klimapaket"
    assert len(s.body) == 2
    assert s.language_hint == "de"
    assert s.byline.agency == "dpa"
    assert s.dateline is not None and s.dateline.place == "BERLIN"


def test_page_without_article() -> None:
    body = "Home\nNews\nSport\nWeather\n\nLogin\nRegister\n\n© 2024 Example\n"
    s = _segment(RawStory(story_id="n", body=body))
    assert not s.has_article
    assert s.body == []


def test_fields_copied() -> None:
    raw = RawStory(
        story_id="c",
        body=ARTICLE,
        fetched_at="2024-01-01T00:00:00Z",
        published_at="2024-01-01T00:00:00Z",
    )
    s = segment(raw)
    assert s.story_id == "c"
    assert s.fetched_at == "2024-01-01T00:00:00Z"
    assert s.published_at == "2024-01-01T00:00:00Z"  # no dateline time, no metadata: the envelope's
    assert s.received_at is None


_HTMLISH = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "<p>",
                "</p>",
                "<div class='comment'>",
                "</div>",
                "<br>",
                "<title>",
                "<h1>",
                "</h1>",
                "<script>",
                "</script>",
                "<!--",
                "-->",
                "&amp;",
                "&#x1F600;",
                "&bogus;",
                "<a href='x'>",
                "</a>",
                "<figcaption>",
                "\r\n",
                "\n\n",
                "Comments (3)",
                "By John Smith",
                "MOSCOW (Reuters) - ",
                "Jan 21, 2014 10:03am EST",
                "Credit: X/Y",
                "<html>",
                "</html>",
            ]
        ),
        st.text(max_size=40),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_never_raises_text(body: str) -> None:
    _ok(_segment(RawStory(story_id="p", body=body)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_HTMLISH)
def test_never_raises_htmlish(body: str) -> None:
    _ok(_segment(RawStory(story_id="p", body=body)))
