"""JVM applications for real: the catalogue's jars compiled on this machine's JDK, and a Java
catalogue job in pod shape under every mode, with a profile recorded from it."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from profiler import jvm_build
from profiler.image import ImageRecipe
from profiler.paths import cache_dir
from tests.conftest import missing
from tests.integration.conftest import cli

JAVA_JOB = "java_dataset_join"


def _cached_wheel(version: str) -> Path:
    wheels = sorted(cache_dir().glob(f"wheels-{version}-cp*/pyspark-{version}-*.whl"))
    if not wheels:
        missing(f"no cached pyspark {version} wheel (run `spark-seccomp image build`)")
    return wheels[0]


def test_the_jvm_jars_compile_against_the_images_spark_to_the_same_bytes(tmp_path: Path) -> None:
    if shutil.which("javac") is None:
        missing("javac is not installed (scripts/bootstrap.sh installs openjdk-17-jdk-headless)")
    recipe = ImageRecipe.of("3.5.9")
    wheel = _cached_wheel(recipe.spark_version)
    first, scala = jvm_build.compile_jars(wheel, tmp_path / "a")
    second, _ = jvm_build.compile_jars(wheel, tmp_path / "b")
    assert scala == recipe.scala
    assert first.workloads.read_bytes() == second.workloads.read_bytes()
    assert first.examples.read_bytes() == second.examples.read_bytes()
    with zipfile.ZipFile(first.examples) as jar:
        assert "org/apache/spark/examples/SparkPi.class" in jar.namelist()
    with zipfile.ZipFile(first.workloads) as jar:
        names = jar.namelist()
    assert "sparkseccomp/workloads/JavaStreamingState.class" in names
    assert not any(name.startswith("org/") for name in names)


def test_a_java_job_passes_every_mode_in_pod_shape_under_its_own_profile(
    spark_image: str, tmp_path: Path
) -> None:
    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        missing("recording needs root and bpftrace")
    profile = tmp_path / "java.json"
    code = cli(
        "record",
        JAVA_JOB,
        "--runs",
        "1",
        "--image",
        spark_image,
        "--out",
        str(profile),
        "--run-dir",
        str(tmp_path / "record"),
        "--timeout",
        "300",
        # The host alone: this test is about the Java job; verifying on the newest node,
        # with the runtime probe that makes that pass, is test_nodes.py's.
        "--verify-node",
        "host",
    )
    assert code == 0
    for role in ("driver", "executor"):
        assert (tmp_path / f"java.{role}.json").is_file()
    # record verified the per-role profiles (a Localhost run in pod shape, with the
    # recorded run's result); the check adds the other two modes.
    out = tmp_path / "check.json"
    code = cli(
        "check",
        JAVA_JOB,
        "--modes",
        "unconfined,runtime-default",
        "--image",
        spark_image,
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "check"),
        "--timeout",
        "300",
        "--no-diagnose",
    )
    data = json.loads(out.read_text())
    assert code == 0, data
    assert data["topology"] == "pod"
    assert [c["verdict"] for c in data["cells"]] == ["pass", "pass"]
    verified = list((tmp_path / "record").rglob("verify/*/localhost-1/run.json"))
    assert verified, "record did not verify the profile in pod shape"
    for run in verified:
        roles = [c["role"] for c in json.loads(run.read_text())["containers"]]
        assert roles[:2] == ["driver", "executor"], roles
        # each role under its own profile
        assert (run.parent / "profile.driver.json").is_file()
        assert (run.parent / "profile.executor.json").is_file()
