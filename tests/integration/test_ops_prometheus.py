"""A real Prometheus server scrapes a real worker while stories flow.

The server (Debian's ``prometheus`` package) runs on 127.0.0.1 on a free port with a temp
storage dir, a 1 s scrape/evaluation interval and ``deploy/prometheus/alerts.yml`` loaded. The
test then asks its HTTP API for the pipeline's metrics and runs every PromQL expression of the
alert rules and of the Grafana dashboard against it.

What "returns data" means per kind of expression:

* recording rules and every dashboard panel query: a non-empty result (NaN samples count: a
  quantile over a window without observations is NaN, and still a series).
* alert expressions: they are conditions (``... > threshold``, ``absent(...)``), empty while the
  pipeline is healthy, which it is here; so each must evaluate without error, each metric
  selector it reads must return data, no alert may be firing, and Prometheus's own rule health
  must be ``ok`` for every rule.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import Worker, collect, send

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "newsflow.json"
SAMPLES = REPO / "samples"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
APT_HINT = "apt-get install -y --no-install-recommends prometheus"
READY_TIMEOUT = 60.0
DATA_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 400/422: a bad expression; show Prometheus' error
            body = json.loads(exc.read())
        return body

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self.get("/api/v1/query", query=expr)
        assert body["status"] == "success", f"{expr!r}: {body.get('error')}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(self, expr: str, timeout: float = DATA_TIMEOUT) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"no data for {expr!r} in {timeout:.0f}s")
            time.sleep(1.0)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def prometheus(worker: Worker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    if PROMETHEUS is None:
        pytest.skip(f"the prometheus binary is not installed (Debian: {APT_HINT})")
    tmp = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [
            {
                "job_name": "newsflow",
                "metrics_path": "/metrics",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [f"127.0.0.1:{worker.settings.web_port}"]}],
            }
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    log_path = tmp / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"prometheus exited with {proc.returncode}:\n{prom.log_tail()}")
            try:
                with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus not ready in {READY_TIMEOUT}s:\n{prom.log_tail()}")
            time.sleep(0.5)
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def flowing(worker: Worker, prometheus: Prometheus) -> Prometheus:
    """Stories (and one broken message) went through while Prometheus scraped."""
    # First a scrape of the idle worker (counters at 0): a counter first seen at its final
    # value has no increase for rate() to show.
    prometheus.wait_for('newsflow_dlq_messages_total{stage="segment",reason="invalid_json"} == 0')
    prometheus.wait_for('newsflow_stage_messages_in_total{stage="segment"} == 0')
    samples = sorted(p for p in SAMPLES.iterdir() if p.is_file())
    good = [p for p in samples if "broken" not in p.name]
    send(worker.settings, *[(None, p.read_bytes()) for p in samples])
    send(worker.settings, (b"ops-poison", b"{not json"))  # -> news.dlq, invalid_json
    stories = collect(
        worker.settings, worker.settings.topic_stories, until=lambda got: len(got) >= len(good)
    )
    assert len(stories) >= len(good), f"stories did not come out:\n{worker.log_tail()}"
    p = prometheus
    # Counters moved between two scrapes (rates have data), the lag of every source topic is
    # known, and the recording rules were evaluated on the new data.
    p.wait_for('sum(rate(newsflow_stage_messages_out_total{stage="dedup"}[5m])) > 0')
    p.wait_for("sum(rate(newsflow_dlq_messages_total[5m])) > 0")
    p.wait_for("sum(rate(newsflow_end_to_end_latency_seconds_count[5m])) > 0")
    p.wait_for("count(count by (topic) (newsflow_consumer_lag)) == 3")
    # Committed offsets exist only after the group's first commit of each topic.
    p.wait_for("count(count by (topic) (newsflow_consumer_committed_offset)) == 3")
    p.wait_for("newsflow:end_to_end_latency_seconds:p99_5m")
    return p


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    out = []
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    return out


_FUNCTIONS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "deriv", "abs", "absent",
    "histogram_quantile", "time", "by", "and", "or", "unless", "on", "ignoring", "offset",
}  # fmt: skip
_SELECTOR = re.compile(r"(?<![\w:\"])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?")


def selectors(expr: str) -> list[str]:
    """The vector selectors of a PromQL expression (metric name plus its matchers)."""
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range durations
    expr = re.sub(r"by \([^)]*\)", "", expr)  # grouping labels
    found = []
    for match in _SELECTOR.finditer(expr):
        name, matchers = match.group(1), match.group(2)
        if name in _FUNCTIONS or expr[match.end() :].lstrip().startswith("("):
            continue  # a function call or keyword, not a series
        found.append(name + (matchers or ""))
    return sorted(set(found))


def test_selector_extraction() -> None:
    expr = 'sum by (job) (rate(newsflow_dlq_messages_total[5m])) / up{job="newsflow"} > 0.05'
    assert selectors(expr) == ["newsflow_dlq_messages_total", 'up{job="newsflow"}']


def test_prometheus_scrapes_the_pipeline_metrics(flowing: Prometheus, worker: Worker) -> None:
    (up,) = flowing.query('up{job="newsflow"}')
    assert up["value"][1] == "1"
    names = set(flowing.get("/api/v1/label/__name__/values")["data"])
    expected = {
        "newsflow_stage_messages_in_total",
        "newsflow_stage_messages_out_total",
        "newsflow_stage_processing_seconds_bucket",
        "newsflow_dlq_messages_total",
        "newsflow_dedup_outcomes_total",
        "newsflow_end_to_end_latency_seconds_bucket",
        "newsflow_enrich_batch_size_bucket",
        "newsflow_worker_info",
        "newsflow_worker_up",
        "newsflow_consumer_lag",
        "newsflow_consumer_committed_offset",
        "newsflow_topic_end_offset",
        "newsflow_consumer_lag_last_success_timestamp_seconds",
        "newsflow_consumer_lag_refresh_errors_total",
    }
    assert expected <= names, sorted(expected - names)
    # The lag covers every partition of the agents' three source topics, for the app's group.
    s = worker.settings
    lag = flowing.query("newsflow_consumer_lag")
    seen = {(r["metric"]["topic"], r["metric"]["partition"]) for r in lag}
    assert seen == {
        *((s.topic_raw, str(p)) for p in range(s.partitions)),
        *((s.topic_segmented, str(p)) for p in range(s.partitions)),
        *((s.topic_enriched, str(p)) for p in range(s.dedup_partitions)),
    }
    assert {r["metric"]["group"] for r in lag} == {s.app_id}
    # Every story went through: the group catches up to the end offsets (lag 0).
    flowing.wait_for("sum(newsflow_consumer_lag) == 0", timeout=60)
    ends = flowing.query(f'sum(newsflow_topic_end_offset{{topic="{s.topic_raw}"}})')
    assert float(ends[0]["value"][1]) >= 6
    dlq = flowing.query("sum(newsflow_dlq_messages_total)")
    assert float(dlq[0]["value"][1]) >= 2  # the broken sample and the poison message


def test_every_recording_rule_returns_data(flowing: Prometheus) -> None:
    records = [r for r in alert_rules() if "record" in r]
    assert records
    for rule in records:
        assert flowing.query(rule["expr"]), f"recording rule {rule['record']}: no data"
        flowing.wait_for(rule["record"], timeout=30)


def test_every_alert_expression_evaluates_on_real_data(flowing: Prometheus) -> None:
    alerts = [r for r in alert_rules() if "alert" in r]
    assert len(alerts) >= 6
    for rule in alerts:
        # Evaluates without error (query() asserts success); empty while healthy.
        flowing.query(rule["expr"])
        for selector in selectors(rule["expr"]):
            assert flowing.query(selector), f"{rule['alert']}: {selector} has no data"
    firing = [a for a in flowing.get("/api/v1/alerts")["data"]["alerts"] if a["state"] == "firing"]
    assert not firing, firing
    groups = flowing.get("/api/v1/rules")["data"]["groups"]
    health = {r["name"]: (r["health"], r.get("lastError")) for g in groups for r in g["rules"]}
    assert len(health) == len(alert_rules())
    assert all(h == "ok" for h, _ in health.values()), health


def test_every_dashboard_query_returns_data(flowing: Prometheus) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    empty = [(title, expr) for title, expr in queries if not flowing.query(expr)]
    assert not empty, empty


def test_promtool_check_metrics_on_a_real_scrape(flowing: Prometheus, worker: Worker) -> None:
    if PROMTOOL is None:
        pytest.skip(f"promtool is not installed (Debian: {APT_HINT})")
    scrape = worker.metrics()
    assert "newsflow_consumer_lag{" in scrape
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"],
        input=scrape.encode(),
        capture_output=True,
        timeout=60,
    )
    assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
    assert not (checked.stdout + checked.stderr).strip(), (checked.stdout + checked.stderr).decode()
