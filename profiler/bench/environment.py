"""The environment record of a benchmark: what the numbers depend on besides the profile.

Seccomp's cost depends on the kernel more than on the profile: since 5.11 the kernel
caches "always allow" per syscall number, and before 5.16 installing any filter could
switch on the Speculative Store Bypass mitigation (SSBD), which slows CPU-bound code. So
every bench records the kernel, the SSBD state *of a confined process* (a tiny container
under runtime-default reads its own /proc/self/status), its Seccomp and Seccomp_filters
lines, the BPF JIT switch, CPU model and count, engine, containerd and OCI runtime (runc or crun) versions, the
image and its Spark version, and the date.

Parsing is pure (``parse_cpuinfo``, ``parse_status``) and tested on fixtures; collecting
touches the host and, when the backend can run commands, the engine.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from profiler.runtime.interface import (
    Backend,
    ContainerEngine,
    ContainerSecurity,
    PodSecurity,
    SecurityMode,
)
from profiler.vocabulary import SPARK_VERSION_LABEL

STATUS_KEYS = ("Speculation_Store_Bypass", "Seccomp", "Seccomp_filters", "NoNewPrivs")
PROBE_ARGV = (
    "grep",
    "-E",
    "^(" + "|".join(STATUS_KEYS) + "):",
    "/proc/self/status",
)
UNKNOWN = "unknown"


# A backend that can also run a short command and say what engine it is.
CommandRunner = ContainerEngine


def parse_cpuinfo(text: str) -> tuple[str, int]:
    """(CPU model, logical CPU count) from /proc/cpuinfo; arm64 names no model name."""
    model = ""
    count = 0
    implementer = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "processor":
            count += 1
        elif key == "model name" and not model:
            model = value
        elif key == "CPU implementer" and not implementer:
            implementer = value
    if not model and implementer:
        model = f"CPU implementer {implementer}"
    return model or UNKNOWN, count


def parse_status(text: str) -> dict[str, str]:
    """The ``STATUS_KEYS`` lines of a /proc/PID/status text, values whitespace-trimmed."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in STATUS_KEYS:
            found[key.strip()] = " ".join(value.split())
    return found


def host_facts(proc: Path = Path("/proc")) -> dict[str, Any]:
    """Kernel, architecture, CPU, BPF JIT and date, read from this host."""
    uname = platform.uname()
    facts: dict[str, Any] = {
        "kernel": uname.release,
        "kernel_build": uname.version,
        "arch": uname.machine,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    model, count = parse_cpuinfo(_read(proc / "cpuinfo"))
    facts["cpu_model"] = model
    facts["cpu_count"] = count or os.cpu_count() or 0
    jit = _read(proc / "sys" / "net" / "core" / "bpf_jit_enable").strip()
    facts["bpf_jit_enable"] = jit or UNKNOWN
    return facts


def confined_status(
    runner: CommandRunner, image: str, mode: SecurityMode, security: ContainerSecurity
) -> dict[str, str]:
    """The ``STATUS_KEYS`` lines of a process in a container of ``image`` under ``mode``."""
    exit_code, stdout, stderr = runner.run_command(image, PROBE_ARGV, mode, None, security)
    status = parse_status(stdout)
    if exit_code != 0 and not status:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"status probe exited {exit_code}: {last[:160]}"}
    return status


def collect_environment(
    backend: Backend, image: str, pod_security: PodSecurity = PodSecurity.RESTRICTED
) -> dict[str, Any]:
    """The flat environment record of a bench (scalar values, for the report's table).

    Engine facts and the confined process's status need a ``CommandRunner``; with any
    other backend (a fake) they are recorded as unknown rather than guessed.
    """
    environment = host_facts()
    environment["pod_security"] = pod_security.value
    environment["image"] = image
    if not isinstance(backend, CommandRunner):
        environment["engine"] = UNKNOWN
        return environment
    versions = backend.versions()
    environment["engine"] = versions.get("engine", UNKNOWN)
    environment["oci_runtime"] = versions.get("oci_runtime", UNKNOWN)
    environment["containerd"] = versions.get("containerd", UNKNOWN)
    # Where the engine ran: the host, or a node's build and the versions it holds.
    environment["node"] = versions.get("node", "host")
    environment["cgroup_driver"] = backend.cgroup_driver()
    try:
        image_id, labels = backend.image_facts(image)
        environment["image_id"] = image_id
        environment["spark_version"] = str(labels.get(SPARK_VERSION_LABEL, UNKNOWN))
    except Exception:  # noqa: BLE001 - a missing fact is recorded, not fatal
        environment["image_id"] = UNKNOWN
        environment["spark_version"] = UNKNOWN
    security = ContainerSecurity.preset(pod_security)
    confined = confined_status(backend, image, SecurityMode.RUNTIME_DEFAULT, security)
    unconfined = confined_status(backend, image, SecurityMode.UNCONFINED, security)
    environment.update(_status_fields(confined, "confined"))
    environment.update(_status_fields(unconfined, "unconfined"))
    return environment


def _status_fields(status: dict[str, str], prefix: str) -> dict[str, str]:
    # The confined process's SSBD line is the headline fact, so it keeps the plain name.
    names = {
        "Speculation_Store_Bypass": "speculation_store_bypass",
        "Seccomp": "seccomp",
        "Seccomp_filters": "seccomp_filters",
        "NoNewPrivs": "no_new_privs",
    }
    fields = {f"{name}_{prefix}": status.get(key, UNKNOWN) for key, name in names.items()}
    if prefix == "confined":
        fields["speculation_store_bypass"] = fields.pop("speculation_store_bypass_confined")
    if "error" in status:
        fields[f"status_probe_{prefix}"] = status["error"]
    return fields


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
