"""RuntimeDefault as the engine really hands it to the OCI runtime, and the probe's view of it.

The engine's default profile is read from the OCI bundle of a container it runs under
RuntimeDefault with the restricted settings (``linux.seccomp`` of the bundle's
``config.json``), after the engine resolved its includes, capabilities and architectures.
The probe (``profiler.runtime.probe``) is an independent cross-check that sorts each call
into one of three classes; this module compares the two (pure).
"""

from __future__ import annotations

import errno as errno_codes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from profiler.formats import jsonfile
from profiler.formats.seccomp import DockerProfile
from profiler.seccomp.arch import known_syscalls

_ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
BUNDLE_HINT = "the engine's bundle config.json must hold an OCI linux.seccomp object"


@dataclass(frozen=True)
class EngineDefault:
    """The filter an engine gives a RuntimeDefault container, on one architecture."""

    source: str
    default_action: str
    default_errno: int | None  # errno of the default action (EPERM when not given)
    allowed: frozenset[str]  # by a rule without argument checks
    argument_filtered: frozenset[str]  # allowed only for some argument values
    errno_rules: Mapping[str, int]  # names answered with an errno other than the default's

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "default_action": self.default_action,
            "default_errno": self.default_errno,
            "allowed": sorted(self.allowed),
            "argument_filtered": sorted(self.argument_filtered),
            "errno_rules": dict(sorted(self.errno_rules.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineDefault:
        return cls(
            source=str(data["source"]),
            default_action=str(data["default_action"]),
            default_errno=data.get("default_errno"),
            allowed=frozenset(data["allowed"]),
            argument_filtered=frozenset(data.get("argument_filtered", ())),
            errno_rules=dict(data.get("errno_rules", {})),
        )

    @property
    def default_errno_name(self) -> str:
        if self.default_errno is None:
            return "-"
        return errno_codes.errorcode.get(self.default_errno, str(self.default_errno))


def engine_default_from_oci(seccomp: Any, *, arch: str, source: str) -> EngineDefault:
    """An ``EngineDefault`` from a bundle's ``linux.seccomp`` (validated first)."""
    profile = jsonfile.validate(DockerProfile, seccomp, source, BUNDLE_HINT)
    native = known_syscalls(arch)
    allowed: set[str] = set()
    filtered: set[str] = set()
    errno_rules: dict[str, int] = {}
    default_errno = profile.defaultErrnoRet
    if default_errno is None and profile.defaultAction == "SCMP_ACT_ERRNO":
        default_errno = errno_codes.EPERM  # the OCI runtimes' default for a bare ERRNO
    for rule in profile.syscalls:
        names = [n for n in (rule.names or ([rule.name] if rule.name else [])) if n in native]
        if rule.action in _ALLOWING:
            (filtered if rule.args else allowed).update(names)
        elif rule.action == "SCMP_ACT_ERRNO" and rule.errnoRet not in (None, default_errno):
            errno_rules.update(dict.fromkeys(names, int(rule.errnoRet or 0)))
    return EngineDefault(
        source=source,
        default_action=profile.defaultAction,
        default_errno=default_errno,
        allowed=frozenset(allowed),
        argument_filtered=frozenset(filtered - allowed),
        errno_rules=errno_rules,
    )


# -- the probe's three classes -------------------------------------------------------------


@dataclass(frozen=True)
class ProbeClasses:
    """How each call fared in the probe, confined against unconfined with the same (no)
    capabilities: ``allowed`` (same outcome, and not a refusal), ``blocked`` (the outcome
    differs: the filter answered) and ``undecidable`` (EPERM both ways: the kernel refuses
    for lack of a capability whether or not the filter lets the call through; or ENOSYS
    both ways: the call does not exist on this kernel)."""

    allowed: frozenset[str]
    blocked: frozenset[str]
    undecidable: frozenset[str]


def classify_probe(
    numbers: Mapping[str, int | None],
    confined: Mapping[str, object],
    unconfined: Mapping[str, object],
) -> ProbeClasses:
    allowed, blocked, undecidable = set(), set(), set()
    for name, number in numbers.items():
        if number is None:
            continue
        inside, outside = confined.get(str(number)), unconfined.get(str(number))
        if inside != outside:
            blocked.add(name)
        elif outside in (errno_codes.EPERM, errno_codes.ENOSYS):
            # EPERM: refused for lack of a capability; ENOSYS: this kernel lacks the call
            # (or runc's stub answers for numbers above the filter's highest, as it does
            # for map_shadow_stack under Docker 20.10's default) - the filter is hidden.
            undecidable.add(name)
        else:
            allowed.add(name)
    return ProbeClasses(frozenset(allowed), frozenset(blocked), frozenset(undecidable))


@dataclass(frozen=True)
class Disagreement:
    name: str
    bundle: str  # "allowed" or "not allowed"
    probe: str  # the probe's class

    def describe(self) -> str:
        return f"{self.name}: {self.bundle} by the bundle's filter, {self.probe} by the probe"


def cross_check(engine: EngineDefault, probe: ProbeClasses) -> tuple[Disagreement, ...]:
    """Calls the bundle and the probe decide differently. Argument-filtered calls and the
    probe's undecidable ones are left out: the probe's invalid arguments say nothing
    about the first, and the kernel's refusal hides the filter for the second."""
    found = []
    for name in sorted(probe.allowed | probe.blocked):
        if name in engine.argument_filtered:
            continue
        in_bundle = name in engine.allowed
        if in_bundle and name in probe.blocked:
            found.append(Disagreement(name, "allowed", "blocked"))
        elif not in_bundle and name in probe.allowed and not _errno_like_kernel(engine, name):
            found.append(Disagreement(name, "not allowed", "allowed"))
    return tuple(found)


def _errno_like_kernel(engine: EngineDefault, name: str) -> bool:
    """A call the filter answers with ENOSYS looks to the probe exactly like a call this
    kernel does not implement (containers-common denies with ENOSYS by default)."""
    return engine.errno_rules.get(name, engine.default_errno) == errno_codes.ENOSYS
