"""``newsflow``: the command line.

newsflow worker                 run the Faust worker (segment, enrich, dedup agents)
newsflow demo                   local broker + worker + samples + a watched inbox folder
newsflow process IN OUT         the stages over a JSONL file, no Kafka (`-` = stdin/stdout)
newsflow produce FILE...        send files (text, HTML, JSON envelope, JSONL) to news.raw
newsflow tail [--dlq]           print news.stories (or news.dlq with reasons)
newsflow topics                 create the pipeline's topics
newsflow dlq replay [filters]   send chosen news.dlq messages back to news.raw
newsflow eval segment ...       evaluation commands
newsflow ingest rss FEEDS_FILE  poll RSS/Atom feeds and send new items to news.raw
newsflow ingest sitemap URL...  poll (news) sitemaps;  ingest folder DIR: a watched folder
newsflow ingest jsonl|warc FILE backfill a JSONL or WARC file (progress bar, summary)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import orjson

from streams.settings import Settings, SettingsError


def _open_in(path: str) -> contextlib.AbstractContextManager[BinaryIO]:
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer)
    return open(path, "rb")


def _open_out(path: str) -> contextlib.AbstractContextManager[BinaryIO]:
    if path == "-":
        return contextlib.nullcontext(sys.stdout.buffer)
    return open(path, "wb")


def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    from streams.process import run

    src_path = Path(args.input)
    if args.input != "-" and not src_path.is_file():
        print(f"newsflow process: input file {args.input} does not exist", file=sys.stderr)
        return 2
    dlq_cm = _open_out(args.dlq) if args.dlq else contextlib.nullcontext(sys.stderr.buffer)
    with _open_in(args.input) as src, _open_out(args.output) as out, dlq_cm as dlq:
        summary = run(
            src,
            out,
            dlq,
            settings,
            batch_size=args.batch_size,
            progress=args.progress and sys.stderr.isatty(),
        )
    print(orjson.dumps({"summary": summary.as_dict()}).decode(), file=sys.stderr)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka_io import ensure_topics
    from streams.logs import configure

    configure(settings)
    created = asyncio.run(ensure_topics(settings))
    if created:
        print(f"created topics: {', '.join(created)}", file=sys.stderr)
    from streams.worker import app

    sys.argv = [
        sys.argv[0],
        "worker",
        "--loglevel",
        settings.log_level,
        "--web-port",
        str(settings.web_port),
        "--web-bind",
        settings.web_host,
        "--web-host",
        settings.web_host,
    ]
    app.main()
    return 0


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka_io import ensure_topics

    created = asyncio.run(ensure_topics(settings))
    print(orjson.dumps({"created": created}).decode())
    return 0


def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka_io import messages_from_file, produce

    messages = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"newsflow produce: {name} is not a file", file=sys.stderr)
            return 2
        messages.extend(messages_from_file(path))
    sent = asyncio.run(produce(settings, messages, topic=args.topic))
    print(f"sent {sent} messages to {args.topic or settings.topic_raw}", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    from streams.tail import tail

    return asyncio.run(
        tail(
            settings,
            dlq=args.dlq,
            follow=args.follow,
            from_beginning=not args.new_only,
            raw=args.json,
        )
    )


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.demo import run_demo

    return run_demo(
        settings,
        with_broker=not args.no_broker,
        inbox=Path(args.inbox),
        out=Path(args.out),
        duration=args.duration,
    )


def cmd_dlq(args: argparse.Namespace, settings: Settings) -> int:
    from streams.dlq_replay import main as replay_main

    return replay_main(args, settings)


EVALUATIONS = {
    "segment": "streams.evaluate.segment_eval",
    "enrich": "streams.evaluate.enrich_eval",
    "dedup": "streams.evaluate.dedup_eval",
}


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    return _run_bench(list(args.rest))


def _run_bench(argv: list[str]) -> int:
    """The benchmark lives in the repository's bench/ (it is not part of the wheel)."""
    repo = Path(__file__).resolve().parents[1]
    if not (repo / "bench" / "pipeline_bench.py").is_file():
        print("newsflow bench: run it from a checkout of the repository (bench/ is missing)",
              file=sys.stderr)
        return 2
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from bench.pipeline_bench import main as bench_main

    result: int = bench_main([a for a in argv if a != "--"] if argv[:1] == ["--"] else argv)
    return result


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    import importlib

    module = importlib.import_module(EVALUATIONS[args.what])
    result: int = module.main(args.rest)
    return result


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from streams.ingest.config import IngestConfig
    from streams.ingest.run import ingest_file, ingest_folder, ingest_rss, ingest_sitemap
    from streams.logs import configure

    configure(settings)
    try:
        config = IngestConfig.from_env()
    except SettingsError as exc:
        print(f"newsflow ingest: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "interval", None) is not None and args.source in ("rss", "sitemap"):
        config = config.replace(interval=args.interval)
    rounds = 1 if getattr(args, "once", False) else getattr(args, "rounds", None)
    if args.source == "rss":
        path = Path(args.feeds_file)
        if not path.is_file():
            print(f"newsflow ingest rss: {path} is not a file", file=sys.stderr)
            return 2
        try:
            return ingest_rss(settings, config, path, rounds=rounds,
                              metrics_port=args.metrics_port, dry_run=args.dry_run)
        except ValueError as exc:
            print(f"newsflow ingest rss: {exc}", file=sys.stderr)
            return 2
    if args.source == "sitemap":
        return ingest_sitemap(settings, config, args.urls, rounds=rounds,
                              metrics_port=args.metrics_port, dry_run=args.dry_run)
    if args.source == "folder":
        done = Path(args.done_dir) if args.done_dir else None
        return ingest_folder(settings, config, Path(args.directory), once=args.once,
                             interval=args.interval or 1.0, done_dir=done,
                             metrics_port=args.metrics_port)
    path = Path(args.file)
    if not path.is_file():
        print(f"newsflow ingest {args.source}: {path} is not a file", file=sys.stderr)
        return 2
    return ingest_file(settings, config, args.source, path,
                       progress=args.progress and sys.stderr.isatty(), restart=args.restart)


def _add_ingest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ingest", help="connectors that feed news.raw (rss, sitemap, folder, "
                       "jsonl, warc); see docs/ingest.md")
    isub = p.add_subparsers(dest="source", required=True)

    def polling(q: argparse.ArgumentParser, default_interval: str) -> None:
        q.add_argument("--interval", type=float, default=None,
                       help=f"seconds between polls (default {default_interval})")
        q.add_argument("--once", action="store_true", help="poll once and exit")
        q.add_argument("--rounds", type=int, default=None, help="poll this many times, then exit")
        q.add_argument("--metrics-port", type=int, default=None,
                       help="serve /metrics on NEWSFLOW_WEB_HOST at this port")

    q = isub.add_parser("rss", help="poll RSS 2.0 / Atom feeds")
    q.add_argument("feeds_file", help="one feed URL per line, or JSON/YAML list of URLs or {url, name}")
    q.add_argument("--dry-run", action="store_true", help="fetch and parse, send nothing")
    polling(q, "NEWSFLOW_INGEST_INTERVAL or 300")
    q.set_defaults(func=cmd_ingest)

    q = isub.add_parser("sitemap", help="poll sitemaps, sitemap indexes, Google News sitemaps")
    q.add_argument("urls", nargs="+")
    q.add_argument("--dry-run", action="store_true", help="fetch and parse, send nothing")
    polling(q, "NEWSFLOW_INGEST_INTERVAL or 300")
    q.set_defaults(func=cmd_ingest)

    q = isub.add_parser("folder", help="watch a folder; each file dropped in is sent once")
    q.add_argument("directory")
    q.add_argument("--done-dir", default=None, help="move ingested files here")
    polling(q, "1")
    q.set_defaults(func=cmd_ingest)

    for kind, what in (("jsonl", "a JSONL file (one envelope or payload per line)"),
                       ("warc", "a WARC file's HTML pages (gzip or not)")):
        q = isub.add_parser(kind, help=f"backfill {what}")
        q.add_argument("file")
        q.add_argument("--no-progress", dest="progress", action="store_false")
        q.add_argument("--restart", action="store_true",
                       help="ignore the checkpoint of an earlier run of this file")
        q.set_defaults(func=cmd_ingest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsflow", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="run the stages over a JSONL file, without Kafka")
    p.add_argument("input", help="JSONL of raw messages, or - for stdin")
    p.add_argument("output", help="JSONL of normalized records, or - for stdout")
    p.add_argument("--dlq", help="write failures here as JSON lines (default: stderr)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser("worker", help="run the Faust worker")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("topics", help="create the pipeline's topics")
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("produce", help="send files to news.raw")
    p.add_argument("files", nargs="+")
    p.add_argument("--topic", default=None)
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("tail", help="print news.stories (or news.dlq)")
    p.add_argument("--dlq", action="store_true", help="read news.dlq and show reasons")
    p.add_argument("--follow", "-f", action="store_true", help="keep waiting for records")
    p.add_argument("--new-only", action="store_true", help="skip records already on the topic")
    p.add_argument("--json", action="store_true", help="print the records as JSON lines")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("demo", help="broker + worker + samples + watched inbox")
    p.add_argument("--no-broker", action="store_true", help="use NEWSFLOW_BROKER as it is")
    p.add_argument("--inbox", default="var/inbox")
    p.add_argument("--out", default="var/out/stories.jsonl")
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("dlq", help="dead-letter tools (replay)")
    dlq_sub = p.add_subparsers(dest="dlq_command", required=True)
    p = dlq_sub.add_parser(
        "replay",
        help="send chosen news.dlq messages (original key and bytes) back to news.raw",
        description="Read news.dlq up to its current end, keep the messages matching every "
        "filter, and send their original key and bytes to news.raw (prints a JSON summary).",
    )
    p.add_argument("--reason", action="append", help="only this reason (repeatable)")
    p.add_argument("--stage", action="append", help="only this stage (repeatable)")
    p.add_argument("--partition", type=int, default=None, help="only this news.dlq partition")
    p.add_argument("--from-offset", type=int, default=None, help="first news.dlq offset")
    p.add_argument("--to-offset", type=int, default=None, help="last news.dlq offset (inclusive)")
    p.add_argument("--limit", type=int, default=None, help="send at most this many")
    p.add_argument(
        "--to-source",
        action="store_true",
        help="send each message back to its source_topic (enrich/dedup failures) "
        "instead of news.raw",
    )
    p.add_argument("--dry-run", action="store_true", help="only count what would be sent")
    p.set_defaults(func=cmd_dlq)

    p = sub.add_parser("bench", help="benchmarks (run from the repository: bench/)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("eval", help="evaluations: segment, enrich, dedup")
    p.add_argument("what", choices=sorted(EVALUATIONS))
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_eval)

    _add_ingest(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["bench"]:  # the benchmark parses its own options
        return _run_bench(raw[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"newsflow: {exc}", file=sys.stderr)
        return 2
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
