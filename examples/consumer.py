"""A downstream consumer of ``news.stories``: the smallest correct program.

    python examples/consumer.py [--bootstrap 127.0.0.1:9092] [--topic news.stories]

A secured broker is reached with the same variables as the worker (docs/operations.md,
"Secured Kafka"): NEWSFLOW_SECURITY_PROTOCOL, NEWSFLOW_SASL_MECHANISM, NEWSFLOW_SASL_USERNAME,
NEWSFLOW_SASL_PASSWORD, NEWSFLOW_SSL_CAFILE, NEWSFLOW_SSL_CERTFILE, NEWSFLOW_SSL_KEYFILE.

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
import os
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context

KNOWN_SCHEMA_VERSIONS = {b"1"}


def security_from_env() -> dict[str, Any]:
    """aiokafka's connection security arguments from the NEWSFLOW_* variables."""
    env = os.environ
    protocol = env.get("NEWSFLOW_SECURITY_PROTOCOL", "PLAINTEXT")
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        kwargs["sasl_mechanism"] = env.get("NEWSFLOW_SASL_MECHANISM", "SCRAM-SHA-512")
        kwargs["sasl_plain_username"] = env["NEWSFLOW_SASL_USERNAME"]
        kwargs["sasl_plain_password"] = env["NEWSFLOW_SASL_PASSWORD"]
    if protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(
            cafile=env.get("NEWSFLOW_SSL_CAFILE") or None,
            certfile=env.get("NEWSFLOW_SSL_CERTFILE") or None,
            keyfile=env.get("NEWSFLOW_SSL_KEYFILE") or None,
        )
    return kwargs


async def consume(bootstrap: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        **security_from_env(),
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
