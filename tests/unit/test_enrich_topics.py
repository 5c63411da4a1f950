"""IPTC top-level topics from the keyword lexicon."""

from __future__ import annotations

from streams.enrich.topics import TOPICS, classify_topics


def test_taxonomy_is_the_iptc_top_level() -> None:
    assert len(TOPICS) == 17
    assert "economy, business and finance" in TOPICS


def test_economy_from_wire_abbreviations() -> None:
    text = "Shr 12 cts vs 10 cts. Net 1.2 mln dlrs vs 1.0 mln. Revs 10 mln vs 9 mln."
    assert classify_topics(text)[0] == "economy, business and finance"


def test_sport_and_nothing() -> None:
    text = "The striker scored twice as the team won the league match, the coach said."
    assert classify_topics(text) == ["sport"]
    assert classify_topics("") == []
    assert classify_topics("Hello there.") == []
