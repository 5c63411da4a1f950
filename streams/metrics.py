"""Prometheus metrics of the pipeline (prometheus-client default registry).

Catalogue (see docs/metrics.md):
``newsflow_stage_messages_in_total{stage}``        messages a stage received
``newsflow_stage_messages_out_total{stage}``       records a stage emitted downstream
``newsflow_stage_processing_seconds{stage}``       time per message (batch time / batch size)
``newsflow_dlq_messages_total{stage,reason}``      messages routed to the dead-letter topic
``newsflow_dedup_outcomes_total{status}``          dedup verdicts
``newsflow_end_to_end_latency_seconds``            raw produce/fetch time -> output written
``newsflow_enrich_batch_size``                     stories per enrich model call
``newsflow_worker_info{version}``                  constant 1, carries the version
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from streams import __version__

STAGES = ("segment", "enrich", "dedup")

MESSAGES_IN = Counter("newsflow_stage_messages_in", "Messages received by a stage.", ["stage"])
MESSAGES_OUT = Counter(
    "newsflow_stage_messages_out", "Records emitted downstream by a stage.", ["stage"]
)
PROCESSING_SECONDS = Histogram(
    "newsflow_stage_processing_seconds",
    "Processing time per message in a stage.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DLQ_MESSAGES = Counter(
    "newsflow_dlq_messages", "Messages routed to the dead-letter topic.", ["stage", "reason"]
)
DEDUP_OUTCOMES = Counter("newsflow_dedup_outcomes", "Dedup verdicts.", ["status"])
END_TO_END_LATENCY = Histogram(
    "newsflow_end_to_end_latency_seconds",
    "Time from the raw message's produce (or fetch) time to its output record.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
ENRICH_BATCH_SIZE = Histogram(
    "newsflow_enrich_batch_size",
    "Stories per enrich model call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
WORKER_INFO = Gauge("newsflow_worker_info", "Worker build information.", ["version"])
WORKER_INFO.labels(version=__version__).set(1)

# Pre-create label sets so dashboards see zeros instead of absent series.
for _stage in STAGES:
    MESSAGES_IN.labels(stage=_stage)
    MESSAGES_OUT.labels(stage=_stage)
    PROCESSING_SECONDS.labels(stage=_stage)
for _status in ("original", "duplicate", "near_duplicate", "update"):
    DEDUP_OUTCOMES.labels(status=_status)
