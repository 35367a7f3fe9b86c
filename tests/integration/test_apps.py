"""SparkApplications as they are: a JVM application whose jar the image lacks fails early with
the driver's own error."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

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
    assert "installed /var/lib/kubelet/seccomp/spark-seccomp" in (out / "install.yaml").read_text()
    # the diff was printed, and the user's own lines are all still there
    assert "+            type: Localhost" in text
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


def _host_address() -> str:
    """This machine's own address on its default route (not a container bridge's)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))
        return str(probe.getsockname()[0])


def test_egress_lets_the_pods_read_a_service_on_this_machine(
    spark_image: str, tmp_path: Path, capsys: Any
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Body(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server hook's name
            body = b"rows from a service outside the pods\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer((_host_address(), 0), Body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://{server.server_address[0]}:{server.server_address[1]}/data"
    script = Path(__file__).parents[1] / "fixtures" / "scripts" / "read_service.py"
    try:
        results = {}
        for egress in (False, True):
            out = tmp_path / f"check-{egress}.json"
            args = ["check", str(script), "--arg", url, "--modes", "unconfined"]
            args += ["--image", spark_image, "--executors", "1", "--no-diagnose"]
            args += ["--json", str(out), "--run-dir", str(tmp_path / f"runs-{egress}")]
            code, _, _ = run_captured([*args, *(["--egress"] if egress else [])], capsys)
            results[egress] = (code, json.loads(out.read_text())["cells"][0])
    finally:
        server.shutdown()
        server.server_close()
    code, cell = results[False]
    assert code == 1 and cell["verdict"] == "fail"
    code, cell = results[True]
    assert code == 0 and cell["verdict"] == "pass", cell
