"""dry-run planning: a SparkApplication read as it is, no engine involved."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.k8s import dry_run
from profiler.k8s.app_files import InImage, Remote
from profiler.k8s.container_env import EnvVar
from profiler.k8s.operator import operator_for
from profiler.k8s.plan import AppPlan, plan_files
from profiler.k8s.volumes import PlannedVolume
from tests.fakes import FakeBackend

from .conftest import K8S_FIXTURES, PROFILE

EXAMPLES = K8S_FIXTURES / "operator-examples"
PLANS = K8S_FIXTURES / "plan"
MIB = 1024 * 1024


@pytest.fixture
def seccomp_root(tmp_path: Path) -> Path:
    root = tmp_path / "seccomp"
    (root / "spark-seccomp").mkdir(parents=True)
    for role in ("driver", "executor"):
        (root / "spark-seccomp" / f"{role}.json").write_text(json.dumps(PROFILE))
    return root


def one(path: Path, **kwargs) -> AppPlan:
    [plan] = plan_files([path], **kwargs)
    return plan


def test_operator_python_example_plans_without_profiles():
    plan = one(EXAMPLES / "spark-pi-python.yaml")
    assert plan.label == "default/spark-pi-python"
    assert plan.main == InImage("/opt/spark/examples/src/main/python/pi.py")
    assert (plan.app_type, plan.spark_version, plan.executor_instances) == ("Python", "4.0.4", 1)
    for role in plan.roles:
        assert role.can_start
        assert role.image == "docker.io/apache/spark:4.0.4"
        assert role.seccomp.type == "RuntimeDefault" and role.seccomp.profile_json is None
        assert role.container_context_source == "crd"
        security = role.security
        assert (security.user, security.group, security.cap_drop) == (185, 185, ("ALL",))
        assert security.no_new_privileges and not security.read_only_root
        # Python: max(0.4 x 512, 384) = 384 MiB overhead on top of 512 MiB.
        assert role.memory.overhead_factor == 0.4 and role.memory_limit_bytes == 896 * MIB
        assert role.cpu.cores == 1 and role.cpu.limit is None
        # Spark's own local dir, an emptyDir, and SPARK_LOCAL_DIRS pointing at it.
        assert [m.origin for m in role.mounts] == ["spark"]
        assert EnvVar("SPARK_LOCAL_DIRS", "/var/data/spark-local-dir-1", "spark") in role.env
    assert plan.spark_conf["spark.kubernetes.authenticate.driver.serviceAccountName"] == (
        "spark-operator-spark"
    )
    assert plan.spark_conf["spark.kubernetes.pyspark.pythonVersion"] == "3"


def test_every_part_of_the_manifest_reaches_the_plan(seccomp_root):
    plan = one(PLANS / "full.yaml", profiles_dir=seccomp_root, max_executors=2)
    assert plan.arguments == ("--date", "2026-01-01")
    conf = plan.spark_conf
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert conf["spark.driver.cores"] == "1"  # the CRD's cores come after sparkConf
    assert conf["spark.kubernetes.driver.limit.cores"] == "1500m"
    assert conf["spark.executor.instances"] == "3"
    assert conf["spark.kubernetes.driverEnv.FROM_ENVVARS"] == "1"
    assert conf["spark.kubernetes.executor.label.team"] == "data"
    assert list(conf) == sorted(conf)
    assert plan.executor_instances == 3 and plan.executor.instances == 2
    assert [(d.kind, type(d.location)) for d in plan.deps] == [
        ("jars", InImage),
        ("jars", Remote),
        ("pyFiles", InImage),
    ]
    assert any("s3a://bucket/remote.jar" in n for n in plan.not_emulated)
    assert any("deps.packages" in n for n in plan.not_emulated)

    driver, executor = plan.roles
    assert driver.memory.heap_mib == 2048 and driver.memory.overhead_mib == 600
    assert driver.memory_limit_bytes == 2648 * MIB
    assert driver.cpu.limit_cores == 1.5
    # 4096 + int(0.2 x 4096) + 256 (spark.executor.pyspark.memory, Python only)
    assert executor.memory.overhead_mib == 819 and executor.memory.pyspark_mib == 256
    assert executor.memory_limit_bytes == (4096 + 819 + 256) * MIB
    assert executor.cpu.cores == 2

    env = {e.name: (e.value, e.origin) for e in driver.env}
    assert env["MODE"] == ("crd", "crd")  # the webhook appends the CRD env last
    assert env["ONLY_TEMPLATE"] == ("yes", "template")
    assert env["FROM_ENVVARS"] == ("1", "spark-conf")
    assert "TOKEN" not in env and any("TOKEN" in n for n in driver.not_emulated)

    mounts = {m.mount_path: m for m in driver.mounts}
    assert mounts["/tmp"] == PlannedVolume(
        "tmp", "emptyDir", "/tmp", size_limit_bytes=512 * MIB, medium="Memory", origin="template"
    )
    assert mounts["/data"].kind == "hostPath" and mounts["/data"].host_path == "/srv/data"
    assert mounts["/data"].read_only
    assert mounts["/scratch"].origin == "crd"
    assert "/etc/app" not in mounts
    assert any("configMap volume 'conf'" in n for n in driver.not_emulated)
    assert any("'sidecar' is not run" in n for n in driver.not_emulated)
    assert set(driver.security.writable_paths) == {
        "/tmp",
        "/scratch",
        "/var/data/spark-local-dir-1",
    }
    assert driver.security.read_only_root and driver.pod_context_source == "template"

    assert executor.seccomp.type == "Localhost"
    assert (
        executor.seccomp.profile_json == (seccomp_root / "spark-seccomp/executor.json").read_text()
    )
    assert executor.pod_context_source == "crd"


def test_a_localhost_profile_needs_profiles_and_only_then(seccomp_root):
    with pytest.raises(UsageError) as info:
        one(PLANS / "full.yaml")
    message = info.value.message
    assert f"{PLANS / 'full.yaml'}:" in message and "podSecurityContext.seccompProfile" in message
    assert "--profiles" in (info.value.hint or "")


def test_a_missing_localhost_profile_is_the_kubelets_error_and_nothing_runs(seccomp_root):
    first, second = plan_files([PLANS / "two-apps.yaml"], profiles_dir=seccomp_root)
    assert first.runnable and (first.name, second.name) == ("first", "second")
    assert second.driver.can_start
    cannot = second.executor.cannot_start
    assert cannot is not None and cannot.reason == "CreateContainerError"
    assert "spark-seccomp/missing.json: no such file or directory" in cannot.message
    assert second.executor.image == "spark-seccomp/spark-executor:3.5.7"

    backend_made = []
    reports = dry_run.run_plans(
        [replace(second, driver=second.executor)],
        lambda: backend_made.append(1) or FakeBackend(lambda s: (0, False, "x", "")),
        workload="rdd_python",
    )
    assert backend_made == []  # no role could start: no engine was even asked for
    assert [o.started for o in reports[0].outcomes] == [False, False]


def test_a_scheduled_application_plans_its_template():
    plan = one(EXAMPLES / "spark-pi-scheduled.yaml")
    assert plan.kind == "ScheduledSparkApplication"
    assert plan.main_class == "org.apache.spark.examples.SparkPi"
    assert plan.driver.memory.overhead_factor == 0.1  # Scala: the JVM factor
    assert any("schedule '@every 3m'" in n for n in plan.notes)


def test_operator_releases_change_the_plan():
    new = one(EXAMPLES / "spark-pi-pod-template.yaml")
    assert new.driver.pod_context_source == "template"
    old = one(EXAMPLES / "spark-pi-pod-template.yaml", operator=operator_for("2.0.2"))
    assert old.driver.pod_context_source == "none"
    assert old.driver.seccomp.label == "Unconfined (not set)"
    assert any("has no template field" in n for n in old.notes)


def test_a_template_with_spark_2_is_rejected_before_any_pod(tmp_path):
    text = (EXAMPLES / "spark-pi-pod-template.yaml").read_text()
    path = tmp_path / "old.yaml"
    path.write_text(text.replace("sparkVersion: 4.0.4", "sparkVersion: 2.4.8"))
    plan = one(path)
    assert all(r.cannot_start and r.cannot_start.reason == "Invalid" for r in plan.roles)


@pytest.mark.parametrize(
    ("spark", "conf", "executor_overhead"),
    [
        ("3.2.4", {}, 409),  # int(0.4 x 1024): Python's default factor
        ("3.2.4", {"spark.executor.memoryOverheadFactor": "0.1"}, 409),  # unknown before 3.3
        ("3.5.7", {"spark.executor.memoryOverheadFactor": "0.1"}, 384),  # the 384 MiB floor
        ("3.5.7", {"spark.kubernetes.memoryOverheadFactor": "0.5"}, 512),
        ("3.5.7", {"spark.executor.minMemoryOverhead": "1g"}, 409),  # a 4.0 setting
        ("4.0.1", {"spark.executor.minMemoryOverhead": "1g"}, 1024),
    ],
)
def test_memory_overhead_as_each_spark_version_computes_it(
    tmp_path, spark, conf, executor_overhead
):
    doc = {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "m"},
        "spec": {
            "type": "Python",
            "sparkVersion": spark,
            "image": "i",
            "mainApplicationFile": "local:///a.py",
            "sparkConf": conf,
            "driver": {},
            "executor": {"memory": "1g"},
        },
    }
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps(doc))
    assert one(path).executor.memory.overhead_mib == executor_overhead


def test_memory_limit_replaces_sparks_from_operator_2_2(tmp_path):
    text = (
        (EXAMPLES / "spark-pi-python.yaml")
        .read_text()
        .replace(
            "    memory: 512m\n    serviceAccount",
            "    memory: 512m\n    memoryLimit: 2g\n    serviceAccount",
        )
    )
    path = tmp_path / "limit.yaml"
    path.write_text(text)
    assert one(path).driver.memory_limit_bytes == 2048 * MIB
    old = one(path, operator=operator_for("2.1.1"))
    assert old.driver.memory_limit_bytes == 896 * MIB
    assert any("memoryLimit 2g is not applied" in n for n in old.driver.notes)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "memory: 512m\n    serviceAccount",
            "memory: 512 MB\n    serviceAccount",
            "'512 MB' is not",
        ),
        (
            "runAsUser: 185\n      runAsNonRoot",
            'runAsUser: "185"\n      runAsNonRoot',
            "must be an integer",
        ),
        (
            "  sparkVersion: 4.0.4\n",
            "  sparkVersion: 4.0.4\n  sparkVersion: 4.0.5\n",
            "written twice",
        ),
        ("  image: docker.io/apache/spark:4.0.4\n", "", "no image for the driver"),
    ],
)
def test_bad_manifests_are_one_line_usage_errors(tmp_path, old, new, message):
    text = (EXAMPLES / "spark-pi-python.yaml").read_text()
    assert old in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(UsageError, match=message) as info:
        plan_files([path])
    assert str(path) in info.value.message
    assert "\n" not in info.value.diagnostics()


def test_no_application_and_duplicate_names(tmp_path):
    with pytest.raises(UsageError, match="no SparkApplication"):
        plan_files([K8S_FIXTURES / "privileged.yaml"])
    with pytest.raises(UsageError, match="also in"):
        plan_files([EXAMPLES / "spark-pi-python.yaml", EXAMPLES / "spark-pi-python.yaml"])


def test_the_plan_is_deterministic(seccomp_root):
    first = plan_files([PLANS / "full.yaml", PLANS / "two-apps.yaml"], profiles_dir=seccomp_root)
    second = plan_files([PLANS / "full.yaml", PLANS / "two-apps.yaml"], profiles_dir=seccomp_root)
    assert first == second
    assert dry_run.reports_to_json(first, None) == dry_run.reports_to_json(second, None)
    data = json.loads(dry_run.reports_to_json(first, None))
    assert data["applications"][0]["plan"]["main"] == {"kind": "InImage", "path": "/opt/app/etl.py"}
