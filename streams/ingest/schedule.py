"""Poll many sources on an interval with bounded concurrency, until told to stop.

One small task per source sleeps until its next poll; a global semaphore bounds how many
polls run at once; the first polls are spread over one interval (``spread``) so 500 feeds do
not all start in the same second. A poll that raises is logged and counted, never fatal, and
a poll that runs past ``poll_timeout`` is cut off: the poller never gets stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from streams.ingest.config import IngestConfig
from streams.ingest.metrics import FAILED, POLL_SECONDS
from streams.logs import log_event

log = logging.getLogger("newsflow.ingest.schedule")


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if ``stop`` was set meanwhile."""
    if seconds <= 0:
        return stop.is_set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def guarded_poll(
    connector: str, source: str, poll: Callable[[str], Awaitable[object]], timeout: float
) -> None:
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await poll(source)
    except TimeoutError:
        FAILED.labels(connector=connector, reason="poll_timeout").inc()
        log_event(log, "poll timed out", logging.ERROR, url=source, reason="poll_timeout")
    except Exception:
        FAILED.labels(connector=connector, reason="internal_error").inc()
        log.exception("poll crashed", extra={"url": source, "reason": "internal_error"})
    finally:
        POLL_SECONDS.labels(connector=connector).observe(time.monotonic() - started)


async def run_schedule(
    connector: str,
    sources: Sequence[str],
    poll: Callable[[str], Awaitable[object]],
    config: IngestConfig,
    stop: asyncio.Event,
    *,
    rounds: int | None = None,
) -> None:
    """Poll every source every ``config.interval`` seconds; ``rounds`` bounds the polls per
    source (``1`` = once, ``None`` = until ``stop``)."""
    sem = asyncio.Semaphore(config.concurrency)
    n = max(1, len(sources))

    async def one(index: int, source: str) -> None:
        if config.spread and rounds != 1 and await sleep_or_stop(stop, config.interval * index / n):
            return
        done = 0
        while not stop.is_set():
            started = time.monotonic()
            async with sem:
                if stop.is_set():
                    return
                await guarded_poll(connector, source, poll, config.poll_timeout)
            done += 1
            if rounds is not None and done >= rounds:
                return
            if await sleep_or_stop(stop, config.interval - (time.monotonic() - started)):
                return

    await asyncio.gather(*(one(i, s) for i, s in enumerate(sources)))
