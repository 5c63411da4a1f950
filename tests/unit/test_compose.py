"""docker-compose.yml, Dockerfile and Prometheus configs agree with the settings and the pom."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.kafka_io import topic_specs
from streams.settings import Settings, env_name

ROOT = Path(__file__).resolve().parents[2]
POM = ROOT / "deploy" / "kafka" / "pom.xml"
DEFAULTS = Settings()


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_yaml(ROOT / "docker-compose.yml")
    assert isinstance(data, dict)
    return data


def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment (mapping form; compose passes every value as a string)."""
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "use the mapping form for environment"
    return {key: str(value) for key, value in environment.items()}


def pom_kafka_version(pom: Path) -> str:
    """The kafka_2.13 version of the pom: the dependency's <version>, resolving ${property}."""
    root = ET.parse(pom).getroot()
    ns = {"m": root.tag[1:].split("}")[0]} if root.tag.startswith("{") else {}
    p = "m:" if ns else ""
    properties = {
        el.tag.split("}")[-1]: (el.text or "").strip()
        for el in root.findall(f"{p}properties/*", ns)
    }
    version = properties.get("kafka.version")
    for dep in root.iter(f"{{{ns['m']}}}dependency" if ns else "dependency"):
        group = dep.findtext(f"{p}groupId", namespaces=ns)
        artifact = dep.findtext(f"{p}artifactId", namespaces=ns)
        if (group, artifact) == ("org.apache.kafka", "kafka_2.13"):
            version = (dep.findtext(f"{p}version", namespaces=ns) or "").strip() or version
    assert version, f"{pom} names no kafka_2.13 version"
    ref = re.fullmatch(r"\$\{(.+)\}", version)
    if ref:
        version = properties[ref.group(1)]
    return version


def test_pom_version_is_read_from_dependency_or_property(tmp_path: Path) -> None:
    dep = "<dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>"
    literal = tmp_path / "literal.xml"
    literal.write_text(
        f"<project><dependencies>{dep}<version>3.9.2</version></dependency>"
        "</dependencies></project>"
    )
    assert pom_kafka_version(literal) == "3.9.2"
    prop = tmp_path / "prop.xml"
    prop.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><properties>'
        "<kafka.version>4.1.0</kafka.version></properties><dependencies>"
        f"{dep}<version>${{kafka.version}}</version></dependency></dependencies></project>"
    )
    assert pom_kafka_version(prop) == "4.1.0"


def test_compose_has_the_services(compose: dict[str, Any]) -> None:
    assert {"kafka", "topics", "worker", "ingest", "ingest-inbox", "prometheus", "grafana"} <= set(
        services(compose)
    )


def test_several_workers_by_default(compose: dict[str, Any]) -> None:
    replicas = str(services(compose)["worker"]["deploy"]["replicas"])
    match = re.fullmatch(r"\$\{NEWSFLOW_WORKERS:-(\d+)\}", replicas)
    assert match, replicas
    assert int(match.group(1)) >= 2


@pytest.mark.parametrize(
    ("service", "connector", "port"), [("ingest", "rss", 6067), ("ingest-inbox", "folder", 6068)]
)
def test_ingest_services(compose: dict[str, Any], service: str, connector: str, port: int) -> None:
    svc = services(compose)[service]
    assert svc["image"] == services(compose)["worker"]["image"]
    command = svc["command"]
    assert command[:2] == ["ingest", connector]
    assert command[command.index("--metrics-port") + 1] == str(port)
    assert f"http://localhost:{port}/metrics" in " ".join(svc["healthcheck"]["test"])
    senv = env(svc)
    Settings.from_env(senv)  # every NEWSFLOW_ value parses
    assert senv["NEWSFLOW_BROKER"] == "kafka://kafka:9092"
    assert senv["NEWSFLOW_WEB_HOST"] == "0.0.0.0"
    assert svc["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    # Prometheus scrapes it.
    prom = load_yaml(ROOT / "deploy" / "prometheus" / "prometheus.yml")
    (job,) = [j for j in prom["scrape_configs"] if j["job_name"] == "newsflow-ingest"]
    assert f"{service}:{port}" in job["static_configs"][0]["targets"]


def test_ingest_feeds_file_is_mounted_and_loads(compose: dict[str, Any]) -> None:
    from streams.ingest.rss import load_feeds

    mounts = [v.split(":")[:2] for v in services(compose)["ingest"]["volumes"]]
    assert ["./deploy/ingest/feeds.yml", "/etc/newsflow/feeds.yml"] in mounts
    feeds = load_feeds(ROOT / "deploy" / "ingest" / "feeds.yml")
    assert feeds and all(f.url.startswith("https://") for f in feeds)


def test_kafka_image_matches_the_local_broker(compose: dict[str, Any]) -> None:
    if not POM.exists():
        pytest.skip(
            f"{POM.relative_to(ROOT)} does not exist yet: nothing to compare the image tag to"
        )
    for name in ("kafka", "topics"):
        image = services(compose)[name]["image"]
        assert image == f"apache/kafka:{pom_kafka_version(POM)}", name


def test_kafka_is_one_kraft_node_with_a_real_healthcheck(compose: dict[str, Any]) -> None:
    kafka = services(compose)["kafka"]
    kenv = env(kafka)
    assert kenv["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in kenv["KAFKA_ADVERTISED_LISTENERS"].split(",")
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
    ):
        assert kenv[key] == "1"
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_worker_runs_the_worker_subcommand(compose: dict[str, Any]) -> None:
    worker = services(compose)["worker"]
    assert worker["command"] == ["worker"]
    assert worker["build"] == "."
    assert worker["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "topics": {"condition": "service_completed_successfully"},
    }


@pytest.mark.parametrize("service", ["worker", "topics"])
def test_newsflow_env_keys_are_settings(compose: dict[str, Any], service: str) -> None:
    senv = env(services(compose)[service])
    known = set(DEFAULTS.as_env())
    unknown = {key for key in senv if key.startswith("NEWSFLOW_")} - known
    assert not unknown, f"not Settings fields: {sorted(unknown)}"
    # Every value parses and validates as its setting.
    Settings.from_env(senv)


def test_worker_env(compose: dict[str, Any]) -> None:
    worker = Settings.from_env(env(services(compose)["worker"]))
    assert worker.broker == "kafka://kafka:9092"
    assert (worker.web_host, worker.web_port, worker.data_dir) == (
        "0.0.0.0",
        DEFAULTS.web_port,
        "/data",
    )
    names = ["topic_raw", "topic_segmented", "topic_enriched", "topic_stories", "topic_dlq"]
    for name in [*names, "partitions", "dedup_partitions", "replication_factor"]:
        assert getattr(worker, name) == getattr(DEFAULTS, name), name
    assert f"http://localhost:{DEFAULTS.web_port}/metrics" in " ".join(worker_healthcheck(compose))


def worker_healthcheck(compose: dict[str, Any]) -> list[str]:
    return list(services(compose)["worker"]["healthcheck"]["test"])


def created_topics(compose: dict[str, Any]) -> dict[str, tuple[int, list[str]]]:
    """What the topics service creates: {name: (partitions, extra kafka-topics.sh args)}."""
    topics = services(compose)["topics"]
    variables = env(topics)
    script = "\n".join(topics["command"]).replace("$$", "$")  # compose's escape for a literal $

    def expand(word: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: variables[m.group(1)], word)

    created: dict[str, tuple[int, list[str]]] = {}
    for line in script.splitlines():
        if line.startswith("create "):
            name, partitions, *extra = (expand(w) for w in shlex.split(line)[1:])
            created[name] = (int(partitions), extra)
    return created


def test_topics_service_creates_the_settings_topics(compose: dict[str, Any]) -> None:
    topics = services(compose)["topics"]
    assert topics["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    script = "\n".join(topics["command"])
    assert "/opt/kafka/bin/kafka-topics.sh" in script
    assert "--create --if-not-exists" in script
    created = created_topics(compose)
    # The same topics, partitions and cleanup policies as `newsflow topics` creates locally.
    local = {spec.name: spec for spec in topic_specs(DEFAULTS)}
    assert {name: partitions for name, (partitions, _) in created.items()} == {
        name: spec.num_partitions for name, spec in local.items()
    }
    policy = local[DEFAULTS.topic_stories].topic_configs["cleanup.policy"]
    assert created[DEFAULTS.topic_stories][1] == ["--config", f"cleanup.policy={policy}"]
    # Topics and workers read the same names: one anchor, not two copies.
    topic_env = env(topics)
    worker_env = env(services(compose)["worker"])
    assert {k: v for k, v in worker_env.items() if k in topic_env} == topic_env


def scrape_ports(path: Path) -> list[int]:
    config = load_yaml(path)
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "newsflow"]
    assert job["metrics_path"] == "/metrics"
    assert job["scrape_interval"] == "5s"
    ports = [
        int(t.rsplit(":", 1)[1]) for sc in job.get("static_configs", []) for t in sc["targets"]
    ]
    ports += [int(sd["port"]) for sd in job.get("dns_sd_configs", [])]
    assert ports, f"{path}: the newsflow job has no target"
    return ports


def test_prometheus_scrapes_the_worker_port(compose: dict[str, Any]) -> None:
    prometheus = services(compose)["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus")
    mounts = [v.split(":")[:2] for v in prometheus["volumes"]]
    assert ["./deploy/prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml"] in mounts
    assert "127.0.0.1:9090:9090" in prometheus["ports"]
    prom = ROOT / "deploy" / "prometheus"
    assert scrape_ports(prom / "prometheus.yml") == [DEFAULTS.web_port]
    job = load_yaml(prom / "prometheus.yml")["scrape_configs"][0]
    assert job["dns_sd_configs"][0]["names"] == ["worker"]
    assert load_yaml(prom / "prometheus.local.yml")["scrape_configs"][0]["static_configs"] == [
        {"targets": [f"127.0.0.1:{DEFAULTS.web_port}"]}
    ]


def test_dockerfile_runs_newsflow_worker() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]

    def instruction(name: str) -> list[str]:
        return [line.split(None, 1)[1] for line in lines if line.startswith(name + " ")]

    assert instruction("FROM") == ["python:3.11-slim"]
    assert json.loads(instruction("ENTRYPOINT")[0]) == ["newsflow"]
    assert json.loads(instruction("CMD")[0]) == ["worker"]
    assert instruction("EXPOSE") == [str(DEFAULTS.web_port)]
    assert instruction("USER")
    assert instruction("USER")[0] not in {"root", "0"}
    run = " ".join(instruction("RUN"))
    assert "pip install -r requirements.lock" in run
    assert "pip install --no-deps ." in run
    assert f"{env_name('data_dir')}=/data" in " ".join(instruction("ENV"))
