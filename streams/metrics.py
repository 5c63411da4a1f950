"""Prometheus metrics of the pipeline (prometheus-client default registry).

Catalogue (see docs/metrics.md):
``newsflow_stage_messages_in_total{stage}``        messages a stage received
``newsflow_stage_messages_out_total{stage}``       records a stage emitted downstream
``newsflow_stage_processing_seconds{stage}``       time per message (batch time / batch size)
``newsflow_dlq_messages_total{stage,reason}``      messages routed to the dead-letter topic
``newsflow_dedup_outcomes_total{status}``          dedup verdicts
``newsflow_send_failures_total{stage,kind,retriable}``  deliveries the broker did not acknowledge
``newsflow_end_to_end_latency_seconds``            raw produce/fetch time -> output written
``newsflow_enrich_batch_size``                     stories per enrich model call
``newsflow_enrich_field_present_total{field}``     enriched stories whose field is not empty
``newsflow_enrich_flags_total{flag}``              enrichment degradation flags (no_text, ...)
``newsflow_worker_info{version}``                  constant 1, carries the version
``newsflow_worker_up``                             1 while the worker process serves /metrics
``newsflow_consumer_lag{group,topic,partition}``   end offset - committed offset (streams/lag.py)
``newsflow_consumer_committed_offset{group,topic,partition}``   the group's committed offset
``newsflow_topic_end_offset{topic,partition}``     log end offset of the agents' source topics
``newsflow_consumer_lag_last_success_timestamp_seconds``  when the lag was last refreshed
``newsflow_consumer_lag_refresh_errors_total``     failed lag refreshes
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from streams import __version__
from streams.records import Enriched

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
SEND_FAILURES = Counter(
    "newsflow_send_failures",
    "Sends the broker did not acknowledge (retriable ones are sent again).",
    ["stage", "kind", "retriable"],
)
CONSUMER_GUARD = Counter(
    "newsflow_consumer_guard",
    "Times the consumer guards acted (streams/consumer.py): a re-fetched message re-delivered, "
    "a commit held on an unacked message, a re-fetch after a long hold.",
    ["action"],
)
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
# Enrichment coverage: divide by newsflow_stage_messages_out_total{stage="enrich"} for the share
# of stories that got each field (docs/metrics.md).
COVERAGE_FIELDS = (
    "language",
    "published_at",
    "entities",
    "places",
    "countries",
    "quotes",
    "keywords",
    "topics",
    "dates",
)
ENRICH_FIELD_PRESENT = Counter(
    "newsflow_enrich_field_present",
    "Enriched stories whose field is not empty (language: not 'und').",
    ["field"],
)
ENRICH_FLAGS = Counter(
    "newsflow_enrich_flags", "Enriched stories carrying a degradation flag.", ["flag"]
)
ENRICH_FLAG_NAMES = (
    "no_text",
    "no_article",
    "language_undetermined",
    "ner_unsupported_language",
    "ner_truncated",
    "ner_failed",
    "enrich_failed",
)


def present_fields(item: Enriched) -> list[str]:
    """The coverage fields an enriched story has (not empty)."""
    found = [
        name
        for name in COVERAGE_FIELDS[1:]
        if getattr(item, name)  # published_at: None; the lists: empty
    ]
    if item.language and item.language != "und":
        found.insert(0, "language")
    return found


def observe_enriched(item: Enriched) -> None:
    for name in present_fields(item):
        ENRICH_FIELD_PRESENT.labels(field=name).inc()
    for flag in item.flags:
        ENRICH_FLAGS.labels(flag=flag).inc()


WORKER_INFO = Gauge("newsflow_worker_info", "Worker build information.", ["version"])
WORKER_INFO.labels(version=__version__).set(1)
WORKER_UP = Gauge(
    "newsflow_worker_up", "1 while the worker process is running and serving metrics."
)
WORKER_UP.set(1)

# Consumer lag (streams/lag.py): every worker reports the whole group; aggregate with max.
CONSUMER_LAG = Gauge(
    "newsflow_consumer_lag",
    "Messages not yet consumed: log end offset minus the group's committed offset.",
    ["group", "topic", "partition"],
)
CONSUMER_COMMITTED_OFFSET = Gauge(
    "newsflow_consumer_committed_offset",
    "The consumer group's committed offset (next message to read).",
    ["group", "topic", "partition"],
)
TOPIC_END_OFFSET = Gauge(
    "newsflow_topic_end_offset",
    "Log end offset (offset of the next message written) of an agent's source partition.",
    ["topic", "partition"],
)
LAG_LAST_SUCCESS = Gauge(
    "newsflow_consumer_lag_last_success_timestamp_seconds",
    "Unix time of the last successful consumer lag refresh.",
)
LAG_REFRESH_ERRORS = Counter(
    "newsflow_consumer_lag_refresh_errors", "Consumer lag refreshes that failed."
)

# Pre-create label sets so dashboards see zeros instead of absent series.
for _stage in STAGES:
    MESSAGES_IN.labels(stage=_stage)
    MESSAGES_OUT.labels(stage=_stage)
    PROCESSING_SECONDS.labels(stage=_stage)
for _action in ("redelivered", "commit_held", "refetched"):
    CONSUMER_GUARD.labels(action=_action)
for _status in ("original", "duplicate", "near_duplicate", "update"):
    DEDUP_OUTCOMES.labels(status=_status)
for _field in COVERAGE_FIELDS:
    ENRICH_FIELD_PRESENT.labels(field=_field)
for _flag in ENRICH_FLAG_NAMES:
    ENRICH_FLAGS.labels(flag=_flag)

# Dead-letter reasons (README "Failure handling"). Their series start at 0 so that rate() sees
# the first dead letter: a counter series born at 1 has no increase to show.
DECODE_REASONS = (
    "empty_body",
    "invalid_json",
    "invalid_envelope",
    "unsupported_schema_version",
    "invalid_utf8",
    "invalid_encoding",
    "binary_payload",
    "too_large",
)
for _reason in DECODE_REASONS:
    DLQ_MESSAGES.labels(stage="segment", reason=_reason)
for _stage in STAGES:
    for _reason in ("output_too_large", "output_rejected", "stage_error"):
        DLQ_MESSAGES.labels(stage=_stage, reason=_reason)
    for _kind in ("output", "dead_letter"):
        SEND_FAILURES.labels(stage=_stage, kind=_kind, retriable="true")
