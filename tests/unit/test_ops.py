"""Ops files and helpers: lag arithmetic, DLQ replay selection, alert rules, the dashboard.

The promtool checks run for real when Debian's ``prometheus`` package is installed
(``apt-get install -y --no-install-recommends prometheus``) and skip with that hint otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams import metrics
from streams.dlq_replay import DeadLetter, Selection, plan
from streams.lag import LagCollector, compute_lag, source_topics
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
PROMTOOL = shutil.which("promtool")
APT_HINT = (
    "promtool is not installed (Debian: apt-get install -y --no-install-recommends prometheus)"
)


# --- consumer lag -------------------------------------------------------------------------


def test_lag_is_end_minus_committed() -> None:
    end = {("raw", 0): 10, ("raw", 1): 5}
    assert compute_lag(end, {("raw", 0): 7, ("raw", 1): 5}, {}) == {("raw", 0): 3, ("raw", 1): 0}


def test_uncommitted_partition_lags_by_what_is_on_the_log() -> None:
    end = {("raw", 0): 10, ("raw", 1): 10, ("raw", 2): 10}
    start = {("raw", 0): 4, ("raw", 1): 4, ("raw", 2): 4}
    committed: dict[tuple[str, int], int | None] = {("raw", 1): -1, ("raw", 2): None}
    assert compute_lag(end, committed, start) == {("raw", 0): 6, ("raw", 1): 6, ("raw", 2): 6}


def test_lag_never_negative_and_counts_from_log_start() -> None:
    # Committed below the log start (retention removed unread messages): only what is left.
    assert compute_lag({("t", 0): 10}, {("t", 0): 2}, {("t", 0): 8}) == {("t", 0): 2}
    # A committed offset past the end (topic recreated): 0, not negative.
    assert compute_lag({("t", 0): 3}, {("t", 0): 9}, {}) == {("t", 0): 0}


async def test_a_failed_refresh_is_counted_not_raised() -> None:
    # Nothing listens on port 1: the refresh fails fast, counts, and leaves no client open.
    collector = LagCollector(bootstrap_servers="127.0.0.1:1", group="g", topics=["t"])
    before = metrics.LAG_REFRESH_ERRORS._value.get()
    assert await collector.refresh_once(timeout=10) is False
    assert metrics.LAG_REFRESH_ERRORS._value.get() == before + 1
    assert collector._admin is None and collector._consumer is None


def test_lag_watches_the_agents_source_topics() -> None:
    s = Settings()
    assert source_topics(s) == [s.topic_raw, s.topic_segmented, s.topic_enriched]


def test_metric_names_follow_conventions() -> None:
    assert metrics.CONSUMER_LAG._name == "newsflow_consumer_lag"
    assert metrics.CONSUMER_LAG._labelnames == ("group", "topic", "partition")
    assert metrics.WORKER_UP._name == "newsflow_worker_up"
    # Dead-letter series exist at 0 before the first failure (rate() sees the first one).
    reasons = {labels for labels in metrics.DLQ_MESSAGES._metrics}
    assert ("segment", "invalid_json") in reasons
    assert ("enrich", "stage_error") in reasons


# --- DLQ replay selection -------------------------------------------------------------------


def _letter(partition: int, offset: int, stage: str, reason: str, source: str) -> DeadLetter:
    headers = {"stage": stage, "reason": reason, "source_topic": source}
    return DeadLetter(partition, offset, b"k", f"v{offset}".encode(), headers)


LETTERS = [
    _letter(0, 0, "segment", "invalid_json", "news.raw"),
    _letter(0, 1, "segment", "empty_body", "news.raw"),
    _letter(1, 0, "segment", "invalid_json", "news.raw"),
    _letter(1, 1, "enrich", "stage_error", "news.segmented"),
    _letter(1, 2, "segment", "invalid_json", "news.raw"),
]


def test_selection_filters_combine() -> None:
    sel = Selection(reasons=frozenset({"invalid_json"}), partition=1, from_offset=1)
    chosen, summary = plan(LETTERS, sel, Settings())
    assert [(d, (x.partition, x.offset)) for d, x in chosen] == [("news.raw", (1, 2))]
    assert (summary.scanned, summary.matched, summary.skipped_not_raw) == (5, 1, 0)


def test_offset_range_is_inclusive() -> None:
    chosen, _ = plan(LETTERS, Selection(from_offset=0, to_offset=1), Settings())
    assert [(x.partition, x.offset) for _, x in chosen] == [(0, 0), (0, 1), (1, 0)]


def test_internal_records_are_not_sent_to_raw() -> None:
    chosen, summary = plan(LETTERS, Selection(stages=frozenset({"enrich"})), Settings())
    assert chosen == []
    assert summary.skipped_not_raw == 1
    chosen, summary = plan(
        LETTERS, Selection(stages=frozenset({"enrich"})), Settings(), to_source=True
    )
    assert [(d, x.offset) for d, x in chosen] == [("news.segmented", 1)]
    assert summary.as_dict()["destinations"] == {"news.segmented": 1}


# --- alert rules ------------------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((PROM / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_alerts_cover_the_required_conditions() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    for name in (
        "NewsflowWorkerDown",
        "NewsflowConsumerLagGrowing",
        "NewsflowDLQRateHigh",
        "NewsflowEndToEndLatencyHigh",
        "NewsflowDedupRatioAbnormal",
        "NewsflowNoInput",
    ):
        assert name in alerts, name
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name
        assert "for" in rule, name


def test_every_alert_has_a_promtool_unit_test() -> None:
    tests = yaml.safe_load((PROM / "alerts_test.yml").read_text())
    tested = {
        case["alertname"]
        for t in tests["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {r["alert"] for r in rules() if "alert" in r} <= tested


def test_prometheus_configs_load_the_rules() -> None:
    for name in ("prometheus.yml", "prometheus.local.yml"):
        assert yaml.safe_load((PROM / name).read_text())["rule_files"] == ["alerts.yml"]


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "config", "prometheus.local.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ],
    ids=lambda a: " ".join(a),
)
def test_promtool(args: list[str]) -> None:
    if PROMTOOL is None:
        pytest.skip(APT_HINT)
    done = subprocess.run([PROMTOOL, *args], cwd=PROM, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


# --- Grafana ----------------------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GRAFANA / "dashboards" / "newsflow.json").read_text())
    return data


def test_dashboard_panels_and_datasource() -> None:
    dash = dashboard()
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (ds,) = datasource["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    exprs = " ".join(t["expr"] for p in panels for t in p["targets"])
    for metric in (
        "newsflow_stage_messages_in_total",
        "newsflow_stage_messages_out_total",
        "newsflow_end_to_end_latency_seconds_bucket",
        "newsflow_stage_processing_seconds_bucket",
        "newsflow_consumer_lag",
        "newsflow_dlq_messages_total",
        "newsflow_dedup_outcomes_total",
    ):
        assert metric in exprs, metric
    for p in panels:
        assert p["datasource"]["uid"] == ds["uid"], p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == ds["uid"]
            # Balanced brackets: a cheap syntax check (the integration test runs them for real).
            for o, c in ("()", "[]", "{}"):
                assert t["expr"].count(o) == t["expr"].count(c), t["expr"]
        grid = p["gridPos"]
        assert grid["x"] + grid["w"] <= 24


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "newsflow.yml").read_text()
    )
    (prov,) = provider["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts[prov["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning/datasources"] == (
        "./deploy/grafana/provisioning/datasources"
    )
    assert (
        mounts["/etc/grafana/provisioning/dashboards"] == "./deploy/grafana/provisioning/dashboards"
    )
    assert grafana["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    assert "healthcheck" in grafana and "healthcheck" in compose["services"]["prometheus"]
    prom_mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prom_mounts


def test_docs_catalogue_lists_every_newsflow_metric() -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    from prometheus_client import REGISTRY

    names = {m.name for m in REGISTRY.collect() if m.name.startswith("newsflow_")}
    assert names
    for name in names:
        assert re.search(rf"`{name}(_total)?`", doc), f"{name} missing from docs/metrics.md"
