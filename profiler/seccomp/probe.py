"""What the engine's RuntimeDefault really allows, found by probing rather than trusting.

RuntimeDefault differs by engine and version, and its Docker-format source (includes,
excludes, capabilities, minKernel) says less than the running engine does. So we run a
probe in a locked-down container twice, under runtime-default and under unconfined with
the same capabilities (all dropped, no-new-privileges, no network, read-only root), that
calls every syscall number libseccomp knows with invalid arguments, each in a child
process with a timeout. Numbers whose outcome differs are filtered by the default profile.
The result is cached per engine version and can be kept in ``profiles/``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.paths import read_cached, write_cached
from profiler.runtime.docker import TOOLS_DIR
from profiler.runtime.engine import connect, engine_versions, require_image
from profiler.runtime.interface import SecurityMode
from profiler.seccomp.arch import known_syscalls, native_arch, syscall_number
from profiler.seccomp.runtime_default import RuntimeDefaultReference

PER_CALL_TIMEOUT = 1.0


def probe_runtime_default(image: str, *, client: Any | None = None) -> RuntimeDefaultReference:
    """Probe (or read the cached probe of) this engine's RuntimeDefault on this machine."""
    client = client or connect()
    versions = engine_versions(client)
    arch = native_arch()
    name = f"docker-{versions.get('engine', 'unknown')}"
    cache = f"runtime-default-{name}-{arch}.json"
    cached = read_cached(cache)
    if cached is not None:
        with contextlib.suppress(ValueError, KeyError):
            return RuntimeDefaultReference.from_dict(json.loads(cached), cache)
    require_image(client, image)
    names = sorted(known_syscalls(arch))
    numbers = {n: syscall_number(n, arch) for n in names}
    argv = [str(PER_CALL_TIMEOUT), *[str(v) for v in numbers.values() if v is not None]]
    confined = _run_probe(client, image, argv, unconfined=False)
    free = _run_probe(client, image, argv, unconfined=True)
    blocked = {
        n for n, v in numbers.items() if v is not None and confined.get(str(v)) != free.get(str(v))
    }
    reference = RuntimeDefaultReference(
        name=f"{name} runtime-default",
        source=f"probe of {image}, all capabilities dropped, no-new-privileges",
        allowed=frozenset(n for n in names if n not in blocked),
        arch=arch,
    )
    write_cached(cache, reference.to_json())
    return reference


def _run_probe(client: Any, image: str, argv: list[str], *, unconfined: bool) -> dict[str, Any]:
    from profiler.runtime.docker import DockerBackend

    # Restricted pod security on both sides: the same (no) capabilities, so a difference
    # in outcome can only come from the filter.
    mode = SecurityMode.UNCONFINED if unconfined else SecurityMode.RUNTIME_DEFAULT
    exit_code, output, errors = DockerBackend(client).run_command(
        image, ["python3", f"{TOOLS_DIR}/syscall_probe.py", *argv], mode, timeout_seconds=900
    )
    if exit_code != 0 or not output.strip():
        last = (errors.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"the RuntimeDefault probe failed: {last}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result
