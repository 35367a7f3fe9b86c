"""The light route: the base install, in a fresh virtualenv, runs what needs no engine.

No pyspark, no matplotlib, no engine, no root: `pip install spark-seccomp-profiler` and
then k8s lint (from standard input), k8s sparkapp, k8s install, dry-run --plan and the
profile commands, run as an unprivileged user when the suite runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "k8s"
NOBODY = 65534

pytestmark = pytest.mark.slow


def _python() -> str:
    # Debian's own interpreter when there is one: it is what a user without root has, and
    # it sits where an unprivileged user can run it (a root-only pyenv may not).
    debian = Path("/usr/bin/python3")
    if os.geteuid() == 0 and debian.is_file():
        return str(debian)
    return sys.executable


@pytest.fixture(scope="module")
def light(tmp_path_factory) -> Iterator[tuple[Path, list[str]]]:
    """A fresh venv with the base install, and the prefix that runs a command unprivileged."""
    # Readable by the unprivileged user (pytest's own tmp dirs are private to root).
    work = Path(tempfile.mkdtemp(prefix="spark-seccomp-light-"))
    work.chmod(0o755)
    venv = work / "venv"
    try:
        subprocess.run([_python(), "-m", "venv", str(venv)], check=True, timeout=120)
        started = time.monotonic()
        pip = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if pip.returncode != 0:
            missing(f"pip could not install the base package: {pip.stderr.strip()[-400:]}")
        seconds = time.monotonic() - started
        size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
        print(f"light install: {seconds:.1f} s, venv {size / 2**20:.0f} MiB")
        for name in ("spark-connect-pod-level-fields.yaml",):
            shutil.copy(FIXTURES / name, work / name)
        shutil.copytree(FIXTURES / "operator-examples", work / "examples")
        for path in (ROOT / "profiles").glob("spark-3.5.9-amd64*.json"):
            shutil.copy(path, work / path.name)
        for path in work.rglob("*"):
            if not path.is_relative_to(venv):
                path.chmod(0o755 if path.is_dir() else 0o644)
        unprivileged = (
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
            if os.geteuid() == 0 and shutil.which("setpriv")
            else []
        )
        yield work, unprivileged
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(light: tuple[Path, list[str]], *args: str, stdin: str | None = None):
    work, unprivileged = light
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
    return subprocess.run(
        [*unprivileged, str(work / "venv" / "bin" / "spark-seccomp"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        timeout=120,
    )


def test_the_base_install_has_no_pyspark_and_no_matplotlib(light) -> None:
    work, _ = light
    listed = subprocess.run(
        [str(work / "venv" / "bin" / "pip"), "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "spark-seccomp-profiler" in names
    assert not names & {"pyspark", "matplotlib", "numpy"}


def test_lint_from_standard_input_runs_unprivileged(light) -> None:
    work, unprivileged = light
    if os.geteuid() == 0:
        assert unprivileged, "setpriv is needed to prove the light route needs no root"
    text = (work / "spark-connect-pod-level-fields.yaml").read_text()
    result = _run(light, "k8s", "lint", "-", "--format", "json", stdin=text)
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert len(findings) == 10 and {f["file"] for f in findings} == {"<stdin>"}


def test_sparkapp_output_lints_clean_and_install_writes_the_installer(light) -> None:
    work, _ = light
    app = _run(
        light,
        "k8s",
        "sparkapp",
        "--main",
        "local:///opt/app/job.py",
        "--image",
        "registry.example.com/spark:3.5.9",
        "--profile",
        "spark-3.5.9-amd64.json",
    )
    assert app.returncode == 0, app.stderr
    assert "localhostProfile: spark-seccomp/spark-3.5.9-amd64.driver.json" in app.stdout
    linted = _run(light, "k8s", "lint", "-", "--fail-on", "warning", stdin=app.stdout)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    installer = _run(light, "k8s", "install", "spark-3.5.9-amd64.json")
    assert installer.returncode == 0, installer.stderr
    assert "kind: DaemonSet" in installer.stdout


def test_dry_run_plan_and_the_profile_commands(light) -> None:
    work, _ = light
    plan = _run(light, "k8s", "dry-run", "--plan", "examples")
    assert plan.returncode == 0, plan.stderr
    examples = len(list((work / "examples").glob("*.yaml")))
    assert plan.stderr.startswith(f"read examples: {examples} file(s): ")
    calls = _allowed(work / "spark-3.5.9-amd64.json")
    driver = _allowed(work / "spark-3.5.9-amd64.driver.json")
    diff = _run(light, "profile", "diff", "spark-3.5.9-amd64.json", "spark-3.5.9-amd64.driver.json")
    # exit 1 when the profiles differ, so a CI job can guard one
    assert diff.returncode == (0 if calls == driver else 1), diff.stderr
    assert f"allowed by both: {len(calls & driver)}" in diff.stdout
    explained = _run(light, "profile", "explain", "spark-3.5.9-amd64.json")
    # one line per call and a header
    assert explained.returncode == 0 and len(explained.stdout.splitlines()) == len(calls) + 1
    assert _run(light, "--version").stdout.startswith("spark-seccomp ")


def _allowed(profile: Path) -> set[str]:
    rules = json.loads(profile.read_text())["syscalls"]
    return {n for r in rules if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
