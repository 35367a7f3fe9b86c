"""Which RuntimeDefault allow list a run is judged against: ``--runtime-default FILE`` or
the reference probed earlier and kept in profiles/, read for the capabilities the
container really keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

from profiler.errors import ProfilerError
from profiler.runtime.interface import ContainerSecurity
from profiler.seccomp import arch as arch_lib
from profiler.seccomp.capabilities import normalize_capability
from profiler.seccomp.runtime_default import (
    DOCKER_DEFAULT_CAPABILITIES,
    RuntimeDefaultReference,
    bundled_reference_file,
    is_probed_reference,
    load_runtime_default,
)


def find_runtime_default_reference(explicit: Path | None = None) -> Path | None:
    """``--runtime-default FILE``, else the reference measured earlier and kept in profiles/."""
    return explicit if explicit is not None else bundled_reference_file()


def load_reference(path: Path, capabilities: frozenset[str]) -> RuntimeDefaultReference:
    """A Docker default.json / OCI profile, or a probed reference (``profiles/``: made
    with every capability dropped, so only right for pods that drop them all)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfilerError(f"cannot read RuntimeDefault reference {path}: {exc}") from exc
    if is_probed_reference(data) and capabilities:
        raise ProfilerError(
            f"{path} was probed with every capability dropped; this run keeps "
            f"{len(capabilities)}, so its RuntimeDefault allows more",
            "pass the engine's default.json with --runtime-default FILE",
        )
    return load_runtime_default(path, arch=arch_lib.native_arch(), capabilities=capabilities)


def kept_capabilities(security: ContainerSecurity) -> frozenset[str]:
    """The capabilities a container keeps: the engine's defaults, minus drops, plus adds."""
    drop = {normalize_capability(c) for c in security.cap_drop}
    add = {normalize_capability(c) for c in security.cap_add}
    base = set() if "CAP_ALL" in drop else set(DOCKER_DEFAULT_CAPABILITIES) - drop
    return frozenset(base | add)
