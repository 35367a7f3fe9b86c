"""The engines Kubernetes nodes use, for real: Docker, Podman (CRI-O's default profile)
and containerd through its CRI (its RuntimeDefault), each under runc and crun, every one in
pod topology (containerd under runc in test_cri.py, with its DNS and interrupts; Docker
under runc in test_spark4.py, which runs both Spark lines there in every mode).

A small cluster job (Python tasks in executor pods, a shuffle) runs unconfined, under the
engine's RuntimeDefault and under the committed Localhost reference on every engine and
OCI runtime (the reference's catalogue-wide verification on three engines is `make
profiles`'s); each engine's
RuntimeDefault is read from its bundle and the probe must agree with it; and a profile
that lacks a call runc needs after the filter is loaded (and crun does not) starts on one
OCI runtime and not on the other, the failure naming the call.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from profiler import workloads
from profiler.check import CheckOptions, CheckPlan, Verdict, run_check
from profiler.errors import EnvironmentProblem
from profiler.runtime.command import RUNTIME_REFUSED_EXIT
from profiler.runtime.interface import ContainerEngine, ProfileSet, SecurityMode, Topology
from profiler.runtime.probe import probe_runtime_default
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import EngineChoice, make_engine
from tests.conftest import missing
from tests.integration.conftest import cli

REPO = Path(__file__).resolve().parents[2]
# A user's script that leaves the master to the run: its tasks run in the executor pods.
# About 5 s shorter a run than the fastest catalogue job, over some twenty runs here.
FASTEST = str(REPO / "tests" / "fixtures" / "scripts" / "tiny_cluster_job.py")
MODES = (SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST)
ENGINES = [
    EngineChoice("docker", "crun"),
    EngineChoice("podman", "crun"),
    EngineChoice("podman", "runc"),
    EngineChoice("containerd", "crun"),
]


def _engine(choice: EngineChoice) -> ContainerEngine:
    if os.geteuid() != 0:
        missing("podman, containerd and crun need root here")
    for tool in ("podman", "ctr", "containerd", "dnsmasq", "crun", "runc"):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/usr/bin") is None:
            missing(f"{tool} is not installed (`make setup` installs it)")
    try:
        engine = make_engine(choice)
    except EnvironmentProblem as exc:
        missing(f"{choice.label}: {exc.message}")
    assert isinstance(engine, ContainerEngine)
    return engine


def _reference_profile(spark_image: str) -> ProfileSet:
    version = spark_image.rsplit(":", 1)[-1]
    path = REPO / "profiles" / f"spark-{version}-amd64.json"
    if not path.is_file():
        missing(f"no committed reference profile for {spark_image}")
    return ProfileSet.single(path.read_text(), path.name)


@pytest.mark.parametrize("choice", ENGINES, ids=[c.label for c in ENGINES])
def test_fastest_workload_passes_every_mode_on_every_engine(
    choice: EngineChoice, spark_image: str, tmp_path: Path
) -> None:
    engine = _engine(choice)
    shape = engine.topology_for(Topology.POD, lambda _line: None)
    plan = CheckPlan(
        workloads=(workloads.resolve(FASTEST),),
        modes=MODES,
        shape=RunShape(spark_image, topology=shape),
        profiles=_reference_profile(spark_image),
    )
    report = run_check(engine, plan, CheckOptions(timeout_seconds=300, run_root=tmp_path))
    assert report.runtime == choice.label
    for mode in MODES:
        cell = report.cell(plan.workloads[0].name, mode)
        assert cell.verdict is Verdict.PASS, (choice.label, mode, cell.runs[0].error_line)
    # Every engine runs pods: containerd through its CRI, on its CNI pod network.
    assert shape is Topology.POD
    # Nothing of this process is left on the engine (other processes' runs are not ours).
    assert engine.cleanup(session_only=True) == 0  # type: ignore[call-arg]


PROBED = [
    EngineChoice("docker", "runc"),
    EngineChoice("podman", "crun"),
    EngineChoice("containerd", "runc"),
]


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory, spark_image: str):
    """Each engine's RuntimeDefault read and probed once for this module, in a cache of
    its own (really probed, not taken from an earlier run's cache)."""
    cache = tmp_path_factory.mktemp("probe-cache")
    done: dict[EngineChoice, object] = {}

    def probed(choice: EngineChoice):
        if choice not in done:
            saved = os.environ.get("SPARK_SECCOMP_CACHE")
            os.environ["SPARK_SECCOMP_CACHE"] = str(cache)
            try:
                done[choice] = probe_runtime_default(spark_image, engine=_engine(choice))
            finally:
                if saved is None:
                    os.environ.pop("SPARK_SECCOMP_CACHE", None)
                else:
                    os.environ["SPARK_SECCOMP_CACHE"] = saved
        return done[choice]

    return probed


@pytest.mark.parametrize("choice", PROBED, ids=[c.engine for c in PROBED])
def test_probe_agrees_with_the_default_read_from_the_bundle(choice: EngineChoice, probe) -> None:
    reference = probe(choice)
    default = reference.engine_default
    assert default is not None, f"{choice.label}: the bundle's linux.seccomp was not read"
    assert default["default_action"] == "SCMP_ACT_ERRNO"
    assert 250 < len(default["allowed"]) < 400
    assert reference.disagreements == (), reference.disagreements
    # No undecidable call (refused for lack of a capability either way) counts as allowed
    # by the probe, and the probe's allowed calls are all in the bundle's filter.
    assert not reference.probe_allowed & reference.undecidable
    assert reference.probe_allowed <= frozenset(default["allowed"]) | frozenset(
        default["argument_filtered"]
    )
    assert {"read", "write", "openat", "futex", "execve"} <= reference.allowed


def test_defaults_differ_as_published(probe) -> None:
    """containers-common (Podman, CRI-O) answers ENOSYS by default, moby and containerd
    EPERM; and the three filters are not the same set."""
    podman = probe(EngineChoice("podman", "crun"))
    docker = probe(EngineChoice("docker", "runc"))
    containerd = probe(EngineChoice("containerd", "runc"))
    assert podman.engine_default["default_errno"] == 38
    assert docker.engine_default.get("default_errno") in (None, 1)
    assert containerd.engine_default.get("default_errno") in (None, 1)
    assert len({podman.allowed, docker.allowed, containerd.allowed}) == 3


def _without(profile_text: str, name: str) -> str:
    profile = json.loads(profile_text)
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != name]
    profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
    return json.dumps(profile)


def test_a_call_only_runc_needs_after_the_filter(spark_image: str) -> None:
    """runc's init (Go) still runs after it loads the filter, and wakes threads with futex;
    crun execs the entrypoint straight away. Without futex, `true` starts under crun and
    runc cannot start the container, the failure naming the call."""
    profile = _without(_reference_profile(spark_image).union.text, "futex")
    crun = _engine(EngineChoice("docker", "crun"))
    code, _, errors = crun.run_command(spark_image, ["true"], SecurityMode.LOCALHOST, profile)
    assert code == 0, errors
    runc = _engine(EngineChoice("docker", "runc"))
    code, _, errors = runc.run_command(spark_image, ["true"], SecurityMode.LOCALHOST, profile)
    assert code == RUNTIME_REFUSED_EXIT
    # Go's runtime in runc init: "futexwakeup addr=0x... returned -1".
    assert "futex" in errors, errors
    # With futex, both start it.
    full = _reference_profile(spark_image).union.text
    assert runc.run_command(spark_image, ["true"], SecurityMode.LOCALHOST, full)[0] == 0


def test_record_under_both_oci_runtimes(spark_image: str, tmp_path: Path) -> None:
    """One profile from runs under runc and crun, verified under each; the summary says
    which calls only one runtime's runs made."""
    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        missing("recording needs root and bpftrace")
    _engine(EngineChoice("docker", "crun"))
    out = tmp_path / "both.json"
    code = cli(
        "record",
        FASTEST,
        "--image",
        spark_image,
        "--oci-runtime",
        "runc,crun",
        "--out",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "300",
        "--verify-node",
        "host",
    )
    assert code == 0
    summary = json.loads(out.with_name("both.summary.json").read_text())
    assert set(summary["oci_runtime_only"]) == {"docker/runc", "docker/crun"}
    assert summary["total_runs"] == 2  # one run under each, counted once each
    for label in ("docker-runc", "docker-crun"):
        assert (tmp_path / "run" / label / "verify").is_dir()
