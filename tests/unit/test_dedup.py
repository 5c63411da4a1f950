"""Unit tests of the dedup stage (pure function over str -> bytes mappings)."""

from __future__ import annotations

import msgspec

from streams.dedup import DedupState, decide
from streams.records import Enriched, Segmented, Source

BODY = [
    "The yen's rise against the dollar is expected to boost Japan's unemployment rate to an "
    "average 3.3 pct in the 1987/88 fiscal year beginning April 1 from January's record three "
    "pct, the private Nomura Research Institute said.",
    "The official 1987/88 estimate is 2.9 pct. The research arm of Nomura Securities said "
    "the number of unemployed would rise to 1.95 mln from 1.67 mln a year earlier.",
    "Manufacturing industries are expected to shed 400,000 jobs as exporters move production "
    "overseas, the institute said in its quarterly forecast released on Wednesday.",
]
HEADLINE = "JAPAN'S JOBLESS SEEN RISING TO 3.3 PCT IN 1987/88"
T0 = "1987-03-11T04:34:00Z"
NOW = 1_700_000_000.0  # wall clock at decision time (event times are clamped to now + 1 day)


def story(sid: str, body: list[str], headline: str = HEADLINE, url: str | None = None,
          published: str = T0) -> Enriched:
    seg = Segmented(story_id=sid, source=Source(url=url), content_kind="wire",
                    headline=headline, body=body, lead=body[0] if body else None)
    return Enriched(segmented=seg, language="en", published_at=published)


def test_original_then_exact_duplicate() -> None:
    state = DedupState.in_memory()
    first = decide(story("a", BODY), state, now=NOW)
    assert (first.status, first.canonical_id) == ("original", "a")
    dup = decide(story("b", [" ".join(BODY)]), state, now=NOW)  # re-wrapped: same words
    assert (dup.status, dup.canonical_id, dup.similarity) == ("duplicate", "a", 1.0)


def test_near_duplicate_with_boilerplate_and_headline_edit() -> None:
    state = DedupState.in_memory()
    decide(story("a", BODY), state, now=NOW)
    copy = ["Home | World | Business", *BODY[:2],
            BODY[2].replace("quarterly", "latest"),
            "Copyright 2024 Daily Planet. All rights reserved."]
    verdict = decide(story("b", copy, headline="UPDATE 1-Japan jobless seen rising"), state, NOW)
    assert verdict.status == "near_duplicate"
    assert verdict.canonical_id == "a"
    assert 0.6 < verdict.similarity < 1.0


def test_truncated_copy_is_near_duplicate() -> None:
    state = DedupState.in_memory()
    decide(story("a", BODY), state, now=NOW)
    verdict = decide(story("b", [*BODY[:1], "Read more at Metro Courier."]), state, NOW)
    assert (verdict.status, verdict.canonical_id) == ("near_duplicate", "a")


def test_update_same_story_id() -> None:
    state = DedupState.in_memory()
    decide(story("a", BODY), state, now=NOW)
    new = [*BODY[:2], BODY[2].replace("400,000", "450,000"), "Officials declined to comment."]
    verdict = decide(story("a", new, published="1987-03-11T09:00:00Z"), state, NOW + 1)
    assert (verdict.status, verdict.canonical_id) == ("update", "a")
    assert verdict.similarity > 0.5


def test_update_same_canonical_url() -> None:
    state = DedupState.in_memory()
    decide(story("a", BODY, url="http://news.example/story?utm_source=x"), state, NOW)
    verdict = decide(story("b", [*BODY, "More to follow."], url="https://news.example/story"),
                     state, NOW)
    assert (verdict.status, verdict.canonical_id) == ("update", "a")


def test_replay_returns_the_stored_verdict() -> None:
    state = DedupState.in_memory()
    decide(story("a", BODY), state, NOW)
    near = decide(story("b", [*BODY, "Share this article."]), state, NOW)
    assert near.status == "near_duplicate"
    assert decide(story("b", [*BODY, "Share this article."]), state, NOW + 5) == near
    assert decide(story("a", BODY), state, NOW + 5).status == "original"
    # After an update, a replay of the first version still gets its first verdict.
    decide(story("a", [*BODY, "Update: more details."]), state, NOW + 6)
    assert decide(story("a", BODY), state, NOW + 7).status == "original"


def test_templated_earnings_reports_stay_distinct() -> None:
    state = DedupState.in_memory()
    a = ["Shr 34 cts vs 1.19 dlrs", "Net 807,000 vs 2,858,000",
         "Assets 510.2 mln vs 479.7 mln", "Deposits 472.3 mln vs 440.3 mln",
         "Loans 299.2 mln vs 327.2 mln Reuter"]
    b = ["Shr 41 cts vs 1.02 dlrs", "Net 912,000 vs 2,411,000",
         "Assets 610.9 mln vs 579.1 mln", "Deposits 502.8 mln vs 470.6 mln",
         "Loans 311.4 mln vs 301.9 mln Reuter"]
    assert decide(story("a", a, "COBANCO INC <CBCO> YEAR NET"), state, NOW).status == "original"
    assert decide(story("b", b, "FIRSTBANK <FBK> YEAR NET"), state, NOW).status == "original"


def test_templated_dividend_notices_with_other_tickers_stay_distinct() -> None:
    state = DedupState.in_memory()
    body = ["Qtly div 10 cts vs 10 cts prior", "Pay April 1", "Record March 15 Reuter"]
    assert decide(story("a", body, "QUAKER OATS CO <OAT> REGULAR DIVIDEND"), state,
                  NOW).status == "original"
    assert decide(story("b", body, "UNIBANCORP INC <UBCP> REGULAR DIVIDEND SET"), state,
                  NOW).status == "original"
    other = ["Qtly div 12 cts vs 10 cts prior", "Pay April 15", "Record March 31 Reuter"]
    assert decide(story("c", other, "QUAKER OATS CO <OAT> RAISES DIVIDEND"), state,
                  NOW).status == "original"


def test_eviction_by_event_time_window() -> None:
    state = DedupState.in_memory(window_hours=72.0)
    decide(story("a", BODY), state, NOW)
    other = ["A different story about grain exports from Argentina rising sharply.",
             "Shipments reached 1.2 mln tonnes in February, the grain board said."]
    decide(story("z", other, "ARGENTINE GRAIN", published="1987-03-14T05:00:00Z"), state, NOW)
    assert len(state) == 1 and "a" not in state.stories
    assert not any(v == b"a" for v in state.fingerprints.values())
    # The copy arrives after the original left the window: nothing to match any more.
    late = decide(story("b", BODY, published="1987-03-14T06:00:00Z"), state, NOW)
    assert late.status == "original"


def test_eviction_by_size_cap_drops_the_oldest() -> None:
    state = DedupState.in_memory(max_entries=3)
    for i in range(5):
        body = [f"Story number {i} about subject {i * 7} with its own words {i * 13} here.",
                f"Second paragraph {i} mentions Alpha{i} and {i * 1000 + 17} units."]
        decide(story(f"s{i}", body, f"HEADLINE {i}", published=f"1987-03-11T0{i}:00:00Z"),
               state, NOW)
    assert len(state) == 3
    assert sorted(state.stories) == ["s2", "s3", "s4"]
    assert len(state.fingerprints) == 3


def test_state_round_trips_through_bytes_mappings() -> None:
    stories: dict[str, bytes] = {}
    fingerprints: dict[str, bytes] = {}
    urls: dict[str, bytes] = {}
    state = DedupState(stories=stories, fingerprints=fingerprints, urls=urls)
    decide(story("a", BODY, url="https://news.example/a"), state, NOW)
    near = decide(story("b", [*BODY[:2], "Share this article."]), state, NOW)
    assert all(isinstance(v, bytes) for m in (stories, fingerprints, urls) for v in m.values())
    # A restart: a new state over the same (changelog-restored) mappings.
    restarted = DedupState(stories=stories, fingerprints=fingerprints, urls=urls)
    assert decide(story("b", [*BODY[:2], "Share this article."]), restarted, NOW + 1) == near
    again = decide(story("c", ["Advertisement", *BODY]), restarted, NOW + 1)
    assert (again.status, again.canonical_id) == ("near_duplicate", "a")
    assert decide(story("d", BODY), restarted, NOW + 1).status == "duplicate"
    upd = decide(story("e", [*BODY, "New paragraph."], url="https://news.example/a"),
                 restarted, NOW + 1)
    assert (upd.status, upd.canonical_id) == ("update", "a")
    assert len(restarted) == 5


def test_legacy_json_records_are_read() -> None:
    stories = {"old": msgspec.json.encode({"fingerprint": "f", "status": "original",
                                           "canonical_id": "old", "similarity": 0.0,
                                           "seen_at": 1.0})}
    state = DedupState(stories=stories, fingerprints={"f": b"old"}, urls={})
    seen = state.seen("old")
    assert seen is not None and seen.status == "original"
    assert decide(story("new", BODY), state, NOW + 2).status == "original"


def test_late_story_behind_the_window_still_catches_its_own_copy() -> None:
    state = DedupState.in_memory()
    decide(story("fresh", ["A different story entirely about shipping rates in Asia today."],
                 headline="SHIPPING", published="2023-11-14T22:00:00Z"), state, now=NOW)
    old = decide(story("late-a", BODY), state, now=NOW)  # 1987: far behind the watermark
    copy = decide(story("late-b", BODY), state, now=NOW)
    assert old.status == "original"
    assert (copy.status, copy.canonical_id) == ("duplicate", "late-a")
