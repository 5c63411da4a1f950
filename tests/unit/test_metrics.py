"""Enrichment coverage metrics: which fields a story got, counted per field and flag."""

from __future__ import annotations

from prometheus_client import REGISTRY

from streams import metrics
from streams.enrich import enrich_batch
from streams.pipeline import segment_message
from streams.records import Segmented

WIRE = (
    b'{"id": "cov-1", "body": "TOKYO, March 3 (Reuters) - Japan\'s Toyota Motor Corp said on '
    b"Tuesday it would build a new plant in Ohio, its president Akio Toyoda told reporters. "
    b'\\"We are committed to the United States,\\" Toyoda said.\\n\\nThe plant will employ '
    b'2,000 people and open in 2027, the company said in a statement."}'
)


def seg(value: bytes) -> Segmented:
    result = segment_message(value, None, max_bytes=5_000_000)
    assert isinstance(result, Segmented)
    return result


def sample(name: str, labels: dict[str, str]) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_present_fields_of_a_real_story_and_of_an_empty_one() -> None:
    full, empty = enrich_batch([seg(WIRE), seg(b'{"id": "cov-2", "body": "..."}')])
    got = metrics.present_fields(full)
    assert {"language", "entities", "places", "countries"} <= set(got)
    assert "JP" in full.countries or "US" in full.countries
    assert metrics.present_fields(empty) == []
    assert set(got) <= set(metrics.COVERAGE_FIELDS)


def test_observe_enriched_counts_fields_and_flags() -> None:
    (item,) = enrich_batch([seg(b'{"id": "cov-3", "body": "..."}')])
    assert item.flags, "an empty story is flagged"
    before = {f: sample("newsflow_enrich_flags_total", {"flag": f}) for f in item.flags}
    entities = sample("newsflow_enrich_field_present_total", {"field": "entities"})
    metrics.observe_enriched(item)
    for flag in item.flags:
        assert sample("newsflow_enrich_flags_total", {"flag": flag}) == before[flag] + 1
    assert sample("newsflow_enrich_field_present_total", {"field": "entities"}) == entities
    # Every known field and flag is exported from the start (rate() sees the first one).
    for field in metrics.COVERAGE_FIELDS:
        assert (
            REGISTRY.get_sample_value("newsflow_enrich_field_present_total", {"field": field})
            is not None
        )
