"""Nodes of newer Debian releases, for real: sid's Podman, runc and crun, built from
Debian packages and run in namespaces of their own.

The committed amd64 profiles must start the image's entrypoint under sid's runc and crun;
the catalogue's fastest job must pass in pod shape on sid with runc in every mode; a
profile lacking what only a newer runc needs after the filter starts under the host's runc
and not under sid's, the verdict naming the runtime and the call; and the node itself
leaves nothing behind on the host and nothing of it survives its stop.

The newer runtimes are asserted by behaviour, never by version strings: sid moves.
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
from profiler.runtime.podman import PodmanBackend
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import EngineChoice, make_engine
from profiler.seccomp.profile import load_profile
from tests.conftest import missing
from tests.integration.conftest import cli

REPO = Path(__file__).resolve().parents[2]
NODE = "sid"
FASTEST = "rdd_python"
MODES = (SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST)
# What runc 1.3 does after the filter that runc 1.1 does not: it reopens the exec fifo
# through openat2 and, when that is refused, falls back to openat and readlinkat.
NEWER_RUNC_ONLY = ("openat2", "readlinkat")
COMMITTED = sorted(
    p for p in REPO.glob("profiles/spark-*-amd64*.json") if not p.name.endswith(".summary.json")
)


def _engine_on_node(engine_name: str, oci_runtime: str) -> ContainerEngine:
    if os.geteuid() != 0:
        missing("nodes need root (mmdebstrap, namespaces, mounts)")
    for tool in ("mmdebstrap", "unshare", "nsenter", "pivot_root"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (`make setup` installs it)")
    try:
        return make_engine(EngineChoice(engine_name, oci_runtime, node=NODE))
    except EnvironmentProblem as exc:
        missing(f"the {NODE} node's {engine_name}: {exc.message}")
        raise


def _node_engine(oci_runtime: str) -> PodmanBackend:
    engine = _engine_on_node("podman", oci_runtime)
    assert isinstance(engine, PodmanBackend)
    return engine


def _image_for(profile: Path) -> str:
    return f"spark-seccomp/spark:{profile.name.split('-')[1]}"


@pytest.mark.parametrize("engine_name", ["podman", "containerd"])
@pytest.mark.parametrize("oci_runtime", ["runc", "crun"])
@pytest.mark.parametrize("profile", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_profile_starts_on_the_newest_node(
    profile: Path, oci_runtime: str, engine_name: str, docker_client: object
) -> None:
    """Through the node's Podman (CRI-O's way) and its containerd's CRI (the kubelet's
    way, where the pod's profile confines the sandbox's pause too)."""
    engine = _engine_on_node(engine_name, oci_runtime)
    image = _image_for(profile)
    code, _, errors = engine.run_command(
        image, ["true"], SecurityMode.LOCALHOST, profile.read_text()
    )
    assert code == 0, f"{profile.name} on {engine.label}: {errors.strip()[-300:]}"


def _without(profile_text: str, names: tuple[str, ...]) -> str:
    profile = json.loads(profile_text)
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in names]
    profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
    return json.dumps(profile)


def _reference(spark_image: str) -> ProfileSet:
    version = spark_image.rsplit(":", 1)[-1]
    path = REPO / "profiles" / f"spark-{version}-amd64.json"
    if not path.is_file():
        missing(f"no committed reference profile for {spark_image}")
    return ProfileSet.single(path.read_text(), path.name)


def test_the_fastest_job_passes_every_mode_in_pod_shape_on_the_newest_runc(
    spark_image: str, tmp_path: Path
) -> None:
    """Through the node's containerd and its CRI, as a kubelet of today runs pods (Podman
    on the node runs pods in the other tests: the profile-lacking-a-call check and the
    recording)."""
    engine = _engine_on_node("containerd", "runc")
    plan = CheckPlan(
        workloads=(workloads.resolve(FASTEST),),
        modes=MODES,
        shape=RunShape(spark_image, topology=Topology.POD),
        profiles=_reference(spark_image),
    )
    report = run_check(engine, plan, CheckOptions(timeout_seconds=300, run_root=tmp_path))
    for mode in MODES:
        cell = report.cell(FASTEST, mode)
        assert cell.verdict is Verdict.PASS, (engine.label, mode, cell.runs[0].error_line)
    assert engine.cleanup(session_only=True) == 0  # type: ignore[call-arg]


def test_a_call_only_the_newer_runc_needs(spark_image: str, tmp_path: Path) -> None:
    """Without openat2 and readlinkat the host's runc starts the entrypoint and sid's runc
    cannot: its init dies under the filter, and the verdict says that the OCI runtime
    could not start the container, and which call it was refused."""
    profile = _without(_reference(spark_image).union.text, NEWER_RUNC_ONLY)
    try:
        host = make_engine(EngineChoice("docker", "runc"))
    except EnvironmentProblem as exc:
        missing(exc.message)
    code, _, errors = host.run_command(spark_image, ["true"], SecurityMode.LOCALHOST, profile)
    assert code == 0, errors

    engine = _node_engine("runc")
    code, _, errors = engine.run_command(spark_image, ["true"], SecurityMode.LOCALHOST, profile)
    assert code == RUNTIME_REFUSED_EXIT
    plan = CheckPlan(
        workloads=(workloads.resolve(FASTEST),),
        modes=(SecurityMode.LOCALHOST,),
        shape=RunShape(spark_image, topology=Topology.POD),
        profiles=ProfileSet.single(profile, "without openat2, readlinkat"),
    )
    report = run_check(engine, plan, CheckOptions(timeout_seconds=300, run_root=tmp_path))
    cell = report.cell(FASTEST, SecurityMode.LOCALHOST)
    assert cell.verdict is Verdict.FAIL
    said = cell.runs[0].error_line + " " + " ".join(cell.diagnosis)
    assert "OCI runtime could not start the container" in said, said
    assert "runc" in said, said
    assert any(name in said for name in NEWER_RUNC_ONLY), said


def _processes_in(pid_namespace: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") == pid_namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_node_leaves_nothing_on_the_host_and_nothing_of_it_survives_its_stop(
    spark_image: str,
) -> None:
    from profiler.runtime.nodes.live import running_node, start_node, stop_node

    engine = _node_engine("crun")
    node = running_node(NODE)
    assert node is not None
    # A container of the node: its pid as the node's engine says it is translated to the
    # host's, and that process is in a mount namespace of its own (tracers key on it).
    engine.require_image(spark_image)
    container = engine.client.containers.run(
        engine.client.images.get(spark_image).id, ["sleep", "60"], detach=True, remove=True
    )
    try:
        container.reload()
        node_pid = int(container.attrs["State"]["Pid"])
        host_pid = engine.location.host_pid(node_pid)
        assert host_pid is not None and host_pid != node_pid
        assert os.readlink(f"/proc/{host_pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
        assert os.readlink(f"/proc/{host_pid}/ns/mnt") != os.readlink(
            f"/proc/{node.init_pid}/ns/mnt"
        )
        # A network of the node's engine lives in the node's network namespace.
        network = engine.client.networks.create("ssnode-test-leak", driver="bridge")
        try:
            bridge = network.attrs.get("NetworkInterface") or network.attrs.get("Options", {}).get(
                "com.docker.network.bridge.name"
            )
            host_links = {p.name for p in Path("/sys/class/net").iterdir()}
            assert not bridge or bridge not in host_links
        finally:
            network.remove()
        # None of the node's mounts is visible on the host.
        mounts = Path("/proc/self/mountinfo").read_text()
        assert str(node.build.rootfs) not in mounts
        namespace = os.readlink(f"/proc/{node.init_pid}/ns/pid")
        # PID 1, the Podman service and the container's conmon at least.
        assert len(_processes_in(namespace)) >= 3
    finally:
        assert stop_node(NODE)
    # The kernel killed every process of the node's PID namespace with its PID 1.
    assert _processes_in(namespace) == []
    assert not Path(f"/proc/{host_pid}").exists()
    assert running_node(NODE) is None
    # It starts again with its image store as it was.
    again = start_node(NODE)
    assert again.init_pid != node.init_pid
    restarted = PodmanBackend(oci_runtime="crun", location=again.location("podman", "crun"))
    restarted.client.images.get(spark_image)


def _runtime_calls(recordings_root: Path) -> dict[str, set[str]]:
    """Container-runtime role (named with its version) -> the calls recorded under it."""
    found: dict[str, set[str]] = {}
    for path in recordings_root.rglob("recording*.json"):
        for name, roles in json.loads(path.read_text())["counts"].items():
            for role in roles:
                if role.startswith("container runtime"):
                    found.setdefault(role, set()).add(name)
    return found


def _record_tiny_job(spark_image: str, out: Path, run_dir: Path, *where: str) -> None:
    """`record` of the tiny job in one container (local topology), ``where`` saying where
    to record (by default the host, verified there and on the newest node)."""
    code = cli(
        "record",
        str(REPO / "tests" / "fixtures" / "scripts" / "tiny_job.py"),
        "--image",
        spark_image,
        "--topology",
        "local",
        *where,
        "--out",
        str(out),
        "--run-dir",
        str(run_dir),
        "--timeout",
        "300",
    )
    assert code == 0


def test_a_recording_on_the_newest_node_names_what_its_runc_calls_after_the_filter(
    spark_image: str, tmp_path: Path
) -> None:
    """Recorded on the host's runc and the newest node's, the container-runtime role is
    named per runtime version, the newer runc's calls include some the older one's do not,
    the summary names the calls only one engine's runs needed, and the profile is verified
    by default on the newest node with runc and crun too."""
    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        missing("recording needs root and bpftrace")
    _node_engine("runc")
    out = tmp_path / "p.json"
    _record_tiny_job(
        spark_image, out, tmp_path / "run", "--node", f"host,{NODE}", "--oci-runtime", "runc"
    )
    host = _runtime_calls(tmp_path / "run" / "docker-runc" / "record")
    node = _runtime_calls(tmp_path / "run" / f"podman-runc-{NODE}" / "record")
    ((host_role, older),) = host.items()
    ((node_role, newer),) = node.items()
    assert host_role.startswith("container runtime (runc ") and node_role != host_role
    assert {"execve", "close"} <= newer  # it execs the entrypoint after the filter
    assert newer - older, (node_role, sorted(newer), host_role, sorted(older))
    summary = json.loads(out.with_name("p.summary.json").read_text())
    assert summary["oci_runtime_only"][f"podman/runc@{NODE}"]
    # Verified where it was recorded and on the newest node with both OCI runtimes.
    for label in ("docker-runc", f"podman-runc-{NODE}", f"podman-crun-{NODE}"):
        assert (tmp_path / "run" / label / "verify").is_dir(), label


def test_recorded_on_the_host_alone_the_profile_starts_on_the_newest_node(
    spark_image: str, tmp_path: Path
) -> None:
    """`record` as a user first runs it: recorded on the host's runc 1.1 only, verified by
    default there and on the newest node's runc and crun. One short container on each of
    those shows what its runtime calls after the filter (runc 1.3's openat2), the calls
    join the profile, and it starts and passes there without recording the job again."""
    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        missing("recording needs root and bpftrace")
    _node_engine("runc")
    out = tmp_path / "p.json"
    _record_tiny_job(spark_image, out, tmp_path / "run")
    summary = json.loads(out.with_name("p.summary.json").read_text())
    probed = summary["oci_runtime_only"][f"podman/runc@{NODE}"]
    assert set(probed) & set(NEWER_RUNC_ONLY), probed
    assert set(probed) <= set(load_profile(out).allowed())
    # Only the runtime's own calls came from the probe, each named with its version.
    node = _runtime_calls(tmp_path / "run" / f"podman-runc-{NODE}" / "runtime-probe")
    ((role, calls),) = node.items()
    assert role.startswith("container runtime (runc ") and set(probed) <= calls
    # Verified on the host and on the newest node with both OCI runtimes.
    for label in ("docker-runc", f"podman-runc-{NODE}", f"podman-crun-{NODE}"):
        assert (tmp_path / "run" / label / "verify").is_dir(), label
