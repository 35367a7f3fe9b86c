"""Reading a run directory's result files, each optional, defensively.

A run directory may hold any of these (written by different commands, maybe different
versions); each is read only if present:

``check.json``
    ``profiler.report.check_formats.check_to_dict``: ``workloads``, ``modes`` and
    ``cells[]`` with ``workload``, ``mode``, ``verdict``, ``passes``,
    ``median_wall_seconds``, ``diagnosis[]`` and ``runs[]`` (``error_line`` is used).
``bench.json``
    ``profiler.bench.stats.bench_to_dict``; a file with only ``samples`` is analysed.
``microbench.json``
    ``profiler.bench.microbench.microbench_to_dict``; likewise.
``bound.json``
    ``profiler.bench.bound.bound_to_dict``: per-call costs per filter and the bound per
    workload, pod role and mode.
``profile.json``
    An OCI seccomp profile. Its allowed syscalls are the names of rules whose action is
    ``SCMP_ACT_ALLOW`` (with or without argument conditions).
``runtime_default.json``
    The engine's default profile as ``{"name": "docker-default", "allowed": [names]}``;
    an OCI profile is accepted too.
``profile.summary.json``
    Where each syscall of the generated profile came from. The format, agreed with the
    generator (every key optional unless said otherwise)::

        {
          "profile": {                      # free-form facts about the recording,
            "image": "...",                 #   shown as a table of its scalar values
            "tracer": "ebpf",
            "workloads": ["etl", "ml"],
            "runs": 6
          },
          "syscalls": {                     # required: one entry per syscall seen
            "futex": {
              "runs": 6,                    # recording runs it was seen in
              "of_runs": 6,                 # recording runs in total
              "workloads": ["etl", "ml"],   # workloads it was seen in
              "roles": {"driver JVM": 120, "executor JVM": 300, "python worker": 4}
            }
          },
          "held_back": {                    # seen but deliberately not allowed
            "ptrace": "debugging only; Spark does not need it"
          }
        }

    Unknown keys are ignored so the generator can add more; a missing ``runs`` or
    ``of_runs`` is taken as "not known" rather than guessed, and a value of the wrong type
    is a usage error naming the file and key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.bench.bound import BoundReport, bound_from_dict
from profiler.bench.microbench import MicrobenchReport, microbench_from_dict
from profiler.bench.stats import BenchReport, bench_from_dict
from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.results import RESULTS_HINT, CheckFile
from profiler.formats.seccomp import AllowedNames
from profiler.formats.summary import SUMMARY_HINT, ReportSummaryFile
from profiler.seccomp.profile import profile_from_dict

CHECK_FILE = "check.json"
BENCH_FILE = "bench.json"
MICROBENCH_FILE = "microbench.json"
BOUND_FILE = "bound.json"
PROFILE_FILE = "profile.json"
# The per-pod profiles a pod-shaped record writes beside the union.
ROLE_PROFILE_FILES = {"driver": "profile.driver.json", "executor": "profile.executor.json"}
SUMMARY_FILE = "profile.summary.json"
RUNTIME_DEFAULT_FILE = "runtime_default.json"
KNOWN_FILES = (
    CHECK_FILE,
    BENCH_FILE,
    MICROBENCH_FILE,
    BOUND_FILE,
    PROFILE_FILE,
    *ROLE_PROFILE_FILES.values(),
    SUMMARY_FILE,
    RUNTIME_DEFAULT_FILE,
)


@dataclass(frozen=True)
class CheckCell:
    workload: str
    mode: str
    verdict: str  # pass, fail, timeout, mismatch (or whatever a newer check wrote)
    passes: int
    runs: int
    median_wall_seconds: float | None
    error_line: str  # of the first run that did not pass; "" when all passed
    diagnosis: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckMatrix:
    image: str
    pod_security: str
    profile: str | None
    workloads: tuple[str, ...]
    modes: tuple[str, ...]
    cells: tuple[CheckCell, ...]

    def cell(self, workload: str, mode: str) -> CheckCell | None:
        return next((c for c in self.cells if c.workload == workload and c.mode == mode), None)


@dataclass(frozen=True)
class AllowedSet:
    """The syscalls a profile allows; ``None`` default action means a plain name list."""

    name: str
    allowed: frozenset[str]
    default_action: str | None = None

    @property
    def is_allowlist(self) -> bool:
        """False for a profile that allows by default: its rule names are not its size."""
        return self.default_action != "SCMP_ACT_ALLOW"


@dataclass(frozen=True)
class SyscallUse:
    name: str
    runs: int | None
    of_runs: int | None
    workloads: tuple[str, ...]
    roles: Mapping[str, int] = field(default_factory=dict)

    @property
    def intermittent(self) -> bool:
        """Seen in some recording runs but not all: the kind a short recording misses."""
        return self.runs is not None and self.of_runs is not None and self.runs < self.of_runs


@dataclass(frozen=True)
class ProfileSummary:
    profile: Mapping[str, Any]
    syscalls: tuple[SyscallUse, ...]  # sorted by name
    held_back: Mapping[str, str]

    @property
    def workloads(self) -> tuple[str, ...]:
        return tuple(sorted({w for s in self.syscalls for w in s.workloads}))

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(sorted({r for s in self.syscalls for r in s.roles}))


@dataclass(frozen=True)
class RunInputs:
    run_dir: Path
    sources: tuple[str, ...]  # the known files that were present, in KNOWN_FILES order
    check: CheckMatrix | None = None
    bench: BenchReport | None = None
    microbench: MicrobenchReport | None = None
    bound: BoundReport | None = None
    profile: AllowedSet | None = None
    runtime_default: AllowedSet | None = None
    summary: ProfileSummary | None = None
    role_profiles: tuple[AllowedSet, ...] = ()  # the driver's and the executors', if any


def load_run_dir(run_dir: Path) -> RunInputs:
    """Read every known file in ``run_dir``; refuse a directory with none of them."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(
            f"{run_dir} is not a directory", "pass the run directory that check or bench wrote"
        )
    present = tuple(name for name in KNOWN_FILES if (run_dir / name).is_file())
    if not present:
        raise UsageError(
            f"{run_dir} holds none of {', '.join(KNOWN_FILES)}",
            "pass a directory written by `spark-seccomp check`, `bench` or `record`",
        )

    def read(name: str) -> Any:
        if name not in present:
            return None
        path = run_dir / name
        return jsonfile.read_json(path, str(path), RESULTS_HINT)

    def source(name: str) -> str:
        return str(run_dir / name)

    check = read(CHECK_FILE)
    bench = read(BENCH_FILE)
    micro = read(MICROBENCH_FILE)
    bound = read(BOUND_FILE)
    profile = read(PROFILE_FILE)
    runtime_default = read(RUNTIME_DEFAULT_FILE)
    summary = read(SUMMARY_FILE)
    return RunInputs(
        run_dir=run_dir,
        sources=present,
        check=None if check is None else check_from_dict(check, source(CHECK_FILE)),
        bench=None if bench is None else bench_from_dict(bench, source(BENCH_FILE)),
        microbench=None if micro is None else microbench_from_dict(micro, source(MICROBENCH_FILE)),
        bound=None if bound is None else bound_from_dict(bound, source(BOUND_FILE)),
        profile=None if profile is None else profile_allowed(profile, source(PROFILE_FILE)),
        runtime_default=None
        if runtime_default is None
        else runtime_default_allowed(runtime_default, source(RUNTIME_DEFAULT_FILE)),
        summary=None if summary is None else summary_from_dict(summary, source(SUMMARY_FILE)),
        role_profiles=tuple(
            AllowedSet(role, allowed.allowed, allowed.default_action)
            for role, name in ROLE_PROFILE_FILES.items()
            if (data := read(name)) is not None
            for allowed in (profile_allowed(data, source(name)),)
        ),
    )


def check_from_dict(data: Any, source: str = CHECK_FILE) -> CheckMatrix:
    model = jsonfile.validate(CheckFile, data, source, RESULTS_HINT)
    cells = tuple(
        CheckCell(
            workload=cell.workload,
            mode=cell.mode,
            verdict=cell.verdict,
            passes=cell.passes,
            runs=len(cell.runs),
            median_wall_seconds=cell.median_wall_seconds,
            error_line=next((r.error_line or "" for r in cell.runs if r.verdict != "pass"), ""),
            diagnosis=tuple(cell.diagnosis),
        )
        for cell in model.cells
    )
    return CheckMatrix(
        image=model.image or "",
        pod_security=model.pod_security or "",
        profile=model.profile,
        workloads=tuple(model.workloads) or tuple(dict.fromkeys(c.workload for c in cells)),
        modes=tuple(model.modes) or tuple(dict.fromkeys(c.mode for c in cells)),
        cells=cells,
    )


def profile_allowed(data: Any, source: str = PROFILE_FILE) -> AllowedSet:
    profile = profile_from_dict(data, source)
    return AllowedSet("generated", profile.allowed(), profile.default_action)


def runtime_default_allowed(data: Any, source: str = RUNTIME_DEFAULT_FILE) -> AllowedSet:
    """A probed reference (``{"name", "allowed"}``), or an OCI profile with a ``name``."""
    if isinstance(data, dict) and "syscalls" in data and "allowed" not in data:
        name = data.get("name")
        rest = {k: v for k, v in data.items() if k != "name"}
        profile = profile_from_dict(rest, source)
        label = name if isinstance(name, str) and name else "RuntimeDefault"
        return AllowedSet(label, profile.allowed(), profile.default_action)
    reference = jsonfile.validate(AllowedNames, data, source, RESULTS_HINT)
    return AllowedSet(reference.name or "RuntimeDefault", frozenset(reference.allowed))


def summary_from_dict(data: Any, source: str = SUMMARY_FILE) -> ProfileSummary:
    model = jsonfile.validate(ReportSummaryFile, data, source, SUMMARY_HINT)
    syscalls = tuple(
        SyscallUse(
            name=name,
            runs=use.runs,
            # `record` writes the run total as total_runs; the short form says of_runs.
            of_runs=use.of_runs if use.of_runs is not None else use.total_runs,
            workloads=tuple(sorted(use.workloads)),
            roles=dict(sorted(use.roles.items())),
        )
        for name, use in sorted(model.syscalls.items())
    )
    return ProfileSummary(
        profile=model.profile, syscalls=syscalls, held_back=dict(sorted(model.held_back.items()))
    )
