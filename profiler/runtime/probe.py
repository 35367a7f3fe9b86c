"""What the engine's RuntimeDefault really allows, found by probing rather than trusting.

RuntimeDefault differs by engine and version, and its Docker-format source (includes,
excludes, capabilities, minKernel) says less than the running engine does. So we run a
probe in a locked-down container twice, under runtime-default and under unconfined with
the same capabilities (all dropped, no-new-privileges, no network, read-only root), that
calls every syscall number libseccomp knows with invalid arguments, each in a child
process with a timeout. Numbers whose outcome differs are filtered by the default profile.
Each call is then allowed, blocked, or undecidable (EPERM both ways: the kernel refuses
for lack of a capability whether or not the filter lets it through); undecidable calls are
never counted as allowed. Beside the probe, the filter the engine really hands the OCI
runtime is read from a running container's bundle, and the two are cross-checked.
The result is cached per engine version and can be kept in ``profiles/``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem, UsageError
from profiler.paths import read_cached, write_cached
from profiler.runtime.command import TOOLS_DIR
from profiler.runtime.interface import Backend, ContainerEngine, SecurityMode
from profiler.runtime.run_shape import DOCKER_RUNC, EngineChoice
from profiler.seccomp.arch import canonical_arch, known_syscalls, native_arch, syscall_number
from profiler.seccomp.engine_default import (
    EngineDefault,
    classify_probe,
    cross_check,
    engine_default_from_oci,
)
from profiler.seccomp.runtime_default import RuntimeDefaultReference, load_runtime_default

PER_CALL_TIMEOUT = 1.0


def probe_runtime_default(
    image: str, *, engine: ContainerEngine | None = None
) -> RuntimeDefaultReference:
    """Probe (or read the cached probe of) an engine's RuntimeDefault on this machine
    (``engine``: Docker with runc unless given)."""
    if engine is None:
        from profiler.runtime.select import make_engine

        engine = make_engine(DOCKER_RUNC)
    versions = engine.versions()
    arch = native_arch()
    # "docker-20.10.24-runc-1.1.5": the filter is the engine's, the calls the OCI runtime
    # needs after loading it are its own.
    name = "-".join(
        versions.get(key, "unknown").replace(" ", "-") for key in ("engine", "oci_runtime")
    )
    # "3classes": probes cached before the undecidable class existed are not reused.
    cache = f"runtime-default-3classes-{name}-{arch}.json"
    cached = read_cached(cache)
    if cached is not None:
        with contextlib.suppress(ValueError, KeyError):
            return RuntimeDefaultReference.from_dict(json.loads(cached), cache)
    engine.require_image(image)
    names = sorted(known_syscalls(arch))
    numbers = {n: syscall_number(n, arch) for n in names}
    argv = [str(PER_CALL_TIMEOUT), *[str(v) for v in numbers.values() if v is not None]]
    confined = _run_probe(engine, image, argv, unconfined=False)
    free = _run_probe(engine, image, argv, unconfined=True)
    classes = classify_probe(numbers, confined, free)
    default = _engine_default(engine, image, arch)
    # What consumers (diagnosis, the local backend's emulation, diffs) take as allowed: the
    # bundle's filter when it could be read, as it is what runc loads; else the probe's
    # allowed and undecidable calls (futex with invalid arguments is ENOSYS both ways).
    allowed = (
        (default.allowed | default.argument_filtered) & frozenset(names)
        if default is not None
        else classes.allowed | classes.undecidable
    )
    reference = RuntimeDefaultReference(
        name=f"{name} runtime-default",
        source=f"probe of {image}, all capabilities dropped, no-new-privileges"
        + ("; allowed as read from the engine's bundle" if default is not None else ""),
        allowed=allowed,
        probe_allowed=classes.allowed,
        arch=arch,
        blocked=classes.blocked,
        undecidable=classes.undecidable,
        engine_default=default.to_dict() if default is not None else None,
        disagreements=tuple(d.describe() for d in cross_check(default, classes))
        if default is not None
        else (),
    )
    write_cached(cache, reference.to_json())
    return reference


def probe_engines(
    choices: Sequence[EngineChoice], image: str
) -> dict[str, RuntimeDefaultReference]:
    """Each engine's RuntimeDefault, read and probed, by its label ("podman/crun")."""
    from profiler.runtime.select import make_engine

    return {c.label: probe_runtime_default(image, engine=make_engine(c)) for c in choices}


def resolve_runtime_default(
    file: Path | None,
    *,
    image: str,
    arch: str | None = None,
    capabilities: frozenset[str] = frozenset(),
) -> RuntimeDefaultReference:
    """The one place that decides where "runtime-default" comes from: the profile file
    given (``--runtime-default FILE``), else the Docker engine here, read and probed in
    ``image`` (only for this machine's architecture)."""
    target = canonical_arch(arch) if arch else native_arch()
    if file is not None:
        return load_runtime_default(file, arch=target, capabilities=capabilities)
    if target == native_arch():
        try:
            return probe_runtime_default(image)
        except EnvironmentProblem as exc:
            raise UsageError(
                "comparing with runtime-default needs the engine's default profile, and "
                f"probing it failed: {exc.message}",
                "start Docker and build the image, or pass --runtime-default FILE",
            ) from exc
    raise UsageError(
        f"runtime-default for {target} cannot be probed on this {native_arch()} machine",
        "pass --runtime-default FILE, e.g. moby's profiles/seccomp/default.json",
    )


def reference_beside_results(
    file: Path | None, backend: Backend | None, image: str
) -> RuntimeDefaultReference:
    """The RuntimeDefault allow list kept beside bench results for the report's size
    section: ``file``'s, else that of the engine the runs used (read and probed), else
    Docker's."""
    if file is None and isinstance(backend, ContainerEngine):
        return probe_runtime_default(image, engine=backend)
    return resolve_runtime_default(file, image=image)


def _engine_default(engine: ContainerEngine, image: str, arch: str) -> EngineDefault | None:
    found = engine.runtime_default_filter(image)
    if found is None:
        return None
    where, seccomp = found
    return engine_default_from_oci(
        seccomp, arch=arch, source=f"linux.seccomp of a RuntimeDefault container's bundle ({where})"
    )


def _run_probe(
    engine: ContainerEngine, image: str, argv: list[str], *, unconfined: bool
) -> dict[str, Any]:
    # Restricted pod security on both sides: the same (no) capabilities, so a difference
    # in outcome can only come from the filter.
    mode = SecurityMode.UNCONFINED if unconfined else SecurityMode.RUNTIME_DEFAULT
    exit_code, output, errors = engine.run_command(
        image, ["python3", f"{TOOLS_DIR}/syscall_probe.py", *argv], mode, timeout_seconds=900
    )
    if exit_code != 0 or not output.strip():
        last = (errors.strip().splitlines() or ["no output"])[-1]
        raise EnvironmentProblem(f"the RuntimeDefault probe on {engine.label} failed: {last}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result
