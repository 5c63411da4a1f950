"""Pure entity functions (cleaning, recasing, merging) and the news NER model on a few sentences."""

from __future__ import annotations

import pytest

from streams.enrich.entities import (
    NEWS_MODEL_DIR,
    Mention,
    clean_mention,
    extract_entities,
    harmonize_types,
    load_nlp,
    merge_mentions,
    recase,
)


@pytest.fixture(scope="module")
def nlp():  # type: ignore[no-untyped-def]
    return load_nlp("news")


def test_clean_mention_strips_articles_possessives_and_punctuation() -> None:
    assert clean_mention("the Soviet Union") == "Soviet Union"
    assert clean_mention("Putin's") == "Putin"
    assert clean_mention('"Reuters,') == "Reuters"
    assert clean_mention("  New\nYork ") == "New York"
    assert clean_mention("the U.S.,") == "U.S."
    assert clean_mention("The Hague") == "The Hague"


def test_recase_only_touches_all_caps_lines_and_keeps_length() -> None:
    text = "RUSSIA'S PUTIN ACCEPTS JAPAN INVITATION\nMoscow said on Tuesday that NATO met."
    out = recase(text)
    assert len(out) == len(text)
    assert out.splitlines()[0].startswith("Russia'S Putin")
    assert out.splitlines()[1] == "Moscow said on Tuesday that NATO met."
    assert recase("short CAPS") == "short CAPS"


def test_merge_mentions_links_surnames_and_title_prefixed_names() -> None:
    ms = [
        Mention("Russian President Vladimir Putin", "PERSON"),
        Mention("Vladimir Putin", "PERSON"),
        Mention("Putin", "PERSON"),
        Mention("Putin", "ORG"),
        Mention("Soviet Union", "LOC"),
    ]
    ents = {e.text: e for e in merge_mentions(ms)}
    assert ents["Vladimir Putin"].count == 4
    assert ents["Vladimir Putin"].type == "PERSON"
    assert "Putin" not in ents
    assert ents["Soviet Union"].count == 1


def test_merge_mentions_keeps_ambiguous_surnames_apart() -> None:
    ms = [
        Mention("George Bush", "PERSON"),
        Mention("Jeb Bush", "PERSON"),
        Mention("Bush", "PERSON"),
    ]
    assert {e.text for e in merge_mentions(ms)} == {"George Bush", "Jeb Bush", "Bush"}


def test_merge_prefers_mixed_case_display() -> None:
    ents = merge_mentions([Mention("MOSCOW", "LOC"), Mention("Moscow", "LOC")])
    assert [(e.text, e.count) for e in ents] == [("Moscow", 2)]


def test_harmonize_types_majority_vote() -> None:
    ms = [Mention("Jordan", "LOC"), Mention("Jordan", "LOC"), Mention("Jordan", "PERSON")]
    assert {m.type for m in harmonize_types(ms)} == {"LOC"}


def test_news_model_is_bundled_and_minimal(nlp) -> None:  # type: ignore[no-untyped-def]
    assert (NEWS_MODEL_DIR / "config.cfg").exists()
    assert nlp.pipe_names == ["ner"]
    assert set(nlp.get_pipe("ner").labels) == {"PER", "ORG", "LOC", "MISC"}


def test_extract_entities_on_news(nlp) -> None:  # type: ignore[no-untyped-def]
    texts = [
        "Russian President Vladimir Putin met Japanese Prime Minister Shinzo Abe in Moscow. "
        "Putin said the talks with Abe were useful.",
        "",
    ]
    first, empty = extract_entities(texts)
    got = {(e.text, e.type) for e in first}
    assert ("Vladimir Putin", "PERSON") in got
    assert ("Shinzo Abe", "PERSON") in got
    assert ("Moscow", "LOC") in got
    assert next(e for e in first if e.text == "Vladimir Putin").count == 2
    assert empty == []


def test_sports_results_table(nlp) -> None:  # type: ignore[no-untyped-def]
    text = (
        "SOCCER - ENGLISH PREMIER LEAGUE RESULTS.\nLONDON 1996-08-24\n"
        "Results of English Premier League matches on Saturday:\n"
        "Arsenal 2 Leeds 0\nChelsea 1 Everton 1\nManchester United 3 Southampton 2"
    )
    (ents,) = extract_entities([text])
    orgs = {e.text for e in ents if e.type == "ORG"}
    assert {"Arsenal", "Leeds", "Chelsea", "Everton"} <= orgs


def test_merge_org_prefix_acronym_and_mistyped_person() -> None:
    ms = [
        Mention("Toyota Motor Corp", "ORG"),
        Mention("Toyota", "ORG"),
        Mention("European Union", "ORG"),
        Mention("EU", "ORG"),
        Mention("Uhuru Kenyatta", "ORG"),
        Mention("Kenyatta", "PERSON"),
        Mention("Finn", "PERSON"),
    ]
    ents = {e.text: e for e in merge_mentions(ms)}
    assert ents["Toyota Motor Corp"].count == 2
    assert ents["European Union"].count == 2
    assert (ents["Uhuru Kenyatta"].type, ents["Uhuru Kenyatta"].count) == ("PERSON", 2)
    assert ents["Finn"].type == "MISC"


def test_dateline_city_becomes_a_loc_entity() -> None:
    from streams.enrich import with_dateline_entity
    from streams.records import Entity

    ents = [Entity(text="Japan", type="LOC", count=1)]
    out = with_dateline_entity(ents, "MOSCOW")
    assert out[0] == Entity(text="Moscow", type="LOC", count=1)
    again = with_dateline_entity([Entity(text="Moscow", type="LOC", count=2)], "MOSCOW")
    assert again == [Entity(text="Moscow", type="LOC", count=3)]
    assert with_dateline_entity(ents, "PORTLAND, Ore.")[0].text == "Portland"


def test_title_stripped_and_full_person_name_keeps_person_type() -> None:
    ms = [
        Mention("U.S. Trade Representative Clayton Yeutter", "ORG"),
        Mention("Yeutter", "PERSON"),
        Mention("Carl Icahn", "PERSON"),
        Mention("Icahn", "ORG"),
        Mention("Icahn", "ORG"),
        Mention("GATT Council", "ORG"),
        Mention("GATT", "ORG"),
    ]
    ents = {e.text: e for e in merge_mentions(ms)}
    assert (ents["Clayton Yeutter"].type, ents["Clayton Yeutter"].count) == ("PERSON", 2)
    assert (ents["Carl Icahn"].type, ents["Carl Icahn"].count) == ("PERSON", 3)
    assert ents["GATT"].count == 1 and ents["GATT Council"].count == 1
