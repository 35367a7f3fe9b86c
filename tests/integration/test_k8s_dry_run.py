"""`k8s sparkapp` -> `k8s lint` -> `k8s dry-run` round trip on the real Docker engine.

Three container runs at most: one recording when no reference profile is committed, then
one per role; the run with the profile removed must not start a container at all.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

import pytest

from profiler.cli import main
from profiler.image import DEFAULT_SPARK_VERSION
from tests.conftest import missing

REPO = Path(__file__).parents[2]
ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
REFERENCE = REPO / "profiles" / f"spark-{DEFAULT_SPARK_VERSION}-{ARCH}.json"
WORKLOAD = "rdd_python"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def profile(spark_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed reference profile, else one recorded for the workload here (~40 s)."""
    if REFERENCE.is_file():
        return REFERENCE
    if os.geteuid() != 0:
        missing("recording a profile needs root")
    folder = tmp_path_factory.mktemp("recorded")
    out = folder / "p.json"
    args = ["record", WORKLOAD, "--out", str(out), "--image", spark_image, "--no-verify"]
    with pytest.raises(SystemExit) as info:
        main([*args, "--run-dir", str(folder / "runs"), "--timeout", "300"])
    assert info.value.code == 0, f"recording failed; see {folder / 'runs'}"
    return out


def test_generated_manifest_lints_clean_and_runs_then_fails_without_its_profile(
    profile: Path, spark_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "app.yaml"
    code, _, err = run(
        [
            "k8s",
            "sparkapp",
            "--main",
            f"local:///opt/app/{WORKLOAD}.py",
            "--image",
            spark_image,
            "--profile",
            str(profile),
            "--out",
            str(manifest),
        ],
        capsys,
    )
    assert code == 0, err
    localhost = f"spark-seccomp/{profile.name}"
    assert manifest.read_text().count(f"localhostProfile: {localhost}") == 2

    # The directory plays <kubelet-root>/seccomp, laid out as `k8s install` lays out a node.
    seccomp_root = tmp_path / "seccomp"
    installed = seccomp_root / localhost
    installed.parent.mkdir(parents=True)
    shutil.copy(profile, installed)

    code, out, err = run(["k8s", "lint", str(manifest), "--profiles", str(seccomp_root)], capsys)
    assert code == 0, out
    assert "0 finding(s)" in err

    dry_run = ["k8s", "dry-run", str(manifest), "--profiles", str(seccomp_root)]
    dry_run += ["--workload", WORKLOAD, "--timeout", "300"]
    code, out, err = run([*dry_run, "--run-dir", str(tmp_path / "runs")], capsys)
    assert code == 0, out + err
    table = [line for line in out.splitlines() if "driver" in line or "executor" in line]
    assert len(table) == 2 and all("pass" in line and "185:185" in line for line in table), out
    assert f"image: {spark_image} (manifest)" in out
    assert (tmp_path / "runs" / "driver" / "stderr.txt").is_file()
    assert (tmp_path / "runs" / "executor" / "stderr.txt").is_file()

    installed.unlink()
    code, out, err = run([*dry_run, "--run-dir", str(tmp_path / "runs-missing")], capsys)
    assert code == 1, out + err
    text = flat(out)
    for role in ("driver", "executor"):
        assert (
            f'{role}: CreateContainerError: cannot load seccomp profile "{installed}": '
            f"open {installed}: no such file or directory"
        ) in text
    assert text.count("not started") == 2
    assert not (tmp_path / "runs-missing").exists()  # no container was started
