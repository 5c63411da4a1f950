"""Prometheus counters of the ingest connectors (prometheus-client default registry).

``newsflow_ingest_fetches_total{connector,kind,result}``   HTTP fetches: kind feed|sitemap|page,
                                                           result ok|not_modified
``newsflow_ingest_sent_total{connector,kind}``             stories acknowledged by the broker:
                                                           kind new|update
``newsflow_ingest_skipped_total{connector,reason}``        items left out on purpose (policy)
``newsflow_ingest_failed_total{connector,reason}``         fetches/items/sends that failed
``newsflow_ingest_http_retries_total{reason}``             retried HTTP requests
``newsflow_ingest_poll_seconds{connector}``                time of one poll of a feed/sitemap
``newsflow_ingest_in_flight_messages``                     sent to the producer, not yet acked
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FETCHES = Counter(
    "newsflow_ingest_fetches",
    "HTTP fetches by the ingest connectors.",
    ["connector", "kind", "result"],
)
SENT = Counter("newsflow_ingest_sent", "Stories acknowledged by the broker.", ["connector", "kind"])
SKIPPED = Counter(
    "newsflow_ingest_skipped", "Items left out on purpose, by reason.", ["connector", "reason"]
)
FAILED = Counter(
    "newsflow_ingest_failed",
    "Fetches, items or sends that failed, by reason.",
    ["connector", "reason"],
)
HTTP_RETRIES = Counter("newsflow_ingest_http_retries", "Retried HTTP requests.", ["reason"])
POLL_SECONDS = Histogram(
    "newsflow_ingest_poll_seconds",
    "Time of one poll of a feed or sitemap, items included.",
    ["connector"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
IN_FLIGHT = Gauge(
    "newsflow_ingest_in_flight_messages", "Messages handed to the producer, not yet acknowledged."
)

CONNECTORS = ("rss", "sitemap", "folder", "jsonl", "warc")
for _c in CONNECTORS:
    SENT.labels(connector=_c, kind="new")
    SENT.labels(connector=_c, kind="update")
