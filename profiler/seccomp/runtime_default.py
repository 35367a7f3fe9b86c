"""What RuntimeDefault allows, as a reference to compare profiles against.

RuntimeDefault is not one thing: it differs by runtime and version, and capability-gated
calls (mount, unshare, bpf, mbind...) drop out once a pod drops all capabilities. The
reference is therefore computed for one architecture and one capability set.

This module reads a profile *file*: Docker's ``default.json`` format (with the Docker-only
keys ``archMap``, ``includes``/``excludes`` by ``caps``/``arches``/``minKernel``) or a
plain OCI profile. A live probe of an engine produces the same ``RuntimeDefaultReference``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.seccomp import REFERENCE_HINT, DockerFilter, DockerProfile, ProbedReference
from profiler.seccomp.arch import canonical_arch, known_syscalls, oci_architectures
from profiler.seccomp.capabilities import normalize_capability

# Docker's own default capability set (`docker run` without --cap-add/--cap-drop), for
# comparing against a laptop run; a restricted pod has none of these.
DOCKER_DEFAULT_CAPABILITIES = frozenset(
    {
        "CAP_AUDIT_WRITE",
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_MKNOD",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SETFCAP",
        "CAP_SETGID",
        "CAP_SETPCAP",
        "CAP_SETUID",
        "CAP_SYS_CHROOT",
    }
)

# Docker matches `includes.arches` against Go's GOARCH names; accept libseccomp's too.
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "x86": "386", "ppc64le": "ppc64le"}
_ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")


@dataclass(frozen=True)
class RuntimeDefaultReference:
    """The calls a RuntimeDefault profile lets through on ``arch`` for one capability set.

    From a probe, ``blocked`` and ``undecidable`` hold the probe's other two classes
    (``engine_default.ProbeClasses``): an undecidable call is never counted as allowed.
    ``engine_default`` is the filter read from the engine's OCI bundle, when it could be
    read, and ``disagreements`` the calls the two decide differently."""

    name: str  # what it describes, e.g. "docker default.json (no capabilities)"
    source: str  # file path, or how a live probe was made
    allowed: frozenset[str]
    arch: str  # libseccomp arch name
    blocked: frozenset[str] = frozenset()
    undecidable: frozenset[str] = frozenset()
    probe_allowed: frozenset[str] = frozenset()  # the probe's own "allowed" class
    engine_default: Mapping[str, Any] | None = None
    disagreements: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "arch": self.arch,
            "allowed": sorted(self.allowed),
        }
        if self.blocked or self.undecidable:
            data["probe_allowed"] = sorted(self.probe_allowed)
            data["blocked"] = sorted(self.blocked)
            data["undecidable"] = sorted(self.undecidable)
        if self.engine_default is not None:
            data["engine_default"] = dict(self.engine_default)
            data["disagreements"] = list(self.disagreements)
        return data

    def to_json(self) -> str:
        """The probed-reference file format (``profiles/runtime-default-*.json``)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str) -> RuntimeDefaultReference:
        """A probed reference file's data, validated (``formats.seccomp.ProbedReference``)."""
        model = jsonfile.validate(ProbedReference, data, source, REFERENCE_HINT)
        return cls(
            name=model.name,
            source=model.source if model.source is not None else source,
            allowed=frozenset(model.allowed),
            arch=model.arch,
            blocked=frozenset(model.blocked),
            undecidable=frozenset(model.undecidable),
            probe_allowed=frozenset(model.probe_allowed),
            engine_default=model.engine_default.model_dump() if model.engine_default else None,
            disagreements=tuple(model.disagreements),
        )


def is_probed_reference(data: Any) -> bool:
    """A probe's result (``{"name", "allowed", ...}``) rather than a seccomp profile."""
    return isinstance(data, dict) and "allowed" in data and "defaultAction" not in data


def bundled_reference_file(arch: str | None = None) -> Path | None:
    """The RuntimeDefault this tool measured from an engine earlier and keeps in profiles/."""
    from profiler.paths import data_dir
    from profiler.seccomp.arch import native_arch

    target = canonical_arch(arch) if arch else native_arch()
    go_arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(target, target)
    found = sorted(data_dir("profiles").glob(f"runtime-default-*-{go_arch}.json"))
    return found[-1] if found else None


def _arch_names(arch: str) -> frozenset[str]:
    return frozenset({arch, _GO_ARCH.get(arch, arch)})


def _kernel_tuple(text: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text.strip())
    if not match:
        raise UsageError(f"cannot read kernel version {text!r}", "use a form like 5.15 or 6.1.0")
    return tuple(int(part) for part in match.groups() if part is not None)


def _applies(
    includes: DockerFilter,
    excludes: DockerFilter,
    arch_names: frozenset[str],
    caps: frozenset[str],
    kernel: tuple[int, ...] | None,
) -> bool:
    """Docker's rule filter: every includes condition holds and no excludes condition does."""
    if includes.arches and not arch_names & set(includes.arches):
        return False
    inc_caps = [normalize_capability(c) for c in includes.caps]
    if inc_caps and not all(c in caps for c in inc_caps):
        return False
    if includes.minKernel and kernel is not None and kernel < _kernel_tuple(includes.minKernel):
        return False
    if excludes.arches and arch_names & set(excludes.arches):
        return False
    exc_caps = [normalize_capability(c) for c in excludes.caps]
    if exc_caps and any(c in caps for c in exc_caps):
        return False
    return not (
        excludes.minKernel and kernel is not None and kernel >= _kernel_tuple(excludes.minKernel)
    )


def _covers_arch(profile: DockerProfile, arch: str) -> bool:
    listed: set[str] = set(profile.architectures)
    for entry in profile.archMap:
        listed.add(entry.architecture)
        listed.update(entry.subArchitectures)
    return not listed or oci_architectures(arch)[0] in listed


def allowed_by_profile_data(
    data: Any,
    *,
    arch: str,
    capabilities: Iterable[str] = (),
    kernel: str | None = None,
    source: str = "profile",
) -> frozenset[str]:
    """Names a default.json-style profile lets through on ``arch`` (real calls there only).

    A name counts as allowed when an applicable rule allows it, with or without argument
    checks (personality, socket, clone are argument-filtered in Docker's profile), and no
    applicable rule denies it. ``kernel=None`` takes every ``minKernel`` as satisfied.
    """
    profile = jsonfile.validate(DockerProfile, data, source, REFERENCE_HINT)
    arch = canonical_arch(arch)
    if not _covers_arch(profile, arch):
        raise UsageError(
            f"{source} has no entry for architecture {arch}",
            "pick the --arch the profile was written for",
        )
    arch_names = _arch_names(arch)
    caps = frozenset(normalize_capability(c) for c in capabilities)
    kernel_version = _kernel_tuple(kernel) if kernel else None
    allowed: set[str] = set()
    denied: set[str] = set()
    for rule in profile.syscalls:
        if not _applies(rule.includes, rule.excludes, arch_names, caps, kernel_version):
            continue
        names = rule.names or ([rule.name] if rule.name else [])
        (allowed if rule.action in _ALLOWING else denied).update(names)
    native = known_syscalls(arch)
    if profile.defaultAction in _ALLOWING:
        return frozenset(native - (denied - allowed))
    return frozenset((allowed & native) - (denied - allowed))


def load_runtime_default(
    path: Path,
    *,
    arch: str,
    capabilities: Iterable[str] = (),
    kernel: str | None = None,
    name: str | None = None,
) -> RuntimeDefaultReference:
    """A ``RuntimeDefaultReference`` from a profile file (Docker default.json or plain OCI)."""
    path = Path(path)
    source = f"RuntimeDefault profile {path}"
    data = jsonfile.read_json(path, source, REFERENCE_HINT)
    if is_probed_reference(data):
        # Probed with every capability dropped: the caller decides whether that fits.
        return RuntimeDefaultReference.from_dict(data, source)
    caps = sorted(normalize_capability(c) for c in capabilities)
    allowed = allowed_by_profile_data(
        data, arch=arch, capabilities=caps, kernel=kernel, source=source
    )
    cap_text = ", ".join(caps) if caps else "no capabilities"
    return RuntimeDefaultReference(
        name=name or f"RuntimeDefault from {path.name} ({cap_text})",
        source=str(path),
        allowed=allowed,
        arch=canonical_arch(arch),
    )
