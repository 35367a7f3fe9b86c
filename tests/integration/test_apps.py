"""SparkApplications as they are: a JVM application whose jar the image lacks fails early with
the driver's own error."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from profiler.seccomp.profile import load_profile
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


def _harden(manifest: Path, out: Path, runs_root: Path, image: str, capsys: Any) -> tuple[int, str]:
    code, stdout, stderr = run_captured(
        [
            "k8s",
            "harden",
            str(manifest),
            "--out-dir",
            str(out),
            "--image",
            image,
            "--executors",
            "1",
            "--runs",
            "1",
            "--timeout",
            "300",
            "--run-dir",
            str(runs_root),
        ],
        capsys,
    )
    return code, stdout + stderr


def _lint_clean(manifest: Path, tree: Path) -> None:
    from profiler.k8s.lint import lint_files

    report = lint_files([manifest], tree)
    assert not report.findings, [(f.rule.id, f.path) for f in report.findings]


@pytest.fixture()
def recording_host() -> None:
    import os
    import shutil

    from tests.conftest import missing

    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        missing("recording needs root and bpftrace")


@pytest.mark.usefixtures("recording_host")
def test_harden_a_java_application_with_arguments(
    spark_image: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "hardened"
    code, text = _harden(APPS / "orders-java.yaml", out, tmp_path / "runs", spark_image, capsys)
    assert code == 0, text[-3000:]
    manifest = out / "orders.yaml"
    tree = out / "seccomp"
    for role in ("driver", "executor"):
        assert (tree / "spark-seccomp" / f"orders-{role}.json").is_file()
    _lint_clean(manifest, tree)
    # Recorded on the host's runc 1.1, the profiles hold what the newest node's runc 1.3
    # calls after the filter too (the runtime probe), so the pods start on today's nodes.
    for role in ("driver", "executor"):
        allowed = load_profile(tree / "spark-seccomp" / f"orders-{role}.json").allowed()
        assert "openat2" in allowed, role
    assert "installed /var/lib/kubelet/seccomp/spark-seccomp" in (out / "install.yaml").read_text()
    # the diff was printed, and the user's own lines are all still there
    assert "+              type: Localhost" in text
    # the role's profile is on the Spark container, the pod's own is RuntimeDefault (the
    # kubelet gives the pod-level one to the sandbox's pause too)
    for role in ("driver", "executor"):
        pod = yaml.safe_load(manifest.read_text())["spec"][role]["template"]["spec"]
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["containers"][0]["securityContext"]["seccompProfile"]["type"] == "Localhost"
    original = (APPS / "orders-java.yaml").read_text().splitlines()
    hardened = manifest.read_text().splitlines()
    assert [line for line in original if line not in hardened] == []
    assert "analytics/orders: profiles: driver" in text


@pytest.mark.usefixtures("recording_host")
def test_harden_a_python_application_twice_gives_the_same_manifest(
    spark_image: str, tmp_path: Path, capsys: Any
) -> None:
    outs = [tmp_path / "first", tmp_path / "second"]
    for index, out in enumerate(outs):
        code, text = _harden(
            APPS / "pi-python.yaml", out, tmp_path / f"runs-{index}", spark_image, capsys
        )
        assert code == 0, text[-3000:]
        _lint_clean(out / "pi-python.yaml", out / "seccomp")
    first, second = ((out / "pi-python.yaml").read_bytes() for out in outs)
    assert first == second
    trees = [sorted(p.relative_to(out) for p in (out / "seccomp").rglob("*")) for out in outs]
    assert trees[0] == trees[1]


OUTSIDE = "10.123.45"  # a network of this machine that is not the pods': stands for outside


@pytest.fixture()
def outside_service(tmp_path: Path) -> Iterator[str]:
    """An HTTP service in a network namespace of this machine, reached through a veth pair:
    an address outside the pods and outside this machine's own, as a database or an object
    store is (a Docker pod network, internal or not, reaches the host's own addresses)."""
    import os
    import shutil
    import subprocess

    from tests.conftest import missing

    if os.geteuid() != 0 or shutil.which("ip") is None:
        missing("a network namespace needs root and iproute2")
    namespace, host_end, inner_end = "ssp-egress-test", "ssp-eg0", "ssp-eg1"
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "data").write_text("rows from a service outside the pods\n")
    steps = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", host_end, "type", "veth", "peer", "name", inner_end],
        ["ip", "link", "set", inner_end, "netns", namespace],
        ["ip", "addr", "add", f"{OUTSIDE}.1/24", "dev", host_end],
        ["ip", "link", "set", host_end, "up"],
        [
            "ip",
            "netns",
            "exec",
            namespace,
            "ip",
            "addr",
            "add",
            f"{OUTSIDE}.2/24",
            "dev",
            inner_end,
        ],
        ["ip", "netns", "exec", namespace, "ip", "link", "set", inner_end, "up"],
        ["ip", "netns", "exec", namespace, "ip", "route", "add", "default", "via", f"{OUTSIDE}.1"],
    ]
    server = None
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                namespace,
                "python3",
                "-m",
                "http.server",
                "8099",
                "--bind",
                f"{OUTSIDE}.2",
                "--directory",
                str(tmp_path / "www"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert server.stdout is not None
        server.stdout.readline()  # "Serving HTTP on ...": it listens
        yield f"http://{OUTSIDE}.2:8099/data"
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)


def test_egress_lets_the_pods_read_a_service_outside_them(
    spark_image: str, outside_service: str, tmp_path: Path, capsys: Any
) -> None:
    script = Path(__file__).parents[1] / "fixtures" / "scripts" / "read_service.py"
    results = {}
    for egress in (False, True):
        out = tmp_path / f"check-{egress}.json"
        args = ["check", str(script), "--arg", outside_service, "--modes", "unconfined"]
        args += ["--image", spark_image, "--executors", "1", "--no-diagnose"]
        args += ["--json", str(out), "--run-dir", str(tmp_path / f"runs-{egress}")]
        code, _, _ = run_captured([*args, *(["--egress"] if egress else [])], capsys)
        results[egress] = (code, json.loads(out.read_text())["cells"][0])
    code, cell = results[False]
    assert code == 1 and cell["verdict"] == "fail", cell
    code, cell = results[True]
    assert code == 0 and cell["verdict"] == "pass", cell
