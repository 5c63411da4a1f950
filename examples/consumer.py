"""A downstream consumer of ``news.stories``: the smallest correct program.

    python examples/consumer.py [--bootstrap 127.0.0.1:9092] [--topic news.stories]

Delivery is at-least-once: a story may arrive more than once (after a worker crash or a
rebalance), always with the same ``story_id`` key and the same dedup verdict, and an update
arrives as a new record with the same ``story_id``. So the consumer upserts by ``story_id``
(here into a dict; in practice a table with ``story_id`` as primary key), skips records whose
``schema-version`` header it does not know, ignores fields it does not know (additive changes
within v1), and commits offsets only after its own write.
"""

from __future__ import annotations

import argparse
import asyncio

import orjson
from aiokafka import AIOKafkaConsumer

KNOWN_SCHEMA_VERSIONS = {b"1"}


async def consume(bootstrap: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    store: dict[str, dict[str, object]] = {}
    await consumer.start()
    try:
        async for msg in consumer:
            version = dict(msg.headers or ()).get("schema-version")
            if version not in KNOWN_SCHEMA_VERSIONS:
                print(f"skipping offset {msg.offset}: schema-version {version!r}")
                continue
            record = orjson.loads(msg.value or b"{}")
            story_id = str(record["story_id"])
            seen = story_id in store
            store[story_id] = record  # upsert: replays and updates overwrite
            dedup = record["dedup"]
            if dedup["status"] in ("duplicate", "near_duplicate"):
                note = f"{dedup['status']} of {dedup['canonical_id']}"
            else:
                note = dedup["status"]
            print(f"{story_id} [{note}{', again' if seen else ''}] {record.get('headline')}")
            await consumer.commit()  # after our own write
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="news.stories")
    parser.add_argument("--group", default="example-consumer")
    args = parser.parse_args()
    asyncio.run(consume(args.bootstrap, args.topic, args.group))


if __name__ == "__main__":
    main()
