"""Faults on the real engine: the OCI runtime refusing a profile, Ctrl-C and SIGTERM in the
middle of record, check and bench, a run directory that fills up, and the engine itself
stopping during a check. Whatever happens, the tool's containers and networks are gone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from profiler.runtime.ownership import OWNER, OWNER_LABEL, PID_LABEL

REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TINY_JOB = str(FIXTURES / "scripts" / "tiny_job.py")
CLUSTER_JOB = str(FIXTURES / "scripts" / "tiny_cluster_job.py")


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    """The tool as a user runs it, in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "profiler", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def left_by(client: Any, pid: int) -> tuple[list[Any], list[Any]]:
    """Containers and networks the tool process ``pid`` started that still exist."""
    label = {"label": [f"{OWNER_LABEL}={OWNER}", f"{PID_LABEL}={pid}"]}
    return client.containers.list(
        all=True, filters=label, ignore_removed=True
    ), client.networks.list(filters=label)


def wait_for_containers(client: Any, process: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the tool ended before its containers started: {err[-2000:]}")
        containers, _ = left_by(client, process.pid)
        if len([c for c in containers if c.status == "running"]) >= count:
            return
        time.sleep(0.5)
    process.kill()
    pytest.fail("the tool's containers never started")


def test_a_profile_the_runtime_cannot_start_under_is_a_fail_verdict(
    spark_image: str, tmp_path: Path
) -> None:
    """futex, clone and clone3 denied: runc's own init dies under the filter. That is a
    verdict about the profile (exit 1), not an engine failure (exit 3)."""
    out = tmp_path / "check.json"
    process = spawn(
        [
            "check",
            TINY_JOB,
            "--modes",
            "localhost",
            "--profile",
            str(FIXTURES / "profiles" / "denies_futex_clone.json"),
            "--topology",
            "local",
            "--image",
            spark_image,
            "--json",
            str(out),
            "--run-dir",
            str(tmp_path / "run"),
        ]
    )
    _, err = process.communicate(timeout=300)
    assert process.returncode == 1, err
    (cell,) = json.loads(out.read_text())["cells"]
    assert cell["verdict"] == "fail"
    assert (
        "could not start the container under its seccomp profile" in cell["runs"][0]["error_line"]
    )


# Each command once, the two signals shared between them (SIGTERM takes the same path as
# Ctrl-C once the handler has turned it into KeyboardInterrupt).
@pytest.mark.parametrize(
    ("command", "signame"), [("check", "SIGINT"), ("record", "SIGTERM"), ("bench", "SIGINT")]
)
def test_an_interrupt_removes_every_container_and_says_so(
    command: str, signame: str, docker_client: Any, spark_image: str, tmp_path: Path
) -> None:
    if command == "record" and (os.geteuid() != 0 or shutil.which("bpftrace") is None):
        from tests.conftest import missing

        missing("recording needs root and bpftrace")
    args = {
        "check": ["check", CLUSTER_JOB, "--modes", "unconfined"],
        "record": [
            "record",
            CLUSTER_JOB,
            "--out",
            str(tmp_path / "p.json"),
            "--verify-node",
            "host",
        ],
        "bench": ["bench", CLUSTER_JOB, "--modes", "unconfined", "--repeat", "2", "--warmup", "0"],
    }[command]
    process = spawn([*args, "--image", spark_image, "--run-dir", str(tmp_path / "run")])
    # The master and the driver of the pod: the run is in full swing.
    wait_for_containers(docker_client, process, 2)
    process.send_signal(getattr(signal, signame))
    _, err = process.communicate(timeout=180)
    assert process.returncode == 130, err
    (line,) = [x for x in err.splitlines() if x.startswith("interrupted")]
    assert f"`spark-seccomp {command}` stopped" in line and "removed" in line, line
    assert "Traceback" not in err
    containers, networks = left_by(docker_client, process.pid)
    assert not containers and not networks, (containers, networks)
    assert not (tmp_path / "p.json").exists()


def test_a_run_directory_on_a_full_file_system_is_one_clear_error(
    need_root: None, docker_client: Any, spark_image: str, tmp_path: Path
) -> None:
    full = tmp_path / "full"
    full.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(full)], check=True)
    try:
        process = spawn(
            [
                "check",
                TINY_JOB,
                "--modes",
                "unconfined",
                "--topology",
                "local",
                "--image",
                spark_image,
                "--run-dir",
                str(full / "run"),
            ]
        )
        _, err = process.communicate(timeout=300)
    finally:
        subprocess.run(["umount", str(full)], check=False)
    assert process.returncode == 3, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "No space left on device" in line, err
    assert "Traceback" not in err
    containers, networks = left_by(docker_client, process.pid)
    assert not containers and not networks


def _dockerd() -> tuple[int, list[str]]:
    found = subprocess.run(["pidof", "dockerd"], capture_output=True, text=True, check=False)
    if not found.stdout.split():
        pytest.fail("no dockerd process to stop")
    pid = int(found.stdout.split()[0])
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return pid, [a.decode() for a in argv if a]


def _engine_answers(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means "not yet"
        return False


def test_an_engine_that_stops_answering_is_exit_3_and_leaves_no_container(
    need_root: None, docker_client: Any, spark_image: str, tmp_path: Path
) -> None:
    """dockerd is stopped in the middle of a pod run and started again the way
    scripts/bootstrap.sh starts it; the tool says which engine went away, exits 3, and
    removes its containers once the engine answers again."""
    pid, argv = _dockerd()
    process = spawn(
        [
            "check",
            CLUSTER_JOB,
            "--modes",
            "unconfined",
            "--image",
            spark_image,
            "--run-dir",
            str(tmp_path / "run"),
        ]
    )
    wait_for_containers(docker_client, process, 2)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    log = open("/var/log/spark-seccomp-dockerd.log", "a")  # noqa: SIM115 - dockerd keeps it
    subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 120
    while not _engine_answers(docker_client) and time.monotonic() < deadline:
        time.sleep(1)
    assert _engine_answers(docker_client), "dockerd did not come back"
    _, err = process.communicate(timeout=300)
    assert process.returncode == 3, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "the Docker engine stopped answering" in line, err
    containers, networks = left_by(docker_client, process.pid)
    assert not containers and not networks, (containers, networks)
