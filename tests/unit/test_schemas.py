"""The JSON Schemas in schemas/ against the msgspec records, their examples and their docs."""

from __future__ import annotations

import copy
import json
import re
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from streams import records
from streams.records import (
    Byline,
    Caption,
    Comment,
    Dateline,
    Dedup,
    Entity,
    NormalizedStory,
    Pipeline,
    Place,
    Quote,
    Source,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def load(name: str) -> Any:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


STORY_SCHEMA = load("normalized_story.v1.json")
RAW_SCHEMA = load("raw_story.v1.json")
STORY = Draft202012Validator(STORY_SCHEMA)
RAW = Draft202012Validator(RAW_SCHEMA)

# Each nested record and the $defs entry that describes it.
NESTED = {
    "source": Source,
    "dateline": Dateline,
    "byline": Byline,
    "caption": Caption,
    "comment": Comment,
    "entity": Entity,
    "place": Place,
    "quote": Quote,
    "dedup": Dedup,
    "pipeline": Pipeline,
}


def full_story() -> NormalizedStory:
    """A NormalizedStory with every field, nested ones included, set to a non-default value."""
    return NormalizedStory(
        story_id="a1b2c3",
        source=Source(
            name="Reuters", url="https://example.com/a", domain="example.com", feed="rss"
        ),
        fetched_at="2014-01-21T13:20:05Z",
        published_at="2014-01-21T13:16:00.250Z",
        language="en",
        headline="Russia's Putin accepts Japan invitation",
        dateline=Dateline(
            place="MOSCOW", text="MOSCOW Tue Jan 21, 2014 8:16am EST", time="2014-01-21T13:16:00Z"
        ),
        byline=Byline(authors=["Steve Gutterman"], editors=["Timothy Heritage"], agency="Reuters"),
        lead="Putin has accepted an invitation to visit Japan.",
        body=["Putin has accepted an invitation to visit Japan.", "Lavrov said so."],
        captions=[Caption(text="Putin in Sochi.", credit="Reuters/Alexei Nikolsky")],
        comments=[Comment(author="tmc", posted_at="2014-01-21T15:03:00Z", text="Interesting.")],
        entities=[Entity(text="Vladimir Putin", type="PERSON", count=2)],
        places=[Place(name="Moscow", country_code="RU", lat=55.75, lon=37.62)],
        countries=["RU", "JP"],
        quotes=[Quote(text="I am certain that we will agree on a date", speaker="Sergei Lavrov")],
        keywords=["Putin", "Japan"],
        topics=["politics"],
        word_count=12,
        dedup=Dedup(status="update", canonical_id="x9y8z7", similarity=0.91),
        pipeline=Pipeline(version="0.1.0", processed_at="2014-01-21T13:20:06Z"),
        schema_version="1",
        reading_time_seconds=3,
        has_article=False,
        flags=["language_guessed"],
    )


def full_story_dict() -> dict[str, Any]:
    return records.to_builtins(full_story())


def errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]


@pytest.mark.parametrize(
    "schema", [STORY_SCHEMA, RAW_SCHEMA], ids=["normalized_story", "raw_story"]
)
def test_schema_is_valid_draft_2020_12(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is True


def test_examples_validate() -> None:
    assert errors(STORY, load("examples/normalized_story.example.json")) == []
    assert errors(RAW, load("examples/raw_story.example.json")) == []


def test_msgspec_record_validates() -> None:
    assert errors(STORY, full_story_dict()) == []
    # The same through the JSON bytes that go on the topic.
    assert errors(STORY, json.loads(records.encode(full_story()))) == []


def test_minimal_record_with_nulls_validates() -> None:
    story = msgspec.convert(
        {
            **{k: [] for k in ("body", "captions", "comments", "entities", "places", "countries")},
            **{k: [] for k in ("quotes", "keywords", "topics")},
            "story_id": "s1",
            "source": {},
            "fetched_at": None,
            "published_at": None,
            "language": "und",
            "headline": None,
            "dateline": None,
            "byline": {},
            "lead": None,
            "word_count": 0,
            "dedup": {"status": "original", "canonical_id": None, "similarity": 0.0},
            "pipeline": {"version": "0.1.0", "processed_at": "2024-05-01T00:00:00Z"},
        },
        NormalizedStory,
    )
    assert errors(STORY, records.to_builtins(story)) == []


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d.pop("story_id"), "story_id"),
        (lambda d: d["dedup"].update(status="merged"), "dedup.status"),
        (lambda d: d["countries"].append("ru"), "countries"),
        (lambda d: d["countries"].append("RUS"), "countries"),
        (lambda d: d["places"][0].update(country_code="Russia"), "places.country_code"),
        (lambda d: d["entities"][0].update(type="PER"), "entities.type"),
        (lambda d: d.update(published_at="2014-01-21T08:16:00-05:00"), "published_at (not UTC)"),
        (lambda d: d.update(fetched_at="Jan 21, 2014"), "fetched_at"),
        (lambda d: d.update(language="English"), "language"),
        (lambda d: d.update(word_count=-1), "word_count"),
        (lambda d: d["dedup"].update(status="duplicate", canonical_id=None), "dedup.canonical_id"),
        (lambda d: d.update(schema_version="2"), "schema_version"),
    ],
    ids=lambda p: p if isinstance(p, str) else "",
)
def test_bad_record_fails(change: Any, path: str) -> None:
    story = full_story_dict()
    change(story)
    assert errors(STORY, story), f"a bad {path} was accepted"


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    return typing.cast(dict[str, Any], schema["properties"])


@pytest.mark.parametrize(
    ("record", "schema"),
    [(NormalizedStory, STORY_SCHEMA)]
    + [(cls, STORY_SCHEMA["$defs"][name]) for name, cls in NESTED.items()],
    ids=lambda p: p.__name__ if isinstance(p, type) else "",
)
def test_schema_and_record_have_the_same_fields(
    record: type[msgspec.Struct], schema: dict[str, Any]
) -> None:
    fields = msgspec.structs.fields(record)
    assert {f.name for f in fields} == set(_properties(schema))
    # Required in the schema exactly when the struct has no default.
    assert {f.name for f in fields if f.required} == set(schema.get("required", []))


def test_every_field_is_documented() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert sub.get("description"), f"{where}.{name} has no description"
            for key, sub in node.items():
                if key not in ("if", "then", "else"):  # conditions restate fields, not define them
                    walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}[{i}]")

    walk(STORY_SCHEMA, "normalized_story")
    walk(RAW_SCHEMA, "raw_story")


def test_enums_match_the_record_literals() -> None:
    defs = STORY_SCHEMA["$defs"]
    assert defs["entity"]["properties"]["type"]["enum"] == list(typing.get_args(records.EntityType))
    assert defs["dedup"]["properties"]["status"]["enum"] == list(
        typing.get_args(records.DedupStatus)
    )
    assert STORY_SCHEMA["properties"]["schema_version"]["const"] == records.SCHEMA_VERSION


# Values of the wrong shape: the schema must reject exactly those msgspec rejects (strings are left
# out on purpose: the schema is stricter than the struct about them: timestamps, codes).
MUTANTS: list[Any] = [None, {}, [], 1, 0.5, True]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into the record: each object's keys and the first item of each list."""
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list) and node:
        out.append((*prefix, 0))
        out.extend(_paths(node[0], (*prefix, 0)))
    return out


def test_schema_types_agree_with_msgspec() -> None:
    base = full_story_dict()
    base["dedup"].update(status="original", canonical_id=None)  # canonical_id may then be null
    disagreements = []
    for path in _paths(base):
        for value in MUTANTS:
            story = copy.deepcopy(base)
            target = story
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            try:
                msgspec.convert(story, NormalizedStory)
                msgspec_ok = True
            except msgspec.ValidationError:
                msgspec_ok = False
            if msgspec_ok != STORY.is_valid(story):
                verdict = "accepts" if msgspec_ok else "rejects"
                disagreements.append(f"{'.'.join(map(str, path))} = {value!r}: msgspec {verdict}")
    assert disagreements == []


def test_readme_documents_every_field_and_shows_the_example() -> None:
    readme = (SCHEMAS / "README.md").read_text(encoding="utf-8")
    table = re.search(r"\| field \| type \| required \| meaning \|\n(.*?)\n\n", readme, re.S)
    assert table, "the normalized story field table is missing"
    rows = re.findall(r"^\| `(\w+)` \| .*? \| (yes|no) \|", table.group(1), re.M)
    required = set(STORY_SCHEMA["required"])
    assert rows == [
        (name, "yes" if name in required else "no") for name in _properties(STORY_SCHEMA)
    ]
    example = re.search(r"```json\n(.*?)```", readme, re.S)
    assert example
    assert json.loads(example.group(1)) == load("examples/normalized_story.example.json")


def test_raw_envelope() -> None:
    assert RAW.is_valid({"body": "<html>…</html>"})
    assert RAW.is_valid(
        {"body": "x", "schema_version": 1, "source": None, "language": "en-US", "extra": 1}
    )
    assert RAW.is_valid(
        {"body": "x", "published_at": "2014-01-21", "fetched_at": "2014-01-21T08:16:00-05:00"}
    )
    for bad in (
        {},
        {"body": ""},
        {"body": 42},
        {"body": "x", "id": ""},
        {"body": "x", "schema_version": "2"},
        {"body": "x", "fetched_at": "yesterday"},
        {"body": "x", "source": "reuters"},
    ):
        assert not RAW.is_valid(bad), bad
    # The envelope schema documents the RawStory fields the decoder fills from it.
    raw_fields = {f.name for f in msgspec.structs.fields(records.RawStory)} - {"story_id"}
    assert raw_fields <= set(_properties(RAW_SCHEMA))
    assert set(_properties(RAW_SCHEMA["properties"]["source"])) == {
        f.name for f in msgspec.structs.fields(Source)
    }
