"""What an OCI runtime's init calls after it has loaded the seccomp filter, seen on one
engine in one short container.

A Localhost profile is loaded by the OCI runtime before it execs the entrypoint, so what
the runtime's init does afterwards must be allowed too, and it changes between versions:
runc 1.3 reopens its exec fifo with openat2 (falling back to readlinkat), which runc 1.1
never calls; crun 1.2x closes descriptors with close_range. A profile recorded on one
runtime therefore need not start under another. ``record`` verifies on the newest node's
runtimes as well; rather than recording every job there too, it runs this probe there:
one container of the image (``sleep 1`` in the pod's security shape) under the recording
filter with the eBPF tracer attached, of which only the container-runtime role's calls are
kept. Those calls go into every pod role's profile as a recording of their own, so the
summary says which runtime needed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from profiler.runtime.command import command_shape
from profiler.runtime.interface import ContainerRef, ContainerSecurity, Role, SecurityMode
from profiler.runtime.orchestration import one_off_container
from profiler.seccomp.generate import recording_profile
from profiler.seccomp.recording import Recording
from profiler.tracing.interface import ROLE_RUNTIME, Tracer
from profiler.vocabulary import PodSecurity

# Long enough for the tracer to be told the container's process before it exits.
PROBE_COMMAND = ("sleep", "1")
PROBE_TIMEOUT_SECONDS = 60.0


PROBE_PREFIX = "(container start on "


def probe_workload(engine_label: str) -> str:
    """The name the probe's calls go by in recordings and summaries."""
    return f"{PROBE_PREFIX}{engine_label})"


def runtime_calls_after_filter(
    engine: Any,
    image: str,
    tracer: Tracer,
    *,
    pod_security: PodSecurity,
    run_index: int = 1,
) -> Recording | None:
    """One container of ``image`` started by ``engine`` (an engine adapter: its primitives
    and ``host_pid``), traced by ``tracer`` (which must see the process before the
    tracer is told of it, as the eBPF tracer does): a recording of the calls the OCI
    runtime's own process made after the filter, named after the engine; None when the
    tracer saw nothing of it."""
    security = ContainerSecurity.preset(pod_security)
    shape = command_shape(
        image,
        PROBE_COMMAND,
        SecurityMode.LOCALHOST,
        recording_profile().to_json(),
        security,
        run_id=f"runtime-probe-{run_index}",
    )
    tracer.before_start()
    try:
        with one_off_container(engine, shape) as container:
            engine.start(container)
            tracer.started(engine.host_pid(container), ContainerRef(Role.ALL, "runtime-probe"))
            engine.wait(container, PROBE_TIMEOUT_SECONDS)
    finally:
        tracer.finished()
    workload = probe_workload(engine.label)
    found = tracer.recordings(workload, run_index, pod_security.value)
    counts: dict[str, dict[str, int]] = {}
    for recording in found:
        for name, roles in recording.counts.items():
            for role, number in roles.items():
                if role.startswith(ROLE_RUNTIME):
                    counts.setdefault(name, {})[role] = counts.get(name, {}).get(role, 0) + number
    if not found or not counts:
        return None
    return Recording(
        workload=workload,
        run_index=run_index,
        tracer=tracer.name,
        arch=found[0].arch,
        pod_security=pod_security.value,
        counts=counts,
        exit_code=0,
        role=Role.ALL.value,
        lost_events=sum(r.lost_events for r in found),
    )


def for_roles(probed: Recording, roles: Sequence[str]) -> list[Recording]:
    """The probe's calls as a recording of each pod role: every pod's container is started
    by the runtime, so every role's profile needs them."""
    return [replace(probed, role=role) for role in roles]


def save_probes(recordings: Sequence[Recording], folder: Path) -> None:
    """Beside the runs, so ``--from-recordings`` derives the same profiles again."""
    folder.mkdir(parents=True, exist_ok=True)
    for recording in recordings:
        recording.save(folder / recording.file_name)
