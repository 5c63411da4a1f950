"""deploy/k8s: structure, agreement with the settings, and the Kubernetes schemas.

The built-in kinds are validated against the official Kubernetes JSON schemas when the
``kubernetes-validate`` package (PyPI; it ships the schemas, works offline) is importable;
``make k8s-validate`` installs it in a tool venv and runs it on the files. The KEDA
ScaledObject is a CRD the schemas do not cover: it is checked structurally here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
FILES = ["configmap.yaml", "deployment.yaml", "service.yaml", "scaledobject.yaml"]


def load(name: str) -> dict[str, Any]:
    (doc,) = list(yaml.safe_load_all((K8S / name).read_text()))
    assert isinstance(doc, dict)
    return doc


def test_kustomization_lists_every_manifest() -> None:
    kust = load("kustomization.yaml")
    assert sorted(kust["resources"]) == sorted(FILES)


def test_configmap_holds_valid_settings() -> None:
    data = load("configmap.yaml")["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    known = set(Settings().as_env())
    assert set(data) <= known, sorted(set(data) - known)
    settings = Settings.from_env(data)
    assert settings.web_host == "0.0.0.0"
    assert settings.data_dir == "/data"


def container(deploy: dict[str, Any]) -> dict[str, Any]:
    (c,) = deploy["spec"]["template"]["spec"]["containers"]
    assert isinstance(c, dict)
    return c


def test_deployment_probes_hit_metrics_on_the_web_port() -> None:
    deploy = load("deployment.yaml")
    settings = Settings.from_env(load("configmap.yaml")["data"])
    c = container(deploy)
    assert c["args"] == ["worker"]
    assert c["envFrom"] == [{"configMapRef": {"name": load("configmap.yaml")["metadata"]["name"]}}]
    (port,) = c["ports"]
    assert port["containerPort"] == settings.web_port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/metrics", "port": port["name"]}, probe
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert settings.data_dir in mounts
    selector = deploy["spec"]["selector"]["matchLabels"]
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()
    service = load("service.yaml")
    assert service["spec"]["selector"] == selector
    assert service["spec"]["ports"][0]["port"] == settings.web_port


def test_scaledobject_scales_the_worker_on_consumer_lag() -> None:
    so = load("scaledobject.yaml")
    deploy = load("deployment.yaml")
    settings = Settings.from_env(load("configmap.yaml")["data"])
    assert so["apiVersion"] == "keda.sh/v1alpha1" and so["kind"] == "ScaledObject"
    spec = so["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deploy["metadata"]["name"],
    }
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= settings.partitions
    assert spec["triggers"]
    topics = set()
    for trigger in spec["triggers"]:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert all(isinstance(v, str) for v in meta.values()), "KEDA metadata values are strings"
        assert meta["consumerGroup"] == settings.app_id
        assert meta["bootstrapServers"] == settings.bootstrap_servers
        assert int(meta["lagThreshold"]) > 0
        topics.add(meta["topic"])
    assert topics <= {settings.topic_raw, settings.topic_segmented, settings.topic_enriched}
    assert settings.topic_raw in topics


@pytest.mark.parametrize("name", [f for f in FILES if f != "scaledobject.yaml"])
def test_manifest_validates_against_the_kubernetes_schema(name: str) -> None:
    kv = pytest.importorskip(
        "kubernetes_validate",
        reason="kubernetes-validate (PyPI, ships the Kubernetes JSON schemas) is not installed;"
        " `make k8s-validate` runs it from a tool venv",
    )
    doc = load(name)
    kv.validate(doc, kv.latest_version(), strict=True)
