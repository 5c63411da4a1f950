"""Dedup: the number/name check of the verification, event clusters, stored-record formats."""

from __future__ import annotations

import msgspec

from streams.dedup import DedupState, SeenStory, _SeenV1, decide
from streams.dedup.features import FeatureParams, extract, key_slots, slot_agreement
from streams.records import Enriched, Segmented, Source

NOW = 1_700_000_000.0
T0 = "1987-03-11T04:34:00Z"


def story(sid: str, body: list[str], headline: str, published: str = T0) -> Enriched:
    seg = Segmented(story_id=sid, source=Source(url=None), content_kind="wire",
                    headline=headline, body=body, lead=body[0] if body else None)
    return Enriched(segmented=seg, language="en", published_at=published)


def notice(fund: str, div: str) -> list[str]:
    return [f"Mthly div {div} cts vs {div} cts prior", "Pay March 31", "Record March 16",
            f"NOTE: full name is Franklin {fund} Tax-Free Income Fund and Trust. Reuter"]


def test_templated_notices_with_other_fund_and_amount_stay_apart() -> None:
    state = DedupState.in_memory()
    decide(story("a", notice("Puerto Rico", "7.1"), "FRANKLIN PUERTO RICO TAX-FREE SETS PAYOUT"),
           state, NOW)
    other = decide(story("b", notice("High-Yield Insured", "6.5"),
                         "FRANKLIN HIGH-YIELD TAX-FREE SETS PAYOUT"), state, NOW)
    assert other.status == "original"


def test_transposition_typo_in_a_number_is_not_a_contradiction() -> None:
    fp = FeatureParams()
    a = extract("Net 481,832 vs 824,554\nRevs 1,465,153 vs 1,280,618", fp)
    b = extract("Net 418,832 vs 824,554\nRevs 1,465,153 vs 1,280,618", fp)
    c = extract("Net 52,922 vs 220,041\nRevs 934,685 vs 1,460,000", fp)
    assert slot_agreement(a.slots, b.slots)[1] == 0
    agree, contra = slot_agreement(a.slots, c.slots)
    assert contra >= 2 and agree <= 1


def test_key_slots_of_the_stored_text_equal_the_fresh_ones() -> None:
    f = extract("Shares of Quaker Oats rose 10 pct in March, said analyst Smith.",
                FeatureParams())
    assert key_slots(f.text.split(" "), f.keys) == f.slots


def test_event_cluster_joins_other_articles_about_the_same_event() -> None:
    state = DedupState.in_memory()
    first = decide(story("a", [
        "Talks between Chrysler and Renault over American Motors resumed in Detroit on "
        "Monday, said Lee Iacocca, who met Raymond Levy there."], "CHRYSLER TALKS RESUME"),
        state, NOW)
    assert first.cluster_id is None
    other = decide(story("b", [
        "Lee Iacocca told reporters in Detroit that Chrysler wants a deal with Renault for "
        "American Motors soon, after he and Raymond Levy spoke."], "IACOCCA WANTS DEAL",
        published="1987-03-11T09:00:00Z"), state, NOW)
    assert other.status == "original"
    assert other.cluster_id == "a"
    copy = decide(story("c", [
        "Lee Iacocca told reporters in Detroit that Chrysler wants a deal with Renault for "
        "American Motors soon, after he and Raymond Levy spoke.", "Share this article."],
        "IACOCCA WANTS DEAL", published="1987-03-11T10:00:00Z"), state, NOW)
    assert (copy.status, copy.canonical_id, copy.cluster_id) == ("near_duplicate", "b", "a")
    assert b'"cluster_id":"a"' in msgspec.json.encode(copy)
    assert b"cluster_id" not in msgspec.json.encode(first)


def test_no_event_cluster_outside_the_window_or_across_tickers() -> None:
    state = DedupState.in_memory()
    body = ("Lee Iacocca met Raymond Levy of Renault in Detroit about American Motors and "
            "Chrysler.")
    decide(story("a", [body], "TALKS <C>"), state, NOW)
    late = decide(story("b", [body.replace("met", "again saw"), "More later."], "TALKS AGAIN",
                        published="1987-03-14T04:34:00Z"), state, NOW)
    assert late.cluster_id is None
    other = decide(story("c", ["In Detroit Lee Iacocca, Raymond Levy, Renault and Chrysler "
                               "were named, unrelated."], "OTHER <XYZ>"), state, NOW)
    assert other.cluster_id is None


def test_records_of_the_previous_format_still_give_replays() -> None:
    state = DedupState.in_memory()
    item = story("a", ["Some wire story about the yen and the dollar."], "YEN")
    features = extract("YEN\nSome wire story about the yen and the dollar.", FeatureParams())
    state.stories["a"] = msgspec.msgpack.encode(_SeenV1(
        fingerprint=features.digest, status="near_duplicate", canonical_id="z",
        similarity=0.8, seen_at=1.0))
    verdict = decide(item, state, NOW)
    assert (verdict.status, verdict.canonical_id) == ("near_duplicate", "z")


def test_eviction_removes_fingerprints_and_urls() -> None:
    state = DedupState.in_memory(window_hours=1.0)
    decide(story("a", ["First story text here for the test."], "ONE"), state, NOW)
    decide(story("b", ["Second story, much later, other words entirely."], "TWO",
                  published="1987-03-12T04:34:00Z"), state, NOW)
    assert "a" not in state.stories
    assert len(state.fingerprints) == 1
    seen = msgspec.msgpack.decode(state.stories["b"], type=SeenStory)
    assert seen.text.startswith("two second story")
