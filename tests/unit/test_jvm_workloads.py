"""The JVM catalogue: its entries, the driver arguments a JVM job gets, its jars (pure)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from profiler import jvm_build, workloads
from profiler.errors import UsageError
from profiler.runtime.interface import RunSpec, SecurityMode, Topology
from profiler.runtime.local import LocalBackend
from profiler.runtime.pod import PROPERTIES_FILE, PYTHON_RUNNER, plan_run


def test_the_catalogue_lists_java_jobs_run_from_the_images_jar() -> None:
    jobs = {w.name: w for w in workloads.catalogue() if w.kind is workloads.WorkloadKind.JAVA}
    assert set(jobs) == {
        "java_dataset_join",
        "java_disk_persist",
        "java_file_formats",
        "java_streaming_state",
    }
    join = jobs["java_dataset_join"]
    assert join.main_class == "sparkseccomp.workloads.JavaDatasetJoin"
    assert join.application == f"local://{workloads.JVM_JOBS_JAR}"
    assert join.in_catalogue and join.is_jvm
    assert join.description.startswith("The Dataset API from Java")
    assert all(w.description and "<p>" not in w.description for w in jobs.values())
    # Python jobs are untouched: no class of their own, their script mounted.
    rdd = workloads.resolve("rdd_python")
    assert rdd.kind is workloads.WorkloadKind.PYTHON and rdd.main_class is None
    assert not rdd.is_jvm


def test_what_each_java_job_exercises_is_in_its_source() -> None:
    sources = {w.name: w.path.read_text() for w in workloads.jvm_catalogue()}
    assert "broadcast(" in sources["java_dataset_join"]
    assert "SortMergeJoin" in sources["java_dataset_join"]
    assert "StorageLevel.DISK_ONLY()" in sources["java_disk_persist"]
    assert all(
        codec in sources["java_file_formats"]
        for codec in ('"snappy"', '"zstd"', '{"orc", "zstd"}', '{"csv", "gzip"}')
    )
    streaming = sources["java_streaming_state"]
    assert "Trigger.AvailableNow()" in streaming and "checkpointLocation" in streaming
    assert ".groupBy(" in streaming  # a stateful aggregation


def _driver_args(spec: RunSpec) -> tuple[str, ...]:
    return plan_run(spec, "abcdef123456").driver.args


def test_a_java_job_is_submitted_with_its_class_and_jar_as_the_operator_does() -> None:
    job = workloads.resolve("java_disk_persist")
    spec = RunSpec(job, SecurityMode.UNCONFINED, "img", topology=Topology.POD, app_args=("7",))
    assert _driver_args(spec) == (
        "driver",
        "--properties-file",
        PROPERTIES_FILE,
        "--class",
        "sparkseccomp.workloads.JavaDiskPersist",
        f"local://{workloads.JVM_JOBS_JAR}",
        "7",
    )


def test_the_run_specs_class_and_application_win_over_the_workloads() -> None:
    job = workloads.resolve("rdd_python")
    spec = RunSpec(
        job,
        SecurityMode.UNCONFINED,
        "img",
        topology=Topology.LOCAL,
        main_class="org.apache.spark.examples.SparkPi",
        application="local:///opt/spark/examples/jars/spark-examples.jar",
    )
    args = plan_run(spec, "abcdef123456").driver.args
    assert args[4:6] == (
        "org.apache.spark.examples.SparkPi",
        "local:///opt/spark/examples/jars/spark-examples.jar",
    )
    python = plan_run(
        RunSpec(job, SecurityMode.UNCONFINED, "img", topology=Topology.LOCAL), "abcdef123456"
    )
    assert python.driver.args[4:6] == (PYTHON_RUNNER, "local:///job/rdd_python.py")


def test_the_local_backend_refuses_a_jvm_job_with_a_hint() -> None:
    spec = RunSpec(workloads.resolve("java_dataset_join"), SecurityMode.UNCONFINED, "img")
    with pytest.raises(UsageError, match="JVM job") as info:
        LocalBackend().run(spec)
    assert "container engine" in info.value.diagnostics()


def test_a_jar_is_the_same_bytes_whenever_it_is_written(tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    (classes / "a" / "b").mkdir(parents=True)
    (classes / "a" / "b" / "Z.class").write_bytes(b"\xca\xfe\xba\xbe z")
    (classes / "a" / "A.class").write_bytes(b"\xca\xfe\xba\xbe a")
    (classes / "c").mkdir()
    (classes / "c" / "C.class").write_bytes(b"\xca\xfe\xba\xbe c")
    first, second = tmp_path / "1.jar", tmp_path / "2.jar"
    jvm_build.write_jar(first, classes, lambda name: name.startswith("a/"))
    (classes / "a" / "A.class").touch()  # a newer mtime changes nothing
    jvm_build.write_jar(second, classes, lambda name: name.startswith("a/"))
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as jar:
        assert jar.namelist() == ["META-INF/MANIFEST.MF", "a/A.class", "a/b/Z.class"]


def test_the_recipe_digest_follows_the_java_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    from profiler.image import ImageRecipe, recipe_digest

    recipe = ImageRecipe.of("3.5.9")
    before = recipe_digest(recipe)
    monkeypatch.setattr(jvm_build, "sources_digest", lambda: b"other sources")
    assert recipe_digest(recipe) != before
    assert ImageRecipe.of("3.5.9").scala == "2.12" and ImageRecipe.of("4.3.0").scala == "2.13"


def test_the_examples_jar_is_where_the_operators_first_example_looks() -> None:
    import yaml

    example = Path(__file__).parents[1] / "fixtures" / "k8s" / "operator-examples" / "spark-pi.yaml"
    spec = yaml.safe_load(example.read_text())["spec"]
    assert spec["mainApplicationFile"] == f"local://{workloads.EXAMPLES_JAR}"
    assert spec["mainClass"].startswith(workloads.EXAMPLES_PACKAGE + ".")
    assert Path(workloads.EXAMPLES_JAR).name == jvm_build.EXAMPLES_JAR_NAME
