"""SparkApplications as they are: a JVM application whose jar the image lacks fails early with
the driver's own error."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.integration.conftest import run_captured

APPS = Path(__file__).parents[1] / "fixtures" / "k8s" / "apps"


def test_a_jar_missing_from_the_image_fails_with_the_drivers_error_before_any_pod(
    spark_image: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "dry-run.json"
    started = time.monotonic()
    code, stdout, _ = run_captured(
        [
            "k8s",
            "dry-run",
            str(APPS / "spark-pi-missing-jar.yaml"),
            "--image",
            spark_image,
            "--json",
            str(out),
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capsys,
    )
    elapsed = time.monotonic() - started
    assert code == 1
    text = " ".join(stdout.split())
    assert (
        "driver: exit 101: Error: Failed to load class org.apache.spark.examples.SparkPi." in text
    )
    assert "executor: not started: the driver failed first" in text
    [app] = json.loads(out.read_text())["applications"]
    assert [o["started"] for o in app["outcomes"]] == [False, False]
    # two one-off containers, no pod network, master or executor: seconds, not minutes
    assert elapsed < 90, elapsed
