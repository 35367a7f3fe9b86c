"""Deriving a profile from recordings, and the summary that says why each call is in it.

``derive_profile`` is a pure function of its inputs: the same recordings (in any order)
give byte-identical ``Profile.to_json()`` and ``Summary.to_json()``. The summary is
written beside the profile as ``NAME.summary.json`` and is what ``profile explain``,
``profile merge`` and the report read: runs that contained each call, which workloads and
process roles made it, how often, what was held back and why, what each target
architecture lacks, and which calls showed up in only some runs of a workload (flaky:
one more run might need a call no run has shown yet).
"""

from __future__ import annotations

import errno as errno_codes
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.summary import SUMMARY_HINT, SummaryFile
from profiler.seccomp.arch import (
    canonical_arch,
    known_syscalls,
    oci_architectures,
    oci_sub_arches,
    translate_names,
)
from profiler.seccomp.profile import Profile, SyscallRule, allow_all_profile
from profiler.seccomp.recording import Recording
from profiler.seccomp.risky import HeldBack, split_risky

ERRNO_CHOICES: Mapping[str, int] = {"enosys": errno_codes.ENOSYS, "eperm": errno_codes.EPERM}

# Calls whose absence libc and the JVM handle only on ENOSYS (they fall back to an older
# call); EPERM makes them fail hard ("pthread_create failed (EPERM)" for clone3). When one
# is not allowed, a per-rule errnoRet makes sure it gets ENOSYS whatever the default errno
# and whether or not the engine honours defaultErrnoRet.
ENOSYS_FALLBACKS = (
    "clone3",
    "close_range",
    "epoll_pwait2",
    "faccessat2",
    "fchmodat2",
    "openat2",
    "statx",
)

SUMMARY_FORMAT = 1


@dataclass(frozen=True)
class SyscallUsage:
    """How the recordings behind a profile used one call."""

    name: str
    runs: int  # recordings that contained it
    workloads: Mapping[str, int] = field(default_factory=dict)  # workload -> runs with it
    roles: Mapping[str, int] = field(default_factory=dict)  # process role -> calls
    calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "workloads": dict(sorted(self.workloads.items())),
            "roles": dict(sorted(self.roles.items())),
            "calls": self.calls,
        }


@dataclass(frozen=True)
class Summary:
    """What went into a profile and why; deterministic JSON beside the profile."""

    total_runs: int
    workloads: Mapping[str, int]  # workload -> number of recordings
    usage: Mapping[str, SyscallUsage]  # every recorded call, allowed or held back
    arches: tuple[str, ...] = ()
    errno: str = "enosys"
    explicit_errno: bool = False
    allowed: frozenset[str] = frozenset()
    user_allowed: frozenset[str] = frozenset()
    held_back: tuple[HeldBack, ...] = ()
    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # arch -> names
    added: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> added
    arg_values: Mapping[str, frozenset[int]] = field(default_factory=dict)
    unknown_numbers: frozenset[int] = frozenset()
    # Recorded under several OCI runtimes: runtime -> calls only its runs made.
    oci_runtime_only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Runs whose tracer dropped events: "WORKLOAD run N" -> events lost.
    lost_events: Mapping[str, int] = field(default_factory=dict)

    @property
    def flaky(self) -> tuple[str, ...]:
        """Calls some but not all runs of one workload made: more runs may be needed."""
        return tuple(
            sorted(
                name
                for name, use in self.usage.items()
                if any(0 < seen < self.workloads.get(w, 0) for w, seen in use.workloads.items())
            )
        )

    def to_dict(self) -> dict[str, Any]:
        flaky = set(self.flaky)
        return {
            "format": SUMMARY_FORMAT,
            "total_runs": self.total_runs,
            "workloads": dict(sorted(self.workloads.items())),
            "arches": list(self.arches),
            "errno": self.errno,
            "explicit_errno": self.explicit_errno,
            "allowed": sorted(self.allowed),
            "user_allowed": sorted(self.user_allowed),
            "held_back": [h.to_dict() for h in sorted(self.held_back, key=lambda h: h.name)],
            "flaky": sorted(flaky),
            "missing": {a: list(n) for a, n in sorted(self.missing.items())},
            "added": {n: list(a) for n, a in sorted(self.added.items())},
            "arg_values": {k: sorted(v) for k, v in sorted(self.arg_values.items())},
            "unknown_numbers": sorted(self.unknown_numbers),
            **(
                {"oci_runtime_only": {k: list(v) for k, v in sorted(self.oci_runtime_only.items())}}
                if self.oci_runtime_only
                else {}
            ),
            **({"lost_events": dict(sorted(self.lost_events.items()))} if self.lost_events else {}),
            "syscalls": {
                name: {
                    **use.to_dict(),
                    "total_runs": self.total_runs,
                    "flaky": name in flaky,
                    "allowed": name in self.allowed,
                }
                for name, use in sorted(self.usage.items())
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "summary") -> Summary:
        """A summary from parsed JSON, validated (``formats.summary.SummaryFile``)."""
        if not isinstance(data, dict) or data.get("format") != SUMMARY_FORMAT:
            raise UsageError(
                f"{source} is not a profile summary (format {SUMMARY_FORMAT})",
                "summaries are written by `spark-seccomp record` beside the profile",
            )
        model = jsonfile.validate(SummaryFile, data, source, SUMMARY_HINT)
        return cls(
            total_runs=model.total_runs,
            workloads=dict(model.workloads),
            usage={
                name: SyscallUsage(name, u.runs, dict(u.workloads), dict(u.roles), u.calls)
                for name, u in model.syscalls.items()
            },
            arches=tuple(model.arches),
            errno=model.errno,
            explicit_errno=model.explicit_errno,
            allowed=frozenset(model.allowed),
            user_allowed=frozenset(model.user_allowed),
            held_back=tuple(HeldBack(h.name, h.reason, h.capability) for h in model.held_back),
            missing={a: tuple(n) for a, n in model.missing.items()},
            added={n: tuple(a) for n, a in model.added.items()},
            arg_values={k: frozenset(v) for k, v in model.arg_values.items()},
            unknown_numbers=frozenset(model.unknown_numbers),
            oci_runtime_only={k: tuple(v) for k, v in (model.oci_runtime_only or {}).items()},
            lost_events=dict(model.lost_events),
        )


def summary_path_for(profile_path: Path) -> Path:
    """Where a profile's summary lives: ``NAME.json`` -> ``NAME.summary.json``."""
    profile_path = Path(profile_path)
    stem = (
        profile_path.name[: -len(".json")] if profile_path.suffix == ".json" else profile_path.name
    )
    return profile_path.with_name(f"{stem}.summary.json")


def load_summary(path: Path) -> Summary:
    source = f"summary {path}"
    return Summary.from_dict(jsonfile.read_json(Path(path), source, SUMMARY_HINT), source)


def parse_errno(name: str) -> int:
    try:
        return ERRNO_CHOICES[name.lower()]
    except KeyError:
        raise UsageError(
            f"unknown errno {name!r}", f"choose {' or '.join(ERRNO_CHOICES)}"
        ) from None


def recording_profile() -> Profile:
    """Allows every call yet installs a filter, so a tracer can keep only post-filter calls
    (seccomp mode 2) and leave out the runtime's setup (see ``allow_all_profile``)."""
    return allow_all_profile()


def usage_from_recordings(
    recordings: Iterable[Recording],
) -> tuple[int, dict[str, int], dict[str, SyscallUsage]]:
    """(runs, workload -> runs, name -> usage) aggregated order-independently."""
    total = 0
    workloads: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    by_workload: dict[str, Counter[str]] = {}
    roles: dict[str, Counter[str]] = {}
    for recording in recordings:
        total += 1
        workloads[recording.workload] += 1
        for name, per_role in recording.counts.items():
            runs[name] += 1
            by_workload.setdefault(name, Counter())[recording.workload] += 1
            role_counts = roles.setdefault(name, Counter())
            for role, count in per_role.items():
                role_counts[role] += count
    usage = {
        name: SyscallUsage(
            name,
            runs[name],
            dict(sorted(by_workload[name].items())),
            dict(sorted(roles[name].items())),
            sum(roles[name].values()),
        )
        for name in sorted(runs)
    }
    return total, dict(sorted(workloads.items())), usage


def derive_profile(
    recordings: Iterable[Recording],
    *,
    errno: str = "enosys",
    arches: Iterable[str] | None = None,
    allow: Iterable[str] = (),
    explicit_errno: bool = False,
) -> tuple[Profile, Summary]:
    """The smallest OCI profile that allows what the recordings did, with its summary.

    - default action: SCMP_ACT_ERRNO with ``defaultErrnoRet`` ENOSYS (38) or EPERM (1);
    - risky calls (``risky.RISKY``) are held back unless named in ``allow``; names in
      ``allow`` are allowed even if no run made them;
    - for each target arch, legacy calls get their modern equivalents (and back), and
      names a target lacks are reported in ``Summary.missing`` (and left out when no
      target has them);
    - ``explicit_errno``: one SCMP_ACT_ERRNO rule with ``errnoRet`` for every call
      libseccomp knows on the target architectures that is not allowed, for engines that
      ignore ``defaultErrnoRet`` (Docker 20.10); the caller decides by probing the engine.
    """
    recordings = sorted(
        recordings, key=lambda r: (r.workload, r.run_index, r.tracer, r.arch, r.pod_security)
    )
    if not recordings:
        raise UsageError(
            "no recordings to derive a profile from",
            "record at least one run, e.g. `spark-seccomp record WORKLOAD`",
        )
    errno_ret = parse_errno(errno)
    sources = tuple(sorted({canonical_arch(r.arch) for r in recordings}))
    targets = tuple(sorted({canonical_arch(a) for a in arches})) if arches else sources
    if not targets:
        raise UsageError("no target architecture given", "e.g. --arch amd64,arm64")
    known: set[str] = set()
    for target in targets:
        for sub in oci_sub_arches(target):
            known |= known_syscalls(sub)
    user_allowed = frozenset(allow)
    unknown = sorted(n for n in user_allowed if n not in known)
    if unknown:
        raise UsageError(
            f"--allow names calls libseccomp does not know on {', '.join(targets)}: {', '.join(unknown)}",
            "check the spelling (names as in `man 2 syscalls`)",
        )

    total, workloads, usage = usage_from_recordings(recordings)
    kept, held_back = split_risky(usage, user_allowed)
    translation = translate_names(kept | user_allowed, targets, sources)
    # A name no target architecture has protects nothing there, and runtimes refuse or
    # skip it (arch_prctl recorded on x86_64, targeted at arm64): it is only reported,
    # in ``Summary.missing``.
    allowed = translation.names & known

    rules: list[SyscallRule] = []
    if allowed:
        rules.append(SyscallRule(tuple(sorted(allowed)), "SCMP_ACT_ALLOW"))
    fallbacks = tuple(n for n in ENOSYS_FALLBACKS if n in known and n not in allowed)
    if fallbacks:
        rules.append(SyscallRule(fallbacks, "SCMP_ACT_ERRNO", errno_ret=errno_codes.ENOSYS))
    if explicit_errno:
        denied = tuple(sorted(known - allowed - set(fallbacks)))
        if denied:
            rules.append(SyscallRule(denied, "SCMP_ACT_ERRNO", errno_ret=errno_ret))

    architectures: list[str] = []
    for target in targets:
        architectures.extend(a for a in oci_architectures(target) if a not in architectures)
    profile = Profile(
        "SCMP_ACT_ERRNO",
        tuple(rules),
        default_errno_ret=errno_ret,
        architectures=tuple(architectures),
    )

    arg_values: dict[str, set[int]] = {}
    unknown_numbers: set[int] = set()
    for recording in recordings:
        for key, values in recording.arg_values.items():
            arg_values.setdefault(key, set()).update(values)
        unknown_numbers |= recording.unknown_numbers
    summary = Summary(
        total_runs=total,
        workloads=workloads,
        usage=usage,
        arches=targets,
        errno=errno.lower(),
        explicit_errno=explicit_errno,
        allowed=allowed,
        user_allowed=user_allowed,
        held_back=held_back,
        missing=translation.missing,
        added=translation.added,
        arg_values={k: frozenset(v) for k, v in sorted(arg_values.items())},
        unknown_numbers=frozenset(unknown_numbers),
        lost_events=lost_events_by_run(recordings),
    )
    return profile, summary


def run_label(recording: Recording) -> str:
    """How a run is named to the user: ``WORKLOAD run N``."""
    return f"{recording.workload} run {recording.run_index}"


def lost_events_by_run(recordings: Iterable[Recording]) -> dict[str, int]:
    """The runs whose tracer lost events, and how many (each role's recording of a run
    carries the run's count)."""
    lost: dict[str, int] = {}
    for recording in recordings:
        if recording.lost_events:
            label = run_label(recording)
            lost[label] = max(lost.get(label, 0), recording.lost_events)
    return dict(sorted(lost.items()))
