"""Spark 4 beside Spark 3.5: the tool's 4.x image runs in pod shape under every mode with
its reference profile, side by side with 3.5 in one check, and a SparkApplication written
for 4.x runs its pods on the image the tool builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from profiler.image import DEFAULT_SPARK_VERSION, SPARK4_VERSION, default_tag
from profiler.paths import data_dir
from tests.integration.conftest import run_captured as run

WORKLOAD = "rdd_python"


@pytest.fixture(scope="module")
def spark4_image(docker_client: Any) -> str:
    tag = default_tag(SPARK4_VERSION)
    try:
        docker_client.images.get(tag)
    except Exception:  # noqa: BLE001
        from tests.conftest import missing

        missing(f"image {tag} is missing (run `make image`)")
    return tag


def test_both_lines_pass_every_mode_with_their_reference_profiles(
    spark_image: str, spark4_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = data_dir("profiles")
    references = [
        profiles / f"spark-{v}-amd64.json" for v in (DEFAULT_SPARK_VERSION, SPARK4_VERSION)
    ]
    out = tmp_path / "matrix.json"
    code, stdout, stderr = run(
        [
            "check",
            WORKLOAD,
            "--spark-version",
            f"{DEFAULT_SPARK_VERSION},{SPARK4_VERSION}",
            "--modes",
            "unconfined,runtime-default,localhost",
            "--profile",
            ",".join(str(p) for p in references),
            "--json",
            str(out),
            "--run-dir",
            str(tmp_path / "runs"),
            "--timeout",
            "300",
        ],
        capsys,
    )
    assert code == 0, stdout + stderr
    matrix = json.loads(out.read_text())["matrix"]
    assert [m["image"] for m in matrix] == [spark_image, spark4_image]
    assert all(c["verdict"] == "pass" for m in matrix for c in m["cells"])
    # Each image ran in pod shape with its own run folders.
    for image in (spark_image, spark4_image):
        slug = image.replace("/", "-").replace(":", "-")
        assert (tmp_path / "runs" / slug / "check.json").is_file()
    run_json = next((tmp_path / "runs").rglob(f"{WORKLOAD}/localhost-1/run.json"))
    assert [c["role"] for c in json.loads(run_json.read_text())["containers"]][:2] == [
        "driver",
        "executor",
    ]


def test_a_sparkapplication_for_spark4_runs_on_the_tools_4x_image(
    spark4_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "app.yaml"
    code, _, err = run(
        [
            "k8s",
            "sparkapp",
            "--main",
            "local:///opt/spark/examples/src/main/python/pi.py",
            "--spark-version",
            SPARK4_VERSION,
            "--seccomp",
            "runtime-default",
            "--out",
            str(manifest),
        ],
        capsys,
    )
    assert code == 0, err
    spec = yaml.safe_load(manifest.read_text())["spec"]
    assert spec["sparkVersion"] == SPARK4_VERSION and spec["image"] == spark4_image
    code, out, err = run(
        ["k8s", "dry-run", str(manifest), "--run-dir", str(tmp_path / "runs"), "--timeout", "300"],
        capsys,
    )
    assert code == 0, out + err
    (driver_out,) = (tmp_path / "runs").rglob("stdout.txt")
    assert "Pi is roughly" in driver_out.read_text()
