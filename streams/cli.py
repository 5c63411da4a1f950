"""``newsflow``: the command line.

newsflow worker                 run the Faust worker (segment, enrich, dedup agents)
newsflow demo                   local broker + worker + samples + a watched inbox folder
newsflow process IN OUT         the stages over a JSONL file, no Kafka (`-` = stdin/stdout)
newsflow produce FILE...        send files (text, HTML, JSON envelope, JSONL) to news.raw
newsflow tail [--dlq]           print news.stories (or news.dlq with reasons)
newsflow topics                 create the pipeline's topics
newsflow eval segment ...       evaluation commands
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


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "segment":
        from streams.evaluate.segment_eval import main as segment_main

        return segment_main(args.rest)
    print(f"newsflow eval: unknown evaluation {args.what!r}", file=sys.stderr)
    return 2


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

    p = sub.add_parser("eval", help="evaluations (segment)")
    p.add_argument("what", choices=["segment"])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
