"""Measuring what one call costs under each filter: cached, uncached, and under the recorder.

``bound`` multiplies a job's syscall counts by the added cost of one call; this module
measures those costs with ``syscall_loop --cases`` in containers of the bench's image,
with a Spark run's security settings, under each filter the bench compares:

* **cached calls**: ``plain:NR``, a cheap call (getppid, or the first candidate the filter
  caches) timed under the filter and without one. The kernel serves it from its action
  cache; what remains is the slower syscall entry a filtered task takes.
* **uncached calls**: ``stub:NR`` for every call of the job the filter does not cache
  (``seccomp.cache``): the loop stacks a filter of its own that refuses NR, so each call
  runs the container's program for NR, with zero arguments, and is then refused. The
  call itself never runs, so a clone or a socket costs no more than its filter: the
  filter's cost is isolated from the call's, wherever NR sits in the program. Timed the
  same way without the container's filter, the difference is that program's run.
* **the recorder**: the cheap call under the recording filter (allow-everything), with
  and without the eBPF tracer's own bpftrace program attached (``tracing.ebpf``).

Repeats are rounds: every filter once per round, in an order rotated each round, one
container per filter and round running all of its cases in a rotated order too, so drift
hits every filter and case alike. Each case of each container gives one sample: ns per
call by the thread's CPU clock, which leaves out the time the loop spent preempted by
other tasks (on a shared machine, most of the noise of a wall-clock figure).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiler.bench.environment import CommandRunner
from profiler.bench.filter_programs import compile_profile
from profiler.bench.jsonio import round_float
from profiler.bench.microbench_run import (
    CANDIDATES,
    MOUNT_POINT,
    syscall_loop_binary,
    with_timing_loop_calls,
)
from profiler.errors import EnvironmentProblem
from profiler.output import write_file
from profiler.runtime.interface import ContainerSecurity, PodSecurity, SecurityMode
from profiler.seccomp import arch as arch_lib
from profiler.seccomp.cache import (
    CallPath,
    FilterCache,
    argument_checked_names,
    classify_calls,
)
from profiler.seccomp.generate import recording_profile
from profiler.vocabulary import Progress, no_progress

REFERENCE = "unconfined"
RECORDING = "recording"  # the recording filter alone
TRACED = "recording+ebpf"  # the recording filter with the eBPF tracer attached
FILTER_COST_FILE = "filter_cost.json"
DEFAULT_ITERATIONS = 300_000
DEFAULT_REPEAT = 10
MIN_UNDISTURBED = 3
FORMAT_VERSION = 1

# libc's answer to ENOSYS from a newer call: the older call it makes instead (glibc 2.34+
# creates threads with clone3 and retries with clone). Policy, like LEGACY_EQUIVALENTS: a
# refused call with a fallback costs its own refusal plus the fallback call's filter.
ENOSYS_FALLBACKS: Mapping[str, str] = {
    "clone3": "clone",
    "epoll_pwait2": "epoll_pwait",
    "faccessat2": "faccessat",
    "fchmodat2": "fchmodat",
    "openat2": "openat",
    "statx": "newfstatat",
}


@dataclass(frozen=True)
class FilterUnderTest:
    """One filter whose per-call cost is measured; ``traced`` attaches the eBPF tracer."""

    label: str
    mode: SecurityMode
    profile_json: str | None = None
    traced: bool = False


@dataclass(frozen=True)
class FilterCostRun:
    """Samples (ns per call, one per round) per filter label and case, and what they mean."""

    arch: str
    iterations: int
    repeat: int
    samples: Mapping[str, Mapping[str, tuple[float, ...]]]  # label -> case -> samples
    caches: Mapping[str, FilterCache]  # label -> the calls of interest sorted
    cached_case: Mapping[str, str]  # label -> its plain (cached) case
    failed: tuple[str, ...] = ()
    environment: Mapping[str, Any] = field(default_factory=dict)
    disturbed: tuple[str, ...] = ()  # containers set aside: another tracer was attached
    # label -> what the timing loop needs that the filter's profile did not allow (added
    # for the measurement: ``microbench_run.with_timing_loop_calls``)
    loop_added: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def stub_case(self, name: str) -> str | None:
        number = arch_lib.syscall_number(name, self.arch)
        return None if number is None else f"stub:{number}"


def filters_for_bench(
    *,
    runtime_default_json: str | None,
    localhost: Mapping[str, str] | None = None,
    recorder: bool = True,
) -> list[FilterUnderTest]:
    """The filters a bench's bound needs: the reference, RuntimeDefault (as the engine
    hands it), each distinct Localhost profile (label -> JSON), and the recorder pair."""
    filters = [FilterUnderTest(REFERENCE, SecurityMode.UNCONFINED)]
    if runtime_default_json is not None:
        filters.append(
            FilterUnderTest("runtime-default", SecurityMode.RUNTIME_DEFAULT, runtime_default_json)
        )
    for label, profile in (localhost or {}).items():
        filters.append(FilterUnderTest(label, SecurityMode.LOCALHOST, profile))
    if recorder:
        recording = recording_profile().to_json()
        filters.append(FilterUnderTest(RECORDING, SecurityMode.LOCALHOST, recording))
        filters.append(FilterUnderTest(TRACED, SecurityMode.LOCALHOST, recording, traced=True))
    return filters


def classify_filters(
    filters: Sequence[FilterUnderTest], names: Iterable[str], arch: str
) -> dict[str, FilterCache]:
    """Each filter's classes for ``names``, for every call it checks arguments of (what
    such a check costs is part of the filter's description, called or not), and for the
    fallbacks of calls it refuses with ENOSYS (a job makes those instead)."""
    caches: dict[str, FilterCache] = {}
    for flt in filters:
        if flt.profile_json is None:
            continue
        program = compile_profile(flt.profile_json, source=f"{flt.label} profile")
        wanted = set(names) | set(CANDIDATES) | argument_checked_names([program], arch)
        cache = classify_calls(flt.label, [program], wanted, arch)
        extra = {
            ENOSYS_FALLBACKS[c.name]
            for c in cache.calls
            if c.path is CallPath.DENIED and c.denied_errno == 38 and c.name in ENOSYS_FALLBACKS
        }
        if extra - wanted:
            cache = classify_calls(flt.label, [program], wanted | extra, arch)
        caches[flt.label] = cache
    return caches


def plan_cases(
    filters: Sequence[FilterUnderTest], caches: Mapping[str, FilterCache], names: Iterable[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(label -> cases to time, label -> its cached case). The reference times every case
    any filter needs; a traced filter times what its untraced twin does."""
    wanted = set(names)
    cases: dict[str, list[str]] = {}
    cached_case: dict[str, str] = {}
    for flt in filters:
        cache = caches.get(flt.label)
        if cache is None:
            continue
        plain = next(
            (c for c in (cache.call(n) for n in CANDIDATES) if c and c.path is CallPath.CACHED),
            None,
        )
        if plain is None:
            raise EnvironmentProblem(
                f"the {flt.label} filter caches none of {', '.join(CANDIDATES)}",
                "the cached cost is measured on one of them: allow one by number alone",
            )
        cached_case[flt.label] = f"plain:{plain.number}"
        own = [cached_case[flt.label]]
        if not flt.traced:
            needed = (
                wanted
                | {ENOSYS_FALLBACKS[c.name] for c in cache.uncached if c.name in ENOSYS_FALLBACKS}
                | set(cache.names(CallPath.ARGUMENT_CHECKED))
            )
            own += [f"stub:{c.number}" for c in cache.uncached if c.name in needed]
        cases[flt.label] = sorted(set(own), key=_case_order)
    reference = sorted({case for own in cases.values() for case in own}, key=_case_order)
    for flt in filters:
        if flt.profile_json is None:
            cases[flt.label] = reference
    return cases, cached_case


def run_filter_cost(
    runner: CommandRunner,
    image: str,
    filters: Sequence[FilterUnderTest],
    names: Iterable[str],
    *,
    repeat: int = DEFAULT_REPEAT,
    iterations: int = DEFAULT_ITERATIONS,
    pod_security: PodSecurity = PodSecurity.RESTRICTED,
    run_root: Path | None = None,
    progress: Progress = no_progress,
    environment: Mapping[str, Any] | None = None,
    tracer_factory: Callable[[Path], Any] | None = None,
    binary: Path | None = None,
    tracers_running: Callable[[], int] = lambda: count_processes("bpftrace"),
) -> FilterCostRun:
    """Time every filter's cases in ``repeat`` rotated rounds; filter_cost.json."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    if not any(f.profile_json is not None for f in filters):
        raise ValueError("no filter to measure besides the reference")
    arch = arch_lib.native_arch()
    token = arch_lib.arch_token(arch)
    names = sorted(set(names))
    filters, loop_added = _with_timing_loop_calls(filters)
    caches = classify_filters(filters, names, arch)
    cases, cached_case = plan_cases(filters, caches, names)
    binary = binary or syscall_loop_binary()
    security = ContainerSecurity.preset(pod_security)
    mounts = {str(binary.parent): MOUNT_POINT}
    samples: dict[str, dict[str, list[float]]] = {f.label: {} for f in filters}
    # Samples of containers during which another tracer was attached to the syscall
    # tracepoint: its program ran on every allowed call of the loop (not on the calls the
    # stub refuses: a refused call never reaches the tracepoint). Set aside, and used
    # only for a case too few undisturbed samples measured.
    disturbed_samples: dict[str, dict[str, list[float]]] = {}
    disturbed: list[str] = []
    failed: list[str] = []
    total = repeat * len(filters)
    done = 0
    with tempfile.TemporaryDirectory(prefix="spark-seccomp-tracer-") as scratch:
        for round_index in range(repeat):
            start = round_index % len(filters)
            for flt in [*filters[start:], *filters[:start]]:
                progress(f"filter cost [{flt.label}] round {round_index + 1}/{repeat}", done, total)
                own = cases[flt.label]
                shift = round_index % len(own)
                argv = [
                    f"{MOUNT_POINT}/{binary.name}",
                    "--cases",
                    str(token),
                    str(iterations),
                    *own[shift:],
                    *own[:shift],
                ]
                others_before = tracers_running()
                tracer = None
                if flt.traced:
                    factory = tracer_factory or _ebpf_tracer
                    tracer = factory(Path(scratch) / f"round-{round_index}")
                    tracer.before_start()
                try:
                    exit_code, stdout, stderr = runner.run_command(
                        image, argv, flt.mode, flt.profile_json, security, mounts=mounts
                    )
                finally:
                    if tracer is not None:
                        tracer.finished()
                done += 1
                got = parse_cases(stdout)
                others = max(others_before, tracers_running())
                kept = samples if not others else disturbed_samples
                for case, value in got.items():
                    kept.setdefault(flt.label, {}).setdefault(case, []).append(value)
                if others:
                    disturbed.append(
                        f"{flt.label} round {round_index + 1}: {others} other bpftrace "
                        "process(es) ran: every allowed call also ran their program"
                    )
                if exit_code != 0 or set(got) != set(own):
                    last = (stderr.strip().splitlines() or ["no output"])[-1][:200]
                    failed.append(f"{flt.label} round {round_index + 1}: exit {exit_code}: {last}")
    progress("analysing", done, total)
    for label, by_case in disturbed_samples.items():
        for case, values in by_case.items():
            clean = samples[label].get(case, [])
            if len(clean) < MIN_UNDISTURBED:
                samples[label][case] = clean + values
                failed.append(
                    f"{label} {case}: only {len(clean)} undisturbed samples, so "
                    f"{len(values)} taken while another tracer ran are used too"
                )
    if not any(samples.values()):
        raise EnvironmentProblem(
            "every filter-cost run failed (" + (failed[0] if failed else "no output") + ")"
        )
    result = FilterCostRun(
        arch=arch,
        iterations=iterations,
        repeat=repeat,
        samples={
            label: {case: tuple(values) for case, values in sorted(by_case.items())}
            for label, by_case in samples.items()
        },
        caches=caches,
        cached_case=cached_case,
        failed=tuple(failed),
        environment=dict(environment or {}),
        disturbed=tuple(disturbed),
        loop_added=loop_added,
    )
    if run_root is not None:
        run_root.mkdir(parents=True, exist_ok=True)
        write_file(run_root / FILTER_COST_FILE, filter_cost_json(result))
    return result


def _with_timing_loop_calls(
    filters: Sequence[FilterUnderTest],
) -> tuple[list[FilterUnderTest], dict[str, tuple[str, ...]]]:
    """Each Localhost filter as measured: with what the timing loop needs allowed."""
    measured: list[FilterUnderTest] = []
    added: dict[str, tuple[str, ...]] = {}
    for flt in filters:
        if flt.mode is SecurityMode.LOCALHOST and flt.profile_json is not None:
            profile_json, missing = with_timing_loop_calls(flt.profile_json)
            if missing:
                added[flt.label] = missing
                flt = replace(flt, profile_json=profile_json)
        measured.append(flt)
    return measured, added


def parse_cases(stdout: str) -> dict[str, float]:
    """case -> ns per call from the loop's JSON lines (others ignored)."""
    found: dict[str, float] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        case, value = data.get("case"), data.get("ns_per_call")
        if isinstance(case, str) and isinstance(value, (int, float)) and value > 0:
            found[case] = float(value)
    return found


def filter_cost_to_dict(run: FilterCostRun) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "kind": "filter-cost",
        "arch": run.arch,
        "iterations": run.iterations,
        "repeat": run.repeat,
        "environment": dict(run.environment),
        "samples": {
            label: {case: [round_float(v) for v in values] for case, values in by_case.items()}
            for label, by_case in sorted(run.samples.items())
        },
        "cached_case": dict(sorted(run.cached_case.items())),
        "caches": {label: cache.to_dict() for label, cache in sorted(run.caches.items())},
        "failed": list(run.failed),
        "disturbed": list(run.disturbed),
        "loop_added": {label: list(names) for label, names in sorted(run.loop_added.items())},
    }


def filter_cost_json(run: FilterCostRun) -> str:
    return json.dumps(filter_cost_to_dict(run), indent=2, sort_keys=True) + "\n"


def count_processes(command: str, proc: Path = Path("/proc")) -> int:
    """Processes whose command name is ``command`` (another recorder's bpftrace, say)."""
    count = 0
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                count += (entry / "comm").read_text().strip() == command
            except OSError:
                continue  # gone meanwhile
    return count


def _case_order(case: str) -> tuple[int, int]:
    kind, _, number = case.partition(":")
    return (0 if kind == "plain" else 1, int(number))


def _ebpf_tracer(work_dir: Path) -> Any:
    from profiler.tracing.ebpf import EbpfTracer

    tracer = EbpfTracer(work_dir)
    tracer.check_available()
    return tracer
