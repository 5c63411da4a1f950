"""``newsflow eval segment``: score :func:`streams.segment.segment` against L3S-GN1 human labels.

For every page, both forms are segmented: the raw HTML (``html``) and the plain-text page dump
(``text``). Scores, per form:

* body precision / recall / F1 over bag-of-words tokens (``\\w+``, casefolded) against the
  ``fulltext`` blocks.  Headline numbers ("AEB") follow the article-extraction-benchmark
  convention: precision and recall are computed per page, averaged over pages (macro mean), and
  F1 is the harmonic mean of the two averages.  The per-page F1 median and a token-micro F1 are
  shown as well.
* headline: exact match after normalization (casefold, whitespace collapsed, punctuation stripped
  at both ends) against any ``headline`` block (or all of them joined), and fuzzy (token-set ratio
  >= 0.8, difflib); pages without a headline block are left out.
* comments F1: our comment texts joined vs the ``comments`` blocks, micro over tokens on all pages.
* supplemental F1: caption texts + credits + dateline text + byline names vs ``supplemental``
  blocks, micro over tokens.
* speed: pages per second of ``segment()`` alone (one core, this process).

A baseline row runs ``trafilatura.bare_extraction`` on the HTML (text, title, comments).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from streams.records import RawStory, Segmented
from streams.segment import segment

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared/data/l3s-gn1-dev.jsonl.gz"
_TOKEN = re.compile(r"\w+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))


def prf(pred: Counter[str], gold: Counter[str]) -> tuple[float, float, float, int, int, int]:
    """(precision, recall, f1, tp, n_pred, n_gold) of two token bags."""
    tp = sum((pred & gold).values())
    npred = sum(pred.values())
    ngold = sum(gold.values())
    p = tp / npred if npred else (1.0 if not ngold else 0.0)
    r = tp / ngold if ngold else (1.0 if not npred else 0.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, tp, npred, ngold


def norm_headline(s: str) -> str:
    return _EDGE_PUNCT.sub("", " ".join(s.casefold().split()))


def token_set_ratio(a: str, b: str) -> float:
    ta, tb = set(_TOKEN.findall(a.casefold())), set(_TOKEN.findall(b.casefold()))
    if not ta or not tb:
        return 0.0
    sect = " ".join(sorted(ta & tb))
    ab = " ".join(sorted(ta - tb))
    ba = " ".join(sorted(tb - ta))
    t1 = (sect + " " + ab).strip()
    t2 = (sect + " " + ba).strip()
    return max(
        SequenceMatcher(None, sect, t1).ratio() if sect else 0.0,
        SequenceMatcher(None, sect, t2).ratio() if sect else 0.0,
        SequenceMatcher(None, t1, t2).ratio(),
    )


@dataclass(slots=True)
class Pred:
    body: str
    headline: str | None
    comments: str
    supplemental: str


@dataclass(slots=True)
class PageScore:
    id: str
    url: str
    p: float
    r: float
    f: float
    tp: int
    npred: int
    ngold: int
    head_exact: bool | None
    head_fuzzy: bool | None
    pred_headline: str | None
    gold_headline: str | None
    reason: str = ""


@dataclass(slots=True)
class Row:
    name: str
    pages: list[PageScore] = field(default_factory=list)
    seconds: float = 0.0
    com: list[int] = field(default_factory=lambda: [0, 0, 0])  # tp, npred, ngold
    sup: list[int] = field(default_factory=lambda: [0, 0, 0])

    def summary(self) -> dict[str, Any]:
        n = len(self.pages)
        if not n:
            return {"name": self.name, "pages": 0}
        mp = statistics.fmean(s.p for s in self.pages)
        mr = statistics.fmean(s.r for s in self.pages)
        tp = sum(s.tp for s in self.pages)
        npred = sum(s.npred for s in self.pages)
        ngold = sum(s.ngold for s in self.pages)
        micro_p = tp / npred if npred else 0.0
        micro_r = tp / ngold if ngold else 0.0
        heads = [s for s in self.pages if s.head_exact is not None]

        def f1(p: float, r: float) -> float:
            return 2 * p * r / (p + r) if p + r else 0.0

        def f1c(c: list[int]) -> float:
            p = c[0] / c[1] if c[1] else 0.0
            r = c[0] / c[2] if c[2] else 0.0
            return f1(p, r)

        return {
            "name": self.name,
            "pages": n,
            "body_p": mp,
            "body_r": mr,
            "body_f1": f1(mp, mr),
            "body_f1_median": statistics.median(s.f for s in self.pages),
            "body_f1_micro": f1(micro_p, micro_r),
            "headline_exact": sum(1 for s in heads if s.head_exact) / len(heads) if heads else 0.0,
            "headline_fuzzy": sum(1 for s in heads if s.head_fuzzy) / len(heads) if heads else 0.0,
            "comments_f1": f1c(self.com),
            "supplemental_f1": f1c(self.sup),
            "pages_per_s": n / self.seconds if self.seconds else 0.0,
        }


def _pred_from_segmented(s: Segmented) -> Pred:
    sup: list[str] = []
    for c in s.captions:
        sup.append(c.text)
        if c.credit:
            sup.append(c.credit)
    if s.dateline is not None:
        sup.append(s.dateline.text)
    sup.extend(s.byline.authors)
    sup.extend(s.byline.editors)
    return Pred(
        body="\n".join(s.body),
        headline=s.headline,
        comments="\n".join(c.text for c in s.comments),
        supplemental="\n".join(sup),
    )


def _reason(sc: PageScore) -> str:
    if sc.npred == 0:
        return "no body extracted"
    if sc.r < 0.5:
        return (
            f"missed most of the article (recall {sc.r:.2f}); wrong block chosen or article split"
        )
    if sc.p < sc.r:
        return f"boilerplate in body: {sc.npred - sc.tp} extra tokens (precision {sc.p:.2f})"
    return f"article parts missed: {sc.ngold - sc.tp} tokens (recall {sc.r:.2f})"


def _score(row: Row, page: dict[str, Any], pred: Pred) -> None:
    blocks = page.get("blocks") or []
    gold_body = " ".join(b["text"] for b in blocks if b["label"] == "fulltext")
    gold_heads = [b["text"] for b in blocks if b["label"] == "headline"]
    gold_com = " ".join(b["text"] for b in blocks if b["label"] == "comments")
    gold_sup = " ".join(b["text"] for b in blocks if b["label"] == "supplemental")
    p, r, f, tp, npred, ngold = prf(tokens(pred.body), tokens(gold_body))
    exact: bool | None = None
    fuzzy: bool | None = None
    if gold_heads:
        cands = [*gold_heads, " ".join(gold_heads)]
        ph = norm_headline(pred.headline or "")
        exact = bool(ph) and any(ph == norm_headline(g) for g in cands)
        fuzzy = bool(ph) and any(token_set_ratio(pred.headline or "", g) >= 0.8 for g in cands)
    sc = PageScore(
        id=str(page.get("id")),
        url=str(page.get("url")),
        p=p,
        r=r,
        f=f,
        tp=tp,
        npred=npred,
        ngold=ngold,
        head_exact=exact,
        head_fuzzy=fuzzy,
        pred_headline=pred.headline,
        gold_headline=gold_heads[0] if gold_heads else None,
    )
    sc.reason = _reason(sc)
    row.pages.append(sc)
    for acc, ours, gold in (
        (row.com, pred.comments, gold_com),
        (row.sup, pred.supplemental, gold_sup),
    ):
        _, _, _, t, n1, n2 = prf(tokens(ours), tokens(gold))
        acc[0] += t
        acc[1] += n1
        acc[2] += n2


def _trafilatura(html: str) -> Pred:
    import trafilatura

    doc = trafilatura.bare_extraction(html, include_comments=True, with_metadata=True)
    if doc is None:
        return Pred("", None, "", "")
    return Pred(
        body=getattr(doc, "text", None) or "",
        headline=getattr(doc, "title", None),
        comments=getattr(doc, "comments", None) or "",
        supplemental="",
    )


def load(path: Path, limit: int | None) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def _fmt_table(rows: list[dict[str, Any]]) -> str:
    cols = [
        ("name", "system", "{:<22}"),
        ("pages", "pages", "{:>5}"),
        ("body_p", "P", "{:>6.3f}"),
        ("body_r", "R", "{:>6.3f}"),
        ("body_f1", "F1", "{:>6.3f}"),
        ("body_f1_median", "F1med", "{:>6.3f}"),
        ("body_f1_micro", "F1mic", "{:>6.3f}"),
        ("headline_exact", "head=", "{:>6.3f}"),
        ("headline_fuzzy", "head~", "{:>6.3f}"),
        ("comments_f1", "comF1", "{:>6.3f}"),
        ("supplemental_f1", "supF1", "{:>6.3f}"),
        ("pages_per_s", "pg/s", "{:>7.1f}"),
    ]
    head = " ".join(
        (
            "{:<22}" if k == "name" else "{:>" + str(len(f.format(0 if k != "name" else ""))) + "}"
        ).format(t)
        for k, t, f in cols
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if not r.get("pages"):
            continue
        lines.append(" ".join(f.format(r[k]) for k, _, f in cols))
    return "\n".join(lines)


def run(
    data: Path, limit: int | None, form: str, worst: int, baseline: bool = True
) -> dict[str, Any]:
    forms = ["html", "text"] if form == "both" else [form]
    rows: dict[str, Row] = {f: Row(f"segment/{f}") for f in forms}
    base = Row("trafilatura/html") if baseline and "html" in forms else None
    pages = list(load(data, limit))
    t_start = time.perf_counter()
    for i, page in enumerate(pages):
        for f in forms:
            raw = RawStory(
                story_id=str(page.get("id")),
                body=page.get("html" if f == "html" else "text") or "",
            )
            t0 = time.perf_counter()
            seg = segment(raw)
            rows[f].seconds += time.perf_counter() - t0
            _score(rows[f], page, _pred_from_segmented(seg))
        if base is not None:
            t0 = time.perf_counter()
            pred = _trafilatura(page.get("html") or "")
            base.seconds += time.perf_counter() - t0
            _score(base, page, pred)
        if (i + 1) % 50 == 0 or i + 1 == len(pages):
            print(
                f"[segment-eval] {i + 1}/{len(pages)} pages, {time.perf_counter() - t_start:.1f}s",
                file=sys.stderr,
            )
    all_rows = list(rows.values()) + ([base] if base is not None else [])
    result: dict[str, Any] = {
        "data": str(data),
        "convention": "body: per-page P/R averaged over pages, F1 of the averages (AEB); also median per-page F1 and token-micro F1",
        "rows": [r.summary() for r in all_rows],
        "worst": {},
    }
    for f, row in rows.items():
        ws = sorted(row.pages, key=lambda s: s.f)[:worst]
        result["worst"][f] = [
            {
                "id": s.id,
                "url": s.url,
                "f1": round(s.f, 3),
                "p": round(s.p, 3),
                "r": round(s.r, 3),
                "reason": s.reason,
            }
            for s in ws
        ]
        result.setdefault("pages", {})[f] = [
            {
                "id": s.id,
                "f1": s.f,
                "p": s.p,
                "r": s.r,
                "head_exact": s.head_exact,
                "pred_headline": s.pred_headline,
                "gold_headline": s.gold_headline,
            }
            for s in row.pages
        ]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="newsflow eval segment", description=__doc__.split("\n")[0] if __doc__ else None
    )
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="L3S-GN1 JSONL.gz (default: %(default)s)"
    )
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages")
    ap.add_argument("--form", choices=("html", "text", "both"), default="both")
    ap.add_argument("--worst", type=int, default=10, help="list the K worst pages per form")
    ap.add_argument(
        "--json", dest="json_out", type=Path, default=None, help="write full results as JSON"
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the trafilatura baseline row")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"data not found: {args.data}", file=sys.stderr)
        return 2
    res = run(args.data, args.limit, args.form, args.worst, baseline=not args.no_baseline)
    print(_fmt_table(res["rows"]))
    print(f"\n{res['convention']}")
    for f, ws in res["worst"].items():
        print(f"\nworst {len(ws)} pages ({f}):")
        for w in ws:
            print(
                f"  F1 {w['f1']:.3f} P {w['p']:.3f} R {w['r']:.3f}  {w['id']}  {w['url'][:80]}\n      {w['reason']}"
            )
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
