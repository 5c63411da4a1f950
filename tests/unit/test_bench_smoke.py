"""The benchmark in its smoke mode: every section runs end to end on tiny sizes.

Not a performance test (no figure is checked against a target here): it proves that
``newsflow bench`` still runs (broker, workers, baselines, profile, memory run) and prints its
table, and that it leaves no process behind. Needs Java for the local broker, like the
integration tests; the broker gets its own free port and state dir.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.pipeline_bench import free_port_pair

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared/data/l3s-gn1-dev.jsonl.gz"


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes whose command line or environment contains ``text``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline or text.encode() in environ:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_bench_smoke(tmp_path: Path) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the benchmark's broker needs Java 17+")
    if not DATA.is_file():
        pytest.skip(f"benchmark stories not found: {DATA}")
    pytest.importorskip("datasketch", reason="the baseline script needs datasketch")
    out_json = tmp_path / "bench.json"
    out_md = tmp_path / "bench.md"
    proc = subprocess.run(
        [
            sys.executable, "-m", "bench.pipeline_bench", "--smoke",
            "--kafka-port", str(free_port_pair()),
            "--workdir", str(tmp_path / "work"),
            "--json", str(out_json), "--markdown", str(out_md),
        ],
        cwd=REPO, capture_output=True, text=True, timeout=1400, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-5000:]
    result = json.loads(out_json.read_text())
    measures = [row["measure"] for row in result["rows"]]
    for expected in (
        "Framework tax",
        "Pipeline / per-message script (html)",
        "Pipeline / per-message script (text)",
        "Stream overhead",
        "Latency",
        "Scaling",
        "Per stage, worker histogram",
        "Per stage, direct timing",
        "Profile",
        "Memory",
    ):
        assert any(m.startswith(expected) for m in measures), (expected, measures)
    assert "| measure" in proc.stdout
    assert out_md.read_text().startswith("| measure")
    # the broker, the workers and the baselines were all stopped
    assert _processes_mentioning(str(tmp_path / "work")) == []
