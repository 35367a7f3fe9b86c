"""containerd through its CRI, for real: pods as a kubelet runs them, on the tool's own node.

A catalogue job runs unconfined, under containerd's RuntimeDefault and under the committed
Localhost references in pod topology (master, driver and two executors, each a pod sandbox
with one container); every pod got the resolv.conf a kubelet has the runtime write, and
each executor found the driver's Service by the search-domain walk a pod does, as the
cluster DNS's own query log shows. An executor profile without sendmmsg fails on an
executor pod, and the diagnosis names the call and the role. Ctrl-C or SIGTERM in the
middle of a run leaves no sandbox behind, and a pod-level profile the OCI runtime cannot
start the sandbox under is a verdict.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from profiler.runtime.cluster_dns import cluster_dns_config, parse_query_log, search_walk
from profiler.runtime.cri.node import CriNode
from profiler.runtime.ownership import OWNER, OWNER_LABEL, PID_LABEL
from profiler.runtime.pod import service_host
from profiler.seccomp.profile import load_profile
from tests.conftest import missing
from tests.integration.conftest import cli

REPO = Path(__file__).resolve().parents[2]
WORKLOAD = "rdd_python"
EXPECTED_RESOLV_CONF = cluster_dns_config(CriNode().dns_server, "default").resolv_conf()


def _reference(spark_image: str) -> Path:
    version = spark_image.rsplit(":", 1)[-1]
    path = REPO / "profiles" / f"spark-{version}-amd64.json"
    if not path.is_file():
        missing(f"no committed reference profile for {spark_image}")
    return path


@pytest.fixture(scope="module")
def need_cri_node() -> None:
    """The tool's containerd, brought up with its pod network, DNS and pause image."""
    if os.geteuid() != 0:
        missing("containerd's CRI, its pod network and DNS need root")
    from profiler.errors import EnvironmentProblem
    from profiler.runtime.containerd import ContainerdBackend

    try:
        ContainerdBackend(oci_runtime="runc")
    except EnvironmentProblem as exc:
        missing(f"containerd's CRI: {exc.message}")


@pytest.fixture(scope="module")
def cri_check(need_cri_node: None, spark_image: str, tmp_path_factory: pytest.TempPathFactory):
    """One check of WORKLOAD in every mode on containerd, through the CLI."""
    root = tmp_path_factory.mktemp("cri-check")
    out = root / "check.json"
    code = cli(
        "check",
        WORKLOAD,
        "--runtime",
        "containerd",
        "--image",
        spark_image,
        "--modes",
        "unconfined,runtime-default,localhost",
        "--profile",
        str(_reference(spark_image)),
        "--json",
        str(out),
        "--run-dir",
        str(root / "run"),
        "--timeout",
        "400",
    )
    return code, json.loads(out.read_text()), root / "run"


def test_a_catalogue_job_passes_every_mode_in_pod_topology_through_the_cri(cri_check) -> None:
    code, data, _ = cri_check
    assert code == 0, data
    assert data["topology"] == "pod"
    assert data["runtime"] == "containerd/runc"
    verdicts = {cell["mode"]: cell["verdict"] for cell in data["cells"]}
    assert verdicts == {"unconfined": "pass", "runtime-default": "pass", "localhost": "pass"}


def _pods(run: Path) -> dict[str, str]:
    """Pod name -> its address, from the /etc/hosts the kubelet wrote for it."""
    pods = {}
    for hosts in run.glob("*.hosts"):
        address, name = hosts.read_text().strip().splitlines()[-1].split()
        pods[name] = address
    return pods


@pytest.mark.parametrize("mode", ["unconfined", "runtime-default", "localhost"])
def test_each_pod_gets_the_cluster_dns_and_executors_walk_the_search_domains(
    cri_check, mode: str
) -> None:
    _, data, run_root = cri_check
    run = run_root / WORKLOAD / f"{mode}-1"
    pods = _pods(run)
    assert {name.rsplit("-", 1)[-1] for name in pods} >= {"master", "driver"}, pods
    executors = {name: ip for name, ip in pods.items() if re.search(r"-exec-\d+$", name)}
    assert len(executors) == 2, pods
    for name in pods:
        assert (run / f"{name}.resolv.conf").read_text() == EXPECTED_RESOLV_CONF, name
    # The driver's Service as Spark names it in spark.driver.host: fewer dots than
    # ndots:5, so glibc tries each search domain first; the third answers.
    app = next(name for name in pods if name.endswith("-driver")).removesuffix("-driver")
    walk = search_walk(service_host(app), cluster_dns_config(CriNode().dns_server, "default"))
    queries = parse_query_log((run / "dns-queries.log").read_text())
    for name, address in executors.items():
        asked = [q.name for q in queries if q.client == address and q.qtype == "A"]
        assert asked[:3] == walk[:3], (name, asked)


def test_an_executor_profile_without_sendmmsg_fails_on_containerd_and_is_named(
    need_cri_node: None, spark_image: str, tmp_path: Path
) -> None:
    reference = _reference(spark_image)
    broken = tmp_path / "broken"
    broken.mkdir()
    stem = reference.name.removesuffix(".json")
    for name in (f"{stem}.json", f"{stem}.driver.json"):
        (broken / name).write_text((reference.parent / name).read_text())
    executor = load_profile(reference.parent / f"{stem}.executor.json")
    (broken / f"{stem}.executor.json").write_text(executor.without_allowed("sendmmsg").to_json())
    out = tmp_path / "check.json"
    code = cli(
        "check",
        WORKLOAD,
        "--runtime",
        "containerd",
        "--image",
        spark_image,
        "--modes",
        "unconfined,localhost",
        "--profile",
        str(broken / f"{stem}.json"),
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "400",
    )
    assert code == 1
    data = json.loads(out.read_text())
    assert data["topology"] == "pod" and data["runtime"] == "containerd/runc"
    cells = {c["mode"]: c for c in data["cells"]}
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


def test_a_profile_the_sandbox_cannot_start_under_is_a_fail_verdict(
    need_cri_node: None, spark_image: str, tmp_path: Path
) -> None:
    """futex, clone and clone3 denied at pod level: runc's init dies under the filter while
    it starts the pod's sandbox (a kubelet's FailedCreatePodSandBox) or its container. That
    is a verdict on the profile (exit 1), not an engine failure (exit 3)."""
    out = tmp_path / "check.json"
    code = cli(
        "check",
        str(REPO / "tests" / "fixtures" / "scripts" / "tiny_job.py"),
        "--runtime",
        "containerd",
        "--image",
        spark_image,
        "--modes",
        "localhost",
        "--profile",
        str(REPO / "tests" / "fixtures" / "profiles" / "denies_futex_clone.json"),
        "--topology",
        "local",
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert code == 1
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["verdict"] == "fail"
    error = cell["runs"][0]["error_line"]
    # The sandbox's runc init or the container's dies first: runc's Go runtime wakes its
    # threads with futex only some of the time, so which one it is depends on timing.
    assert "could not start the container under its seccomp profile" in error, error


def _sandboxes_of(pid: int) -> list[str]:
    from profiler.runtime.cri.client import CriClient
    from profiler.runtime.cri.node import default_socket

    client = CriClient(str(default_socket()))
    try:
        return [
            sandbox
            for sandbox, _ in client.list_pod_sandboxes({OWNER_LABEL: OWNER, PID_LABEL: str(pid)})
        ]
    finally:
        client.close()


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupt_removes_every_pod_sandbox(
    need_cri_node: None, signame: str, spark_image: str, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "profiler",
            "check",
            WORKLOAD,
            "--runtime",
            "containerd",
            "--modes",
            "unconfined",
            "--image",
            spark_image,
            "--run-dir",
            str(tmp_path / "run"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    # The master's and the driver's sandboxes: the run is in full swing.
    while len(_sandboxes_of(process.pid)) < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the run's pods never started: {process.communicate()[1][-2000:]}")
        time.sleep(0.5)
    process.send_signal(getattr(signal, signame))
    _, err = process.communicate(timeout=180)
    assert process.returncode == 130, err
    (line,) = [x for x in err.splitlines() if x.startswith("interrupted")]
    assert "removed" in line, line
    assert "Traceback" not in err
    assert _sandboxes_of(process.pid) == []
