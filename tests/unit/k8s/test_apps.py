"""SparkApplication manifests as workloads: named <namespace>/<name>, run as the manifest
shapes them, with the seccomp setting left to the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.k8s.apps import is_manifest, manifest_workloads, without_seccomp
from profiler.workloads import WorkloadKind

FIXTURES = Path(__file__).parents[2] / "fixtures" / "k8s"
APPS = FIXTURES / "apps"


def test_a_java_manifest_is_a_workload_with_its_class_arguments_and_conf() -> None:
    (found,) = manifest_workloads([APPS / "orders-java.yaml"], max_executors=2)
    job, run = found.workload, found.template
    assert job.name == "analytics/orders" and job.kind is WorkloadKind.JAVA
    assert job.main_class == "sparkseccomp.workloads.JavaDatasetJoin"
    assert run.application == "local:///opt/spark-seccomp/jars/spark-seccomp-workloads.jar"
    assert run.app_args == ("100000",)
    assert ("spark.sql.shuffle.partitions", "4") in run.spark_conf
    assert run.image == "spark-seccomp/spark:3.5.9" and run.executors == 1
    # the command decides each role's seccomp mode
    assert run.driver.mode is None and run.executor.mode is None
    assert run.driver.memory == "512m" and run.driver.memory_limit == f"{896 * 1024 * 1024}b"


def test_image_and_executor_cap_come_from_the_command() -> None:
    scheduled = FIXTURES / "operator-examples" / "spark-pi-scheduled.yaml"
    (found,) = manifest_workloads([scheduled], image="mine:1", max_executors=1)
    assert found.template.image == "mine:1"
    assert found.template.executors <= 1
    assert found.workload.name == "default/spark-pi-scheduled"


def test_a_localhost_profile_in_the_manifest_needs_no_profile_directory() -> None:
    localhost = FIXTURES / "seccomp-profile-not-found.yaml"
    (found,) = manifest_workloads([localhost])
    assert found.template.driver.profile_json is None


def test_without_seccomp_takes_out_every_roles_setting_and_copies() -> None:
    manifest = {
        "kind": "SparkApplication",
        "spec": {
            "driver": {
                "securityContext": {"seccompProfile": {"type": "Unconfined"}, "runAsUser": 185},
                "template": {
                    "spec": {
                        "securityContext": {"seccompProfile": {"type": "Localhost"}},
                        "containers": [{"securityContext": {"seccompProfile": {}}}],
                    }
                },
            }
        },
    }
    stripped = without_seccomp(manifest)
    assert stripped["spec"]["driver"]["securityContext"] == {"runAsUser": 185}
    assert "seccompProfile" in manifest["spec"]["driver"]["securityContext"]  # a copy
    template = stripped["spec"]["driver"]["template"]["spec"]
    assert template["securityContext"] == {} and template["containers"][0]["securityContext"] == {}


def test_what_a_manifest_reaches_outside_is_in_its_notes(tmp_path: Path) -> None:
    text = (
        (APPS / "orders-java.yaml")
        .read_text()
        .replace('  - "100000"\n', '  - "100000"\n  - "jdbc:postgresql://db.internal:5432/sales"\n')
        .replace(
            '    spark.sql.shuffle.partitions: "4"\n',
            '    spark.sql.shuffle.partitions: "4"\n    spark.jars.packages: org.x:y:1\n',
        )
    )
    manifest = tmp_path / "app.yaml"
    manifest.write_text(text)
    (found,) = manifest_workloads([manifest])
    joined = "\n".join(found.notes)
    assert "database jdbc:postgresql://db.internal:5432/sales" in joined
    assert "pass --egress" in joined
    assert "Maven coordinates org.x:y:1" in joined and "not emulated" in joined
    (with_egress,) = manifest_workloads([manifest], egress=True)
    assert "reached through --egress" in "\n".join(with_egress.notes)


def test_files_without_applications_and_names_twice_are_usage_errors(tmp_path: Path) -> None:
    assert is_manifest("app.yaml") and is_manifest("x/APP.YML") and not is_manifest("job.py")
    with pytest.raises(UsageError, match="no SparkApplication"):
        manifest_workloads([FIXTURES / "clean.yaml"])
    with pytest.raises(UsageError, match="also in"):
        manifest_workloads([APPS / "orders-java.yaml", APPS / "orders-java.yaml"])


def test_a_script_takes_spark_submits_options_and_manifests_their_own(tmp_path: Path) -> None:
    from profiler.k8s.apps import ScriptSubmission, parse_conf, resolve_jobs

    lib = tmp_path / "lib.zip"
    lib.write_bytes(b"PK")
    script = FIXTURES.parent / "scripts" / "tiny_job.py"
    jobs = resolve_jobs(
        [str(script), str(APPS / "orders-java.yaml")],
        script=ScriptSubmission(
            arguments=("2024-01-01", "--full"),
            py_files=(lib,),
            conf=parse_conf(["spark.sql.shuffle.partitions=8"]),
        ),
        max_executors=2,
    )
    assert [w.name for w in jobs.workloads] == ["tiny_job", "analytics/orders"]
    own, manifest = jobs.submissions
    assert own.workload == "tiny_job" and own.app_args == ("2024-01-01", "--full")
    conf = dict(own.spark_conf)
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.submit.pyFiles"] == "local:///opt/spark-seccomp/deps/py_files-0-lib.zip"
    assert own.mounts[0].source == str(lib.resolve()) and own.mounts[0].read_only
    assert manifest.run is not None and manifest.run.app_args == ("100000",)
    assert not manifest.follows_image


def test_script_options_need_exactly_one_script(tmp_path: Path) -> None:
    from profiler.k8s.apps import ScriptSubmission, parse_conf, resolve_jobs

    with pytest.raises(UsageError, match="belong to one script or jar"):
        resolve_jobs(["rdd_python", "sql_aggregation"], script=ScriptSubmission(arguments=("1",)))
    with pytest.raises(UsageError, match="not key=value"):
        parse_conf(["nokey"])
    with pytest.raises(UsageError, match="--jars .* does not exist"):
        resolve_jobs(["rdd_python"], script=ScriptSubmission(jars=(tmp_path / "no.jar",)))


def test_a_manifests_run_follows_the_shape_but_keeps_its_own_settings() -> None:
    from profiler.k8s.apps import resolve_jobs
    from profiler.runtime.interface import SecurityMode, Topology
    from profiler.runtime.run_shape import RunShape

    jobs = resolve_jobs([str(APPS / "orders-java.yaml")], max_executors=2)
    shape = RunShape("other:1", executors=2, egress=True, submissions=jobs.submissions)
    spec = shape.spec(jobs.workloads[0], SecurityMode.RUNTIME_DEFAULT, timeout_seconds=60)
    assert spec.image == "spark-seccomp/spark:3.5.9" and spec.executors == 1
    assert spec.mode is SecurityMode.RUNTIME_DEFAULT and spec.timeout_seconds == 60
    assert spec.egress and spec.topology is Topology.POD
    assert spec.app_args == ("100000",)
    # --image given: the manifest's run follows the command's images
    followed = resolve_jobs([str(APPS / "orders-java.yaml")], image="mine:2")
    matrix = RunShape("mine:2", submissions=followed.submissions).with_image("mine:3")
    moved = matrix.spec(followed.workloads[0], SecurityMode.UNCONFINED, timeout_seconds=1)
    assert moved.image == "mine:3" and moved.executor.image == "mine:3"
