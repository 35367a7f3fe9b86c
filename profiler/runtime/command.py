"""The one-off command container: a probe, a micro-benchmark, a question to the image.

Every engine's ``run_command`` starts its container from ``command_shape``: the shape of a
workload's local container (restricted pod security unless told otherwise, tini as PID 1,
loopback only), with ``argv`` given to the image's own entrypoint and the tool's helper
scripts mounted read-only at ``TOOLS_DIR``, so a probe sees what a Spark job sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from profiler.runtime.interface import (
    ContainerSecurity,
    PodSecurity,
    Role,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.pod import ContainerPlan
from profiler.runtime.shape import Bind, ContainerShape, container_shape, pod_shape
from profiler.workloads import Workload

TOOLS_DIR = "/opt/spark-seccomp-tools"
TOOLS_ON_HOST = Path(__file__).resolve().parent.parent / "image_tools"
# What ``run_command`` answers when the OCI runtime could not start the container (as
# `docker run` exits 125 when the container cannot be run).
RUNTIME_REFUSED_EXIT = 125


def command_spec(
    image: str,
    mode: SecurityMode,
    profile_json: str | None = None,
    security: ContainerSecurity | None = None,
) -> RunSpec:
    """The spec of a one-off command in the shape of a workload's local container:
    restricted pod security unless ``security`` says otherwise."""
    return RunSpec(
        workload=Workload("command", TOOLS_ON_HOST / "command", "", False),
        mode=mode,
        image=image,
        pod_security=PodSecurity.RESTRICTED,
        profile_json=profile_json if mode is SecurityMode.LOCALHOST else None,
        security=security,
        topology=Topology.LOCAL,
    )


def command_shape(
    image: str,
    argv: Sequence[str],
    mode: SecurityMode,
    profile_json: str | None = None,
    security: ContainerSecurity | None = None,
    *,
    mounts: Mapping[str, str] | None = None,
    run_id: str = "command",
) -> ContainerShape:
    """The container of a one-off ``argv``; ``mounts`` maps host directories to read-only
    container paths, besides the tools directory."""
    spec = command_spec(image, mode, profile_json, security)
    plan = ContainerPlan(
        role=Role.ALL,
        name="localhost",
        args=tuple(argv),
        env=(),
        settings=spec.settings_for(Role.ALL),
    )
    binds = [Bind(str(TOOLS_ON_HOST), TOOLS_DIR)]
    binds += [Bind(str(host), inside) for host, inside in (mounts or {}).items()]
    pod = pod_shape(plan, spec, run_id, networked=False)
    return container_shape(plan, pod, spec, tuple(binds))
