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
* comments: besides the text-only F1 (``comF1``: comment texts vs the ``comments`` blocks), the
  gold blocks also hold each comment's header (author, time), so ``comF1a`` scores the texts plus
  the authors we extracted as fields, and ``comPg`` is the mean per-page F1 over the pages that
  have comments (the token-micro numbers are dominated by one page with 113k characters).
* speed: pages per second of ``segment()`` alone (one core, this process).

Held-out scores: the line classifier shipped in the package was trained on these very pages, so
its rows are marked ``in-sample``. With ``--cv K`` (default 5) every page is also segmented by a
model trained on the other folds only (folds by page id; ``training/segment/train.py`` builds the
fold models, which are cached under ``var/segment-cv/``): the ``oof`` rows are the numbers to
quote. The headline ranker of those rows is nested the same way (``headline_train``);
``--line-head`` adds held-out rows without it. ``--rules`` adds rows for the rules alone.

A baseline row runs ``trafilatura.bare_extraction`` on the HTML (text, title, comments).
"""

from __future__ import annotations

import argparse
import contextlib
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
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "var/segment-cv"
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
    comment_authors: str = ""


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
    com_f1: float | None = None  # this page's comments F1 (text + authors), if it has comments
    com_counts: tuple[int, int, int] = (0, 0, 0)  # comment-text tokens: tp, ours, gold
    sup_f1: float | None = None


@dataclass(slots=True)
class Row:
    name: str
    pages: list[PageScore] = field(default_factory=list)
    seconds: float = 0.0
    com: list[int] = field(default_factory=lambda: [0, 0, 0])  # tp, npred, ngold
    com_a: list[int] = field(default_factory=lambda: [0, 0, 0])  # texts + authors
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
        coms = [s.com_f1 for s in self.pages if s.com_f1 is not None]

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
            "comments_f1_authors": f1c(self.com_a),
            "comments_f1_pages": statistics.fmean(coms) if coms else 0.0,
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
        comment_authors="\n".join(c.author for c in s.comments if c.author),
    )


def _reason(sc: PageScore) -> str:
    if sc.npred == 0:
        why = "no body extracted"
    elif sc.r < 0.5:
        why = f"missed most of the article (recall {sc.r:.2f}); wrong block chosen or article split"
    elif sc.p < sc.r:
        why = f"boilerplate in body: {sc.npred - sc.tp} extra tokens (precision {sc.p:.2f})"
    else:
        why = f"article parts missed: {sc.ngold - sc.tp} tokens (recall {sc.r:.2f})"
    extra = []
    if sc.head_exact is False:
        extra.append(f"headline {sc.pred_headline!r:.70} vs gold {sc.gold_headline!r:.70}")
    if sc.com_f1 is not None and sc.com_f1 < 0.5:
        extra.append(f"comments F1 {sc.com_f1:.2f}")
    return why + ("; " + "; ".join(extra) if extra else "")


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
    for acc, ours, gold in (
        (row.com, pred.comments, gold_com),
        (row.com_a, pred.comments + "\n" + pred.comment_authors, gold_com),
        (row.sup, pred.supplemental, gold_sup),
    ):
        pf = prf(tokens(ours), tokens(gold))
        acc[0] += pf[3]
        acc[1] += pf[4]
        acc[2] += pf[5]
        if acc is row.com:
            sc.com_counts = (pf[3], pf[4], pf[5])
        if acc is row.com_a and gold_com.strip():
            sc.com_f1 = pf[2]
        if acc is row.sup and gold_sup.strip():
            sc.sup_f1 = pf[2]
    sc.reason = _reason(sc)
    row.pages.append(sc)


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
        ("name", "system", "{:<26}"),
        ("pages", "pages", "{:>5}"),
        ("body_p", "P", "{:>6.3f}"),
        ("body_r", "R", "{:>6.3f}"),
        ("body_f1", "F1", "{:>6.3f}"),
        ("body_f1_median", "F1med", "{:>6.3f}"),
        ("body_f1_micro", "F1mic", "{:>6.3f}"),
        ("headline_exact", "head=", "{:>6.3f}"),
        ("headline_fuzzy", "head~", "{:>6.3f}"),
        ("comments_f1", "comF1", "{:>6.3f}"),
        ("comments_f1_authors", "comF1a", "{:>6.3f}"),
        ("comments_f1_pages", "comPg", "{:>6.3f}"),
        ("supplemental_f1", "supF1", "{:>6.3f}"),
        ("pages_per_s", "pg/s", "{:>7.1f}"),
    ]
    head = " ".join(
        (
            "{:<26}" if k == "name" else "{:>" + str(len(f.format(0 if k != "name" else ""))) + "}"
        ).format(t)
        for k, t, f in cols
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if not r.get("pages"):
            continue
        lines.append(" ".join(f.format(r[k]) for k, _, f in cols))
    return "\n".join(lines)


_KEYS: dict[str, str] = {}


def _cache_key(pages: list[dict[str, Any]], k: int) -> str:
    """Fold models are a function of the training data (every page's line features, labels
    and weights, as ``training/segment/train.py`` builds them), the fold count and the training
    script (its parameters): the key hashes exactly these. A code change that leaves the data
    as it was (a faster feature computation) keeps the cached models; any change of the data
    retrains them. Building the data takes some seconds; the key is computed once per process.
    Without the training package, the code that shapes the data is hashed instead."""
    import hashlib

    root = Path(__file__).resolve().parents[2]
    ids = hashlib.sha1("\n".join(str(p.get("id")) for p in pages).encode()).hexdigest()
    memo = f"{k}:{ids}"
    if memo in _KEYS:
        return _KEYS[memo]
    h = hashlib.sha1(f"{k}:{len(pages)}:{ids}".encode())
    script = root / "training/segment/train.py"
    if script.exists():
        h.update(script.read_bytes())
    try:
        import numpy as np

        from training.segment import train
    except ImportError:
        for f in sorted((root / "streams/segment").glob("*.py")):
            h.update(f.read_bytes())
    else:
        ds = train.build_dataset(pages, verbose=False)
        for arr in (ds.x, ds.y, ds.w, ds.page, ds.form):
            h.update(np.ascontiguousarray(arr).tobytes())
    _KEYS[memo] = key = h.hexdigest()[:16]
    return key


def cv_models(pages: list[dict[str, Any]], k: int, cache: Path | None) -> dict[int, Any] | None:
    """Fold models (trained without the fold's pages), from the cache or trained now."""
    from streams.segment.model import TreeModel

    d = (cache or DEFAULT_CACHE) / _cache_key(pages, k)
    if all((d / f"fold{f}.json").exists() for f in range(k)):
        return {f: TreeModel.load(d / f"fold{f}.json") for f in range(k)}
    try:
        from training.segment import train
    except ImportError as e:  # scikit-learn or the training package not available
        print(f"[segment-eval] cannot train fold models ({e}); no held-out rows", file=sys.stderr)
        return None
    print(f"[segment-eval] training {k} fold models (cached afterwards)", file=sys.stderr)
    models, _ = train.fold_models(pages, k)
    save_cv_models(pages, k, models, cache)
    return models


def save_cv_models(
    pages: list[dict[str, Any]], k: int, models: dict[int, Any], cache: Path | None = None
) -> None:
    d = (cache or DEFAULT_CACHE) / _cache_key(pages, k)
    d.mkdir(parents=True, exist_ok=True)
    for f, m in models.items():
        (d / f"fold{f}.json").write_text(json.dumps(m.spec, separators=(",", ":")))


def cv_rankers(
    pages: list[dict[str, Any]], k: int, models: dict[int, Any], cache: Path | None
) -> dict[int, Any] | None:
    """Headline rankers for the held-out rows (fold ``f``'s ranker never saw fold ``f``:
    nested cross-validation, see ``streams.segment.headline_train``); trained when missing."""
    try:
        from streams.segment import headline_train
    except ImportError as e:  # pragma: no cover
        print(f"[segment-eval] no fold rankers ({e})", file=sys.stderr)
        return None
    if k != headline_train.K:
        print(f"[segment-eval] fold rankers need --cv {headline_train.K}", file=sys.stderr)
        return None
    try:
        return headline_train.fold_rankers(pages, models, cache)
    except ImportError as e:  # scikit-learn not available
        print(f"[segment-eval] cannot train fold rankers ({e})", file=sys.stderr)
        return None


def _fold_of(page_id: str, k: int) -> int:
    import hashlib

    return int(hashlib.sha1(page_id.encode()).hexdigest(), 16) % k


def run(
    data: Path | list[dict[str, Any]],
    limit: int | None,
    form: str,
    worst: int,
    baseline: bool = True,
    cv: int = 5,
    rules: bool = False,
    in_sample: bool = True,
    cache: Path | None = None,
    models: dict[int, Any] | None = None,
    line_head: bool = False,
) -> dict[str, Any]:
    from streams.segment.headline import use_ranker
    from streams.segment.model import use_model

    forms = ["html", "text"] if form == "both" else [form]
    pages = list(load(data, limit)) if isinstance(data, Path) else list(data)[:limit]
    if cv and cv > 1 and models is None:
        models = cv_models(pages, cv, cache)
    rankers = cv_rankers(pages, cv, models, cache) if models is not None else None
    variants: list[tuple[str, Any]] = []  # (row suffix, model selector)
    if models is not None:
        variants.append((f"oof{cv}", "cv"))
        if line_head:
            variants.append((f"oof{cv} line-head", "cv-line-head"))
    if in_sample:
        variants.append(("in-sample" if models is not None else "", "packaged"))
    if rules:
        variants.append(("rules", None))
    rows: dict[tuple[str, str], Row] = {}
    for f in forms:
        for suffix, _ in variants:
            rows[(f, suffix)] = Row(f"segment/{f}" + (f" {suffix}" if suffix else ""))
    base = Row("trafilatura/html") if baseline and "html" in forms else None
    t_start = time.perf_counter()
    for i, page in enumerate(pages):
        for suffix, sel in variants:
            ctx: contextlib.AbstractContextManager[Any]
            if sel in ("cv", "cv-line-head"):
                fold = _fold_of(str(page.get("id")), cv)
                stack = contextlib.ExitStack()
                stack.enter_context(use_model(models[fold]))  # type: ignore[index]
                # Held out: the fold's ranker, or none (the line model's own choice).
                ranker = rankers.get(fold) if rankers is not None and sel == "cv" else None
                stack.enter_context(use_ranker(ranker))
                ctx = stack
            elif sel == "packaged":
                ctx = contextlib.nullcontext()
            else:
                ctx = use_model(None)
            with ctx:
                for f in forms:
                    raw = RawStory(
                        story_id=str(page.get("id")),
                        body=page.get("html" if f == "html" else "text") or "",
                    )
                    t0 = time.perf_counter()
                    seg = segment(raw)
                    rows[(f, suffix)].seconds += time.perf_counter() - t0
                    _score(rows[(f, suffix)], page, _pred_from_segmented(seg))
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
        "data": str(data) if isinstance(data, Path) else f"{len(pages)} pages",
        "convention": "body: per-page P/R averaged over pages, F1 of the averages (AEB); also median per-page F1 and token-micro F1",
        "held_out": (
            f"'oof{cv}' rows: each page segmented by a model trained on the other {cv - 1} folds "
            "(out-of-fold) and a headline ranker that never saw it (nested; 'line-head': no "
            "ranker); 'in-sample' rows use the packaged models, trained on all these pages"
            if models is not None
            else "no held-out rows: the packaged model was trained on these pages"
        ),
        "rows": [r.summary() for r in all_rows],
        "worst": {},
    }
    main_suffix = variants[0][0] if variants else ""
    for f in forms:
        row = rows[(f, main_suffix)]
        ws = sorted(row.pages, key=lambda s: s.f)[:worst]
        result["worst"][row.name] = [
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
        result.setdefault("pages", {})[row.name] = [
            {
                "id": s.id,
                "f1": s.f,
                "p": s.p,
                "r": s.r,
                "head_exact": s.head_exact,
                "pred_headline": s.pred_headline,
                "gold_headline": s.gold_headline,
                "comments_f1": s.com_f1,
                "comments_tokens": list(s.com_counts),
                "supplemental_f1": s.sup_f1,
            }
            for s in row.pages
        ]
    return result


def run_cv(pages: list[dict[str, Any]], k: int, models: dict[int, Any]) -> dict[str, Any]:
    """Out-of-fold scores of given fold models (used by the training script)."""
    return run(pages, None, "both", 0, baseline=False, cv=k, in_sample=False, models=models)


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
    ap.add_argument(
        "--cv",
        type=int,
        default=5,
        help="K-fold cross-validation by page for held-out scores (0: off; default %(default)s)",
    )
    ap.add_argument("--rules", action="store_true", help="add rows for the rules alone (no model)")
    ap.add_argument(
        "--line-head",
        action="store_true",
        help="add held-out rows whose headline is the line model's choice (no ranker)",
    )
    ap.add_argument(
        "--no-in-sample",
        action="store_true",
        help="skip the rows of the packaged (in-sample) model",
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help="where fold models are cached (default: %(default)s)",
    )
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"data not found: {args.data}", file=sys.stderr)
        return 2
    res = run(
        args.data,
        args.limit,
        args.form,
        args.worst,
        baseline=not args.no_baseline,
        cv=args.cv,
        rules=args.rules,
        in_sample=not args.no_in_sample,
        cache=args.cache,
        line_head=args.line_head,
    )
    print(_fmt_table(res["rows"]))
    print(f"\n{res['convention']}\n{res['held_out']}")
    for name, ws in res["worst"].items():
        print(f"\nworst {len(ws)} pages ({name}):")
        for w in ws:
            print(
                f"  F1 {w['f1']:.3f} P {w['p']:.3f} R {w['r']:.3f}  {w['id']}  {w['url'][:80]}\n      {w['reason']}"
            )
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
