"""Pod-shaped runs on the real engine: the image's entrypoint, a driver pod and executor
pods on a private network, one profile per role, enforced by the kernel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from profiler.runtime.interface import SPARK_LOCAL_DIR
from profiler.runtime.pod import PROPERTIES_FILE, PYTHON_RUNNER
from profiler.seccomp.profile import load_profile
from tests.integration.conftest import POD_WORKLOADS, cli

FIXTURES = Path(__file__).parents[1] / "fixtures"
REPO = Path(__file__).resolve().parents[2]
# Calls runc makes inside the container before the filter is installed; none may land.
RUNTIME_SETUP = {"mount", "pivot_root", "sethostname", "keyctl", "umount2", "setns", "unshare"}
RESTRICTED = {
    "user": "185:185",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "read_only": True,
    "tmpfs": {
        path: "rw,exec,nosuid,nodev,size=1g,uid=185,gid=185"
        for path in ("/tmp", "/home/spark", SPARK_LOCAL_DIR)
    },
}


def _allowed(path: Path) -> set[str]:
    return set(load_profile(path).allowed())


def test_record_writes_a_verified_profile_per_role(pod_profiles: Path) -> None:
    union, driver, executor = (
        _allowed(pod_profiles / name) for name in ("p.json", "p.driver.json", "p.executor.json")
    )
    assert driver | executor <= union
    assert driver != executor
    for allowed in (union, driver, executor):
        assert not allowed & RUNTIME_SETUP
        # tini as PID 1 waits for signals with rt_sigtimedwait; glibc's resolver sends its
        # parallel A and AAAA queries with sendmmsg (executors look up the driver service).
        assert {"rt_sigtimedwait", "sendmmsg", "execve", "clone3"} <= allowed
    for name in ("p", "p.driver", "p.executor"):
        summary = json.loads((pod_profiles / f"{name}.summary.json").read_text())
        assert set(summary["workloads"]) == set(POD_WORKLOADS)
    # Verification ran in pod shape: every run had its driver and two executor pods, and
    # every container exited 0.
    runs = [json.loads(p.read_text()) for p in (pod_profiles / "run" / "verify").rglob("run.json")]
    assert len(runs) == len(POD_WORKLOADS)
    for run in runs:
        roles = [c["role"] for c in run["containers"]]
        assert roles == ["driver", "executor", "executor"], run
        assert all(c["exit_code"] == 0 for c in run["containers"]), run


def test_the_image_entrypoint_starts_under_every_recorded_profile(
    pod_profiles: Path, docker_client: Any, spark_image: str
) -> None:
    for name in ("p.json", "p.driver.json", "p.executor.json"):
        profile = (pod_profiles / name).read_text()
        container = docker_client.containers.create(
            spark_image,
            ["true"],
            user="185:185",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true", f"seccomp={profile}"],
            labels={"io.spark-seccomp.owner": "spark-seccomp"},
        )
        try:
            container.start()
            status = container.wait(timeout=60)
            logs = container.logs().decode(errors="replace")
        finally:
            container.remove(force=True)
        assert status["StatusCode"] == 0, (name, logs)


def test_the_image_runs_a_driver_pods_arguments_under_the_driver_profile(
    docker_client: Any, spark_image: str, tmp_path: Path
) -> None:
    """What Spark's Kubernetes backend gives a driver container, with a properties file
    for a local master, started through the image's entrypoint as the kubelet starts it,
    under the committed reference's driver profile (recorded from every catalogue job's
    driver; a profile recorded from one job's driver need not cover another job).

    The job runs no task: with a local master every task would be executor work in the
    driver container (shuffle files, Python workers), which the executor profile covers
    and the driver profile does not; a driver pod that runs a local master needs the union.
    """
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark.properties").write_text(
        "spark.master=local[2]\nspark.driver.host=localhost\nspark.app.name=tiny\n"
    )
    conf.chmod(0o755)
    version = spark_image.rsplit(":", 1)[-1]
    profile = (REPO / "profiles" / f"spark-{version}-amd64.driver.json").read_text()
    options = dict(RESTRICTED)
    options["security_opt"] = [*RESTRICTED["security_opt"], f"seccomp={profile}"]
    container = docker_client.containers.create(
        spark_image,
        [
            "driver",
            "--properties-file",
            PROPERTIES_FILE,
            "--class",
            PYTHON_RUNNER,
            "local:///job/driver_only_job.py",
        ],
        environment={"SPARK_DRIVER_BIND_ADDRESS": "127.0.0.1"},
        volumes={
            str(FIXTURES / "scripts"): {"bind": "/job", "mode": "ro"},
            str(conf): {"bind": "/opt/spark/conf", "mode": "ro"},
        },
        network_mode="none",
        hostname="localhost",
        labels={"io.spark-seccomp.owner": "spark-seccomp"},
        **options,
    )
    try:
        container.start()
        status = container.wait(timeout=300)
        stdout = container.logs(stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False).decode(errors="replace")
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 0, stderr[-2000:]
    assert '"workload": "driver_only_job", "checksum": "local[2]"' in stdout


def test_check_in_pod_topology_passes_every_mode(pod_profiles: Path, tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    code = cli(
        "check",
        *POD_WORKLOADS,
        "--modes",
        "unconfined,runtime-default,localhost",
        "--profile",
        str(pod_profiles / "p.json"),
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "300",
    )
    data = json.loads(out.read_text())
    assert code == 0, data
    assert data["topology"] == "pod"
    assert {c["verdict"] for c in data["cells"]} == {"pass"}
    assert len(data["cells"]) == 3 * len(POD_WORKLOADS)
    # the profiles used were the per-role files beside p.json
    assert "p.driver.json" in data["profile"] and "p.executor.json" in data["profile"]


def test_an_executor_profile_without_sendmmsg_fails_and_the_diagnosis_names_it(
    pod_profiles: Path, tmp_path: Path, capsys: Any
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("p.json", "p.driver.json"):
        (broken / name).write_text((pod_profiles / name).read_text())
    executor = load_profile(pod_profiles / "p.executor.json").without_allowed("sendmmsg")
    (broken / "p.executor.json").write_text(executor.to_json())
    out = tmp_path / "check.json"
    code = cli(
        "check",
        "rdd_python",
        "--modes",
        "unconfined,localhost",
        "--profile",
        str(broken / "p.json"),
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "300",
    )
    assert code == 1
    cells = {c["mode"]: c for c in json.loads(out.read_text())["cells"]}
    assert cells["unconfined"]["verdict"] == "pass"
    cell = cells["localhost"]
    assert cell["verdict"] == "fail"
    error = cell["runs"][0]["error_line"]
    assert error.startswith("executor "), error
    assert "UnknownHostException" in error, error
    diagnosis = "\n".join(cell["diagnosis"])
    assert any(line.startswith("executor pod: denied: sendmmsg (") for line in cell["diagnosis"]), (
        diagnosis
    )
    assert not any(line.startswith("driver pod: denied:") for line in cell["diagnosis"]), diagnosis
