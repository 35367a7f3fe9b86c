"""Running the syscall micro-benchmark: ``syscall_loop`` in containers under each mode.

The loop (``profiler/image_tools/syscall_loop.c``) is compiled lazily on the host,
``gcc -O2 -static``, into ``cache_dir()/tools`` and bind-mounted read-only into the
container: static, it runs in any image (no shell, no libc needed), and no image rebuild
is needed when it changes. Its source hash names the build, so an edited loop rebuilds.

Modes (``microbench.MICRO_MODES``):

* ``unconfined``: no filter, the reference.
* ``one-rule-filter``: a filter with a single rule that allows everything else by
  default: the floor any filter costs on the kernel's cached path. The generated
  profile's added cost is judged against this one.
* ``runtime-default``: the engine's profile.
* ``generated``: the profile given (``--profile``); the measured syscall must be allowed
  by a number-only rule, so the kernel's per-syscall allow cache (Linux >= 5.11) can
  serve it without running the BPF program.
* ``one-arg-rule``: the same profile with the measured syscall's rule replaced by one
  that checks an argument (``arg0 == 0``, which the loop passes). An argument check
  makes the syscall uncacheable, so every call runs the whole BPF program: this is the
  cost any argument-checked rule pays.

Repeats are interleaved and rotated like the bench rounds (see ``runner``); each repeat
is one container, whose ns per call is one sample. Every container gets the same
security context as a Spark run (``ContainerEngine.run_command``), on whichever engine
and OCI runtime the bench runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler import proc
from profiler.bench.environment import CommandRunner
from profiler.bench.microbench import (
    MicrobenchReport,
    analyse_microbench,
    microbench_to_dict,
)
from profiler.bench.runner import FailedRun
from profiler.errors import EnvironmentProblem, UsageError
from profiler.output import write_file
from profiler.paths import cache_dir
from profiler.runtime.interface import ContainerSecurity, PodSecurity, SecurityMode
from profiler.vocabulary import Progress, no_progress

SOURCE = Path(__file__).resolve().parent.parent / "image_tools" / "syscall_loop.c"
MOUNT_POINT = "/opt/spark-seccomp-bench"
# Cheap syscalls the loop knows, none served by the vDSO; the first one the profile
# allows by number alone is measured.
CANDIDATES = ("getppid", "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid")
DEFAULT_ITERATIONS = 1_000_000
DEFAULT_REPEAT = 10
MICROBENCH_FILE = "microbench.json"


@dataclass(frozen=True)
class MicrobenchRun:
    report: MicrobenchReport
    failed: tuple[FailedRun, ...]
    skipped: tuple[str, ...]  # modes not measured, and why
    # Per mode, the seconds each container took besides the loop itself: create, start
    # (the OCI runtime's init, the filter loaded), exit and removal. This is where runc
    # and crun differ most.
    container_seconds: Mapping[str, tuple[float, ...]] = field(default_factory=dict)


def syscall_loop_binary(cache: Path | None = None, source: Path = SOURCE) -> Path:
    """The compiled loop, built on first use (needs gcc and libc6-dev's static libc)."""
    return proc.static_c_program(
        source,
        (cache or cache_dir()) / "tools",
        "syscall_loop",
        purpose="the syscall micro-benchmark",
        fix="install gcc and libc6-dev (scripts/bootstrap.sh does), or pass --no-microbench",
    )


# What the timing loop itself calls while a filter is in place: it reads the thread's CPU
# clock, which has no vDSO path. A profile of a job that never called clock_gettime (a JVM
# reads its clocks through the vDSO) would refuse it and the loop could time nothing.
TIMING_LOOP_CALLS = ("clock_gettime",)


def with_timing_loop_calls(profile_json: str) -> tuple[str, tuple[str, ...]]:
    """The profile with what the loop needs allowed, and the names that had to be added
    (none: the profile unchanged). One more allowed name changes no cached call's cost and
    an uncached one's by an instruction or two of the program."""
    from profiler.seccomp.profile import profile_from_dict

    profile = profile_from_dict(json.loads(profile_json), "the profile under test")
    if profile.default_action == "SCMP_ACT_ALLOW":
        return profile_json, ()
    missing = tuple(n for n in TIMING_LOOP_CALLS if n not in profile.allowed())
    if not missing:
        return profile_json, ()
    return profile.with_allowed(missing).to_json(), missing


def choose_syscall(profile_json: str | None) -> str:
    """The first candidate the profile allows unconditionally (any, without a profile)."""
    if profile_json is None:
        return CANDIDATES[0]
    profile = json.loads(profile_json)
    plain, conditional, mentioned = _allowed_names(profile)
    allows_by_default = profile.get("defaultAction") == "SCMP_ACT_ALLOW"
    for name in CANDIDATES:
        unmentioned = allows_by_default and name not in mentioned
        if (name in plain or unmentioned) and name not in conditional:
            return name
    raise UsageError(
        "the profile allows none of " + ", ".join(CANDIDATES) + " without conditions",
        "the micro-benchmark needs one of them; pass --no-microbench",
    )


def arg_checked_profile(profile_json: str, syscall: str) -> str:
    """The profile with ``syscall`` allowed only when arg0 == 0 (what the loop passes)."""
    profile = json.loads(profile_json)
    rules = []
    for rule in profile.get("syscalls") or []:
        names = [n for n in rule.get("names", []) if n != syscall]
        if names:
            rules.append({**rule, "names": names})
    rules.append(
        {
            "names": [syscall],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
        }
    )
    profile["syscalls"] = rules
    return json.dumps(profile, indent=2, sort_keys=True) + "\n"


def micro_modes(
    profile_json: str | None, syscall: str
) -> list[tuple[str, SecurityMode, str | None]]:
    """(name, security mode, profile) of each micro-benchmark mode that can run."""
    from profiler.seccomp.profile import allow_all_profile

    modes: list[tuple[str, SecurityMode, str | None]] = [
        ("unconfined", SecurityMode.UNCONFINED, None),
        ("one-rule-filter", SecurityMode.LOCALHOST, allow_all_profile().to_json()),
        ("runtime-default", SecurityMode.RUNTIME_DEFAULT, None),
    ]
    if profile_json is not None:
        modes.append(("generated", SecurityMode.LOCALHOST, profile_json))
        if not _allows_by_default(profile_json):
            checked = arg_checked_profile(profile_json, syscall)
            modes.append(("one-arg-rule", SecurityMode.LOCALHOST, checked))
    return modes


def parse_loop_output(stdout: str) -> float | None:
    """ns per call from the loop's JSON line, or None."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line).get("ns_per_call")
            except (ValueError, AttributeError):
                continue
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
    return None


def run_microbench(
    runner: CommandRunner,
    image: str,
    *,
    profile_json: str | None = None,
    repeat: int = DEFAULT_REPEAT,
    iterations: int = DEFAULT_ITERATIONS,
    pod_security: PodSecurity = PodSecurity.RESTRICTED,
    environment: Mapping[str, Any] | None = None,
    run_root: Path | None = None,
    progress: Progress = no_progress,
    binary: Path | None = None,
) -> MicrobenchRun:
    """ns per call under each mode, ``repeat`` interleaved rotated rounds; microbench.json.

    A failed repeat (the syscall denied, the container refused) is reported in
    ``failed`` and in microbench.json's ``failed_runs`` and produces no sample.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    binary = binary or syscall_loop_binary()
    syscall = choose_syscall(profile_json)
    modes = micro_modes(profile_json, syscall)
    skipped: tuple[str, ...] = ()
    if profile_json is None:
        skipped = ("generated and one-arg-rule: no --profile given",)
    elif _allows_by_default(profile_json):
        # runc drops rules whose action is the default action: no argument check remains.
        skipped = ("one-arg-rule: the profile allows by default, so no rule checks arguments",)
    security = ContainerSecurity.preset(pod_security)
    argv = [f"{MOUNT_POINT}/{binary.name}", syscall, str(iterations)]
    mounts = {str(binary.parent): MOUNT_POINT}
    samples: dict[str, list[float]] = {name: [] for name, _, _ in modes}
    lifecycle: dict[str, list[float]] = {name: [] for name, _, _ in modes}
    failed: list[FailedRun] = []
    total = repeat * len(modes)
    done = 0
    for round_index in range(repeat):
        start = round_index % len(modes)
        for name, mode, profile in [*modes[start:], *modes[:start]]:
            progress(f"micro {syscall} [{name}] repeat {round_index + 1}/{repeat}", done, total)
            began = time.monotonic()
            exit_code, stdout, stderr = runner.run_command(
                image, argv, mode, profile, security, mounts=mounts
            )
            took = time.monotonic() - began
            done += 1
            value = parse_loop_output(stdout) if exit_code == 0 else None
            if value is None:
                last = (stderr.strip().splitlines() or ["no output"])[-1][:200]
                reason = "timed out" if exit_code is None else f"exit {exit_code}: {last}"
                failed.append(FailedRun(syscall, name, round_index, reason))
                continue
            samples[name].append(value)
            lifecycle[name].append(max(0.0, took - value * iterations / 1e9))
    progress("analysing", done, total)
    if not any(samples.values()):
        first = failed[0].reason if failed else "no output"
        raise EnvironmentProblem(f"every micro-benchmark run failed ({first})")
    report = analyse_microbench(
        samples, syscall=syscall, iterations=iterations, environment=environment
    )
    result = MicrobenchRun(
        report,
        tuple(failed),
        skipped,
        {name: tuple(round(v, 4) for v in values) for name, values in lifecycle.items() if values},
    )
    if run_root is not None:
        run_root.mkdir(parents=True, exist_ok=True)
        write_file(run_root / MICROBENCH_FILE, microbench_json(result, repeat=repeat))
    return result


def microbench_json(run: MicrobenchRun, *, repeat: int) -> str:
    """``microbench_to_dict`` plus failed runs, skipped modes and the repeat count."""
    data = microbench_to_dict(run.report)
    data["repeat"] = repeat
    data["container_seconds"] = {m: list(v) for m, v in sorted(run.container_seconds.items())}
    data["skipped"] = list(run.skipped)
    data["failed_runs"] = [
        {"mode": f.mode, "round": f.round, "reason": f.reason} for f in run.failed
    ]
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _allows_by_default(profile_json: str) -> bool:
    profile = json.loads(profile_json)
    return isinstance(profile, dict) and profile.get("defaultAction") == "SCMP_ACT_ALLOW"


def _allowed_names(profile: Any) -> tuple[set[str], set[str], set[str]]:
    """(allowed by number alone, allowed with conditions, named by any rule)."""
    plain: set[str] = set()
    conditional: set[str] = set()
    mentioned: set[str] = set()
    rules: Sequence[Any] = profile.get("syscalls") or [] if isinstance(profile, dict) else []
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        names = set(rule.get("names") or [])
        mentioned.update(names)
        if rule.get("action") == "SCMP_ACT_ALLOW":
            (conditional if rule.get("args") else plain).update(names)
    return plain, conditional, mentioned
