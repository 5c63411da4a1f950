"""Quotes and speakers."""

from __future__ import annotations

from streams.enrich.quotes import extract_quotes
from streams.records import Entity


def P(name: str) -> Entity:
    return Entity(text=name, type="PERSON", count=1)


def test_name_then_verb_links_to_full_name() -> None:
    paras = [
        "Foreign Minister Sergei Lavrov said on Tuesday the visit was agreed.",
        '"The president has accepted the invitation," Lavrov told a news conference.',
    ]
    (q,) = extract_quotes(paras, [P("Sergei Lavrov")])
    assert q.text == "The president has accepted the invitation"
    assert q.speaker == "Sergei Lavrov"


def test_verb_then_title_and_name() -> None:
    paras = ['"Farmers are holding back beans," said Cecafe president Nelson Carvalhaes.']
    (q,) = extract_quotes(paras, [P("Nelson Carvalhaes")])
    assert q.speaker == "Nelson Carvalhaes"


def test_title_name_then_verb_without_ner_help() -> None:
    paras = ['"Our teams are searching the rubble," Interior Minister Idris Naim Sahin said.']
    (q,) = extract_quotes(paras, [])
    assert q.speaker == "Idris Naim Sahin"


def test_before_the_quote() -> None:
    paras = ['Merkel told reporters: "Greece belongs in the euro zone."']
    (q,) = extract_quotes(paras, [P("Angela Merkel")])
    assert q.speaker == "Angela Merkel"


def test_pronoun_and_description_resolve_to_last_person() -> None:
    paras = [
        "Kimi Raikkonen said his team had chosen the wrong tyres.",
        '"We lost the race at the second pit stop," the Finn told reporters.',
        'Hollande said the two leaders were united. "France and Germany agree on this," he said.',
    ]
    q1, q2 = extract_quotes(paras, [P("Kimi Raikkonen"), P("Francois Hollande")])
    assert q1.speaker == "Kimi Raikkonen"
    assert q2.speaker == "Francois Hollande"


def test_unattributed_quote_continues_paragraph_speaker() -> None:
    paras = ['"We will win this," Odinga said. "And we will not accept fraud at all."']
    q1, q2 = extract_quotes(paras, [P("Raila Odinga")])
    assert q1.speaker == q2.speaker == "Raila Odinga"


def test_short_scare_quotes_are_ignored_and_no_speaker_is_none() -> None:
    paras = ['The so-called "Cruzado" plan failed.', 'A sign read "no entry for anyone here".']
    quotes = extract_quotes(paras, [])
    assert [(q.text, q.speaker) for q in quotes] == [("no entry for anyone here", None)]
