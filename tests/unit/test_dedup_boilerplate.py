"""Dedup: boilerplate shingles (a site's header and footer) cannot carry a match alone."""

from __future__ import annotations

import numpy as np

from streams.dedup import DedupParams, DedupState, decide
from streams.dedup.boilerplate import ShingleCounts, boilerplate_veto, new_shingles, shingle_array
from streams.records import Enriched, Segmented, Source

NOW = 1_700_000_000.0
HEADER = ["Home | World | Business | Markets | Sport | Opinion"]
FOOTER = ["Share this article: Facebook Twitter Email",
          "Copyright 2024 Daily Planet Media Group. All rights reserved. This material may not "
          "be published, broadcast, rewritten or redistributed.",
          "Sign up for our free morning newsletter and never miss a story."]


def story(sid: str, body: list[str], headline: str, hour: int = 4) -> Enriched:
    seg = Segmented(story_id=sid, source=Source(url=None), content_kind="wire",
                    headline=headline, body=body, lead=body[0] if body else None)
    return Enriched(segmented=seg, language="en", published_at=f"1987-03-11T{hour:02d}:00:00Z")


def wrapped(body: list[str]) -> list[str]:
    return [*HEADER, *body, *FOOTER]


def site_stories(state: DedupState, n: int) -> None:
    """``n`` unrelated stories in one site's page: its header and footer become common."""
    for i in range(n):
        text = (f"Story {i} tells of harbour works number {i * 7 + 3} in district {i * 11 + 5}, "
                f"with cranes {i * 13 + 1} and tugs {i * 17 + 2} on the quay {i * 19 + 4}.")
        assert decide(story(f"site{i}", wrapped([text]), f"HARBOUR {i}"), state,
                      NOW).status == "original"


def test_short_notices_in_one_sites_page_stay_apart() -> None:
    a = ["Qtly div 20 cts vs 20 cts prior", "Pay May 11", "Record April Three Reuter"]
    b = ["Qtrly div five vs five cts", "Pay March 30", "Record March 16 Reuter"]
    for params, expected in ((DedupParams(boilerplate_count=0), "near_duplicate"),
                             (DedupParams(), "original")):
        state = DedupState.in_memory(params=params)
        site_stories(state, 10)
        decide(story("a", wrapped(a), "Air Products And Chemicals In Payout"), state, NOW)
        other = decide(story("b", wrapped(b), "Fairchild Industries Sets Regular Payout"),
                       state, NOW)
        assert other.status == expected
        copy = decide(story("a2", [*a, *FOOTER], "AIR PRODUCTS AND CHEMICALS IN PAYOUT"),
                      state, NOW)
        assert (copy.status, copy.canonical_id) == ("near_duplicate", "a")


def test_the_counts_survive_a_restart() -> None:
    state = DedupState.in_memory()
    site_stories(state, 10)
    a = ["Qtly div 20 cts vs 20 cts prior", "Pay May 11", "Record April Three Reuter"]
    decide(story("a", wrapped(a), "Air Products And Chemicals In Payout"), state, NOW)
    state.invalidate()
    b = ["Qtrly div five vs five cts", "Pay March 30", "Record March 16 Reuter"]
    other = decide(story("b", wrapped(b), "Fairchild Industries Sets Regular Payout"), state, NOW)
    assert other.status == "original"


def u32(*values: int) -> bytes:
    return np.array(values, dtype="<u4").tobytes()


def test_copies_count_only_the_shingles_they_bring_in() -> None:
    assert sorted(shingle_array(new_shingles({1, 2, 3, 4, 5}, {1, 2, 3, 9})).tolist()) == [4, 5]


def test_counts_age_out_in_two_generations() -> None:
    counts = ShingleCounts(span_seconds=10.0, bits=8, batch=2)
    shingles = np.array([7, 9], dtype=np.uint32)
    counts.add(u32(7, 9), 0.0)
    counts.add(u32(7, 9), 5.0)
    counts.add(u32(9), 6.0)  # waits in the batch until the look-up
    assert counts.of(shingles).tolist() == [2, 3]
    counts.add(u32(9), 12.0)  # a new generation; the old one still counts
    assert counts.of(shingles).tolist() == [2, 4]
    counts.add(b"", 25.0)  # two spans on: only the last generation
    assert counts.of(shingles).tolist() == [0, 1]


def test_veto_only_when_the_shared_part_is_boilerplate() -> None:
    own_a, own_b, boiler = set(range(20)), set(range(100, 120)), set(range(200, 240))
    assert boilerplate_veto(own_a | boiler, own_b | boiler, boiler, 10, 0.4)
    assert not boilerplate_veto(own_a | boiler, own_a | boiler, boiler, 10, 0.4)
    # Too little left without the boilerplate to judge: the pair stands.
    assert not boilerplate_veto(set(range(5)) | boiler, own_b | boiler, boiler, 10, 0.4)
    assert not boilerplate_veto(own_a, own_b, boiler, 10, 0.4)
