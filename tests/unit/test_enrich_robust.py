"""enrich_batch degrades on bad input instead of raising."""

from __future__ import annotations

import pytest

from streams.enrich import enrich_batch, is_degenerate
from streams.enrich.entities import load_nlp
from streams.records import Dateline, Segmented, Source


@pytest.fixture(scope="module", autouse=True)
def _model() -> None:
    load_nlp("news")


def seg(body: list[str], headline: str | None = None, **kw: object) -> Segmented:
    return Segmented(
        story_id="t", source=Source(), content_kind="text", headline=headline, body=body, **kw
    )  # type: ignore[arg-type]


def test_normal_story() -> None:
    (rec,) = enrich_batch(
        [
            seg(
                [
                    "Russian President Vladimir Putin has accepted an invitation to visit Japan, "
                    "Foreign Minister Sergei Lavrov said on Tuesday.",
                    '"The dates will be agreed through diplomatic channels," Lavrov told reporters.',
                ],
                headline="Putin accepts Japan invitation",
                dateline=Dateline(place="MOSCOW", text="MOSCOW, Jan 21"),
            )
        ]
    )
    assert rec.language == "en"
    assert {"RU", "JP"} <= set(rec.countries)
    assert rec.quotes and rec.quotes[0].speaker == "Sergei Lavrov"
    assert rec.flags == []


def test_bad_inputs_degrade() -> None:
    items = [
        seg(["ქართული ენა არის ქართველების მშობლიური ენა და საქართველოს სახელმწიფო ენა."]),
        seg(["word " * 200_000]),
        seg([]),
        seg(["... --- !!! ,,, ???"]),
        seg(["\x00\x01\x02\ufffd\ufffd\x7f" * 500]),
        seg(["中国外交部发言人表示，中方对此表示严重关切。"], language_hint="zh"),
    ]
    out = enrich_batch(items)
    assert len(out) == len(items)
    unsupported, huge, empty, punct, junk, chinese = out
    assert unsupported.entities == [] and unsupported.flags
    assert "degenerate_text" in huge.flags and huge.entities == []
    assert huge.word_count == 200_000
    assert "no_text" in empty.flags and empty.entities == []
    assert punct.entities == [] and punct.flags
    assert junk.entities == [] and junk.flags
    assert chinese.language == "zh" and "ner_unsupported_language" in chinese.flags


def test_is_degenerate() -> None:
    assert is_degenerate("spam " * 1000)
    assert not is_degenerate("The quick brown fox jumps over the lazy dog. " * 3)
