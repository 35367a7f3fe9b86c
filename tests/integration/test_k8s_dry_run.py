"""`k8s dry-run` on the real engine: a SparkApplication run as its pods would run it.

The manifests are shaped like the Spark Operator's Python example (its image replaced by
this tool's, which the engine has; the example's apache/spark image cannot be pulled here).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from profiler.image import DEFAULT_SPARK_VERSION
from tests.integration.conftest import run_captured as run

FIXTURES = Path(__file__).parents[1] / "fixtures"
WORKLOAD = "rdd_python"
PI = "local:///opt/spark/examples/src/main/python/pi.py"


def flat(text: str) -> str:
    return " ".join(text.split())


def python_example(image: str, **executor: Any) -> dict[str, Any]:
    """The operator's spark-pi-python: CRD securityContext fields, RuntimeDefault, no template."""
    context = {
        "capabilities": {"drop": ["ALL"]},
        "runAsGroup": 185,
        "runAsUser": 185,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "spark-pi-python", "namespace": "default"},
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "mainApplicationFile": PI,
            "sparkVersion": DEFAULT_SPARK_VERSION,
            "driver": {
                "cores": 1,
                "memory": "512m",
                "serviceAccount": "spark-operator-spark",
                "securityContext": context,
            },
            "executor": {
                "instances": 1,
                "cores": 1,
                "memory": "512m",
                "securityContext": context,
                **executor,
            },
        },
    }


def dry_run(
    manifest: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    out = tmp_path / "dry-run.json"
    args = ["k8s", "dry-run", str(path), "--json", str(out), "--run-dir", str(tmp_path / "runs")]
    code, stdout, stderr = run([*args, "--timeout", "300", *extra], capsys)
    data = json.loads(out.read_text())
    (app,) = data["applications"]
    return code, app, stdout + stderr


def test_the_operators_python_example_passes_with_no_other_option(
    spark_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, app, output = dry_run(python_example(spark_image), tmp_path, capsys)
    assert code == 0, output
    outcomes = {o["role"]: o for o in app["outcomes"]}
    assert outcomes["driver"]["verdict"] == "pass"
    assert outcomes["executor"]["verdict"] == "pass" and outcomes["executor"]["started"]
    assert outcomes["driver"]["seccomp"] == "RuntimeDefault"
    assert (
        "drop ALL" in outcomes["driver"]["security"] and "(crd)" in outcomes["driver"]["security"]
    )
    # pi.py ran from inside the image, in the driver pod, with its tasks in the executor pod.
    (driver_out,) = (tmp_path / "runs").rglob("stdout.txt")
    assert "Pi is roughly" in driver_out.read_text()
    run_json = json.loads(next((tmp_path / "runs").rglob("run.json")).read_text())
    assert [c["role"] for c in run_json["containers"]] == ["driver", "executor"]
    assert f"image: {spark_image} (manifest)" in flat(output)


def test_the_manifests_arguments_reach_the_job(
    spark_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = python_example(spark_image)
    manifest["spec"]["arguments"] = ["0"]  # pi.py's SLICES: not a positive number
    code, app, output = dry_run(manifest, tmp_path, capsys, "--no-diagnose")
    assert code == 1, output
    driver = next(o for o in app["outcomes"] if o["role"] == "driver")
    assert driver["verdict"] == "fail"
    assert "SLICES must be a positive number, not 0" in driver["error"], driver


def test_an_executor_given_too_little_memory_is_an_oom_verdict(
    spark_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """512 MiB of heap with a 16 MiB overhead: the executor pod's limit (528 MiB) leaves no
    room for a task's 400 MB of Python data, and the kernel kills it at the limit. The job
    is a file on this machine (mainApplicationFile as a path), not pi.py: pi needs none."""
    manifest = python_example(spark_image, memoryOverhead="16m")
    manifest["spec"]["mainApplicationFile"] = str(FIXTURES / "scripts" / "memory_hungry.py")
    code, app, output = dry_run(manifest, tmp_path, capsys, "--no-diagnose")
    assert code == 1, output
    executor = next(o for o in app["outcomes"] if o["role"] == "executor")
    assert executor["verdict"] == "oom", executor
    assert "OOMKilled" in executor["error"]


def test_generated_manifest_lints_clean_runs_and_fails_without_its_profile(
    pod_profiles: Path, spark_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    union = pod_profiles / "p.json"
    manifest = tmp_path / "app.yaml"
    code, _, err = run(
        [
            "k8s",
            "sparkapp",
            "--main",
            f"local:///opt/app/{WORKLOAD}.py",
            "--image",
            spark_image,
            "--profile",
            str(union),
            "--executors",
            "2",
            "--out",
            str(manifest),
        ],
        capsys,
    )
    assert code == 0, err
    text = manifest.read_text()
    # each role gets the profile recorded for it
    assert "localhostProfile: spark-seccomp/p.driver.json" in text
    assert "localhostProfile: spark-seccomp/p.executor.json" in text

    # The directory plays <kubelet-root>/seccomp, laid out as `k8s install` lays out a node.
    seccomp_root = tmp_path / "seccomp" / "spark-seccomp"
    seccomp_root.mkdir(parents=True)
    for role in ("driver", "executor"):
        shutil.copy(pod_profiles / f"p.{role}.json", seccomp_root)

    code, out, err = run(
        ["k8s", "lint", str(manifest), "--profiles", str(seccomp_root.parent)], capsys
    )
    assert code == 0, out
    assert "0 finding(s)" in err

    command = ["k8s", "dry-run", str(manifest), "--profiles", str(seccomp_root.parent)]
    command += ["--workload", WORKLOAD, "--timeout", "300"]
    code, out, err = run([*command, "--run-dir", str(tmp_path / "runs")], capsys)
    assert code == 0, out + err
    rows = [line for line in out.splitlines() if "driver" in line or "executor" in line]
    assert any("pass" in line and "185:185" in line for line in rows), out

    (seccomp_root / "p.executor.json").unlink()
    code, out, err = run([*command, "--run-dir", str(tmp_path / "runs-missing")], capsys)
    assert code == 1, out + err
    missing = seccomp_root / "p.executor.json"
    assert (
        f'executor: CreateContainerError: cannot load seccomp profile "{missing}": '
        f"open {missing}: no such file or directory"
    ) in flat(out)
    assert not (tmp_path / "runs-missing").exists()  # no container was started
