"""The filter-cost run with a fake engine: which cases each filter times, in what order,
the recorder's tracer around its runs, and the file it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiler.bench.filter_cost import (
    FILTER_COST_FILE,
    RECORDING,
    REFERENCE,
    TRACED,
    FilterUnderTest,
    classify_filters,
    filters_for_bench,
    parse_cases,
    plan_cases,
    run_filter_cost,
)
from profiler.runtime.interface import ContainerRef, SecurityMode
from profiler.seccomp.arch import syscall_number
from profiler.tracing.interface import Recording, Tracer
from tests.fakes import FakeLoopEngine

FIXTURES = Path(__file__).parents[2] / "fixtures"
RUNTIME_DEFAULT = json.dumps(
    json.loads((FIXTURES / "seccomp" / "runtime_default_docker_20.10.24_bundle.json").read_text())
)
GENERATED = json.dumps(
    {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["getppid", "read", "clone", "clone3", "futex"], "action": "SCMP_ACT_ALLOW"}
        ],
    }
)
NAMES = ["read", "futex", "clone", "clone3"]


@pytest.fixture
def binary(tmp_path: Path) -> Path:
    """A stand-in for the compiled loop (the fake engine never runs it)."""
    path = tmp_path / "tools" / "syscall_loop-test"
    path.parent.mkdir()
    path.write_text("")
    return path


def number(name: str) -> int:
    found = syscall_number(name, "x86_64")
    assert found is not None
    return found


def test_each_filter_times_its_cached_call_and_the_calls_it_does_not_cache() -> None:
    filters = filters_for_bench(
        runtime_default_json=RUNTIME_DEFAULT, localhost={"generated": GENERATED}
    )
    caches = classify_filters(filters, NAMES, "x86_64")
    cases, cached_case = plan_cases(filters, caches, NAMES)
    plain = f"plain:{number('getppid')}"
    assert cases["generated"] == [plain]
    assert cases["runtime-default"] == [
        plain,
        f"stub:{number('clone')}",
        f"stub:{number('personality')}",  # argument-checked: timed, called or not
        f"stub:{number('clone3')}",
    ]
    assert cases[RECORDING] == cases[TRACED] == [plain]
    assert cases[REFERENCE] == cases["runtime-default"]  # every case any filter needs
    assert set(cached_case.values()) == {plain}


def test_a_refused_call_brings_its_libc_fallback_into_the_plan() -> None:
    filters = filters_for_bench(runtime_default_json=RUNTIME_DEFAULT, recorder=False)
    caches = classify_filters(filters, ["clone3"], "x86_64")
    clone = caches["runtime-default"].call("clone")
    assert clone is not None  # classified although the job's counts never named it
    cases, _ = plan_cases(filters, caches, ["clone3"])
    assert f"stub:{number('clone')}" in cases["runtime-default"]


def test_a_filter_that_uncaches_the_cheap_call_is_timed_on_the_next_one() -> None:
    checked = json.loads(GENERATED)
    checked["syscalls"].append(
        {
            "names": ["getppid"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
        }
    )
    checked["syscalls"][0]["names"] = ["read", "getpid", "clone", "clone3", "futex"]
    filters = [
        FilterUnderTest(REFERENCE, SecurityMode.UNCONFINED),
        FilterUnderTest("one-arg-rule", SecurityMode.LOCALHOST, json.dumps(checked)),
    ]
    caches = classify_filters(filters, ["getppid", "read"], "x86_64")
    cases, cached_case = plan_cases(filters, caches, ["getppid", "read"])
    assert cached_case["one-arg-rule"] == f"plain:{number('getpid')}"
    assert f"stub:{number('getppid')}" in cases["one-arg-rule"]
    assert f"plain:{number('getpid')}" in cases[REFERENCE]


def test_parse_cases_reads_the_loop_lines_and_ignores_the_rest() -> None:
    out = (
        "starting\n"
        '{"case": "plain:110", "nr": 110, "iterations": 5, "ns_per_call": 80.5, "errno": 0}\n'
        '{"case": "stub:56", "nr": 56, "ns_per_call": 0}\n'
        "{not json\n"
    )
    assert parse_cases(out) == {"plain:110": 80.5}


class CountingTracer(Tracer):
    """Stands in for the eBPF tracer: says when it is attached."""

    name = "counting"
    attached: list[bool] = []

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir

    def check_available(self) -> None:
        return None

    def before_start(self) -> None:
        CountingTracer.attached.append(True)

    def started(self, host_pid: int, container: ContainerRef) -> None:
        return None

    def finished(self) -> None:
        CountingTracer.attached.append(False)

    def recordings(self, workload: str, run_index: int, pod_security: str) -> tuple[Recording, ...]:
        return ()


def test_run_rotates_filters_and_cases_and_writes_filter_cost_json(
    tmp_path: Path, binary: Path
) -> None:
    filters = filters_for_bench(
        runtime_default_json=RUNTIME_DEFAULT, localhost={"generated": GENERATED}
    )
    engine = FakeLoopEngine({(RUNTIME_DEFAULT, f"stub:{number('clone')}"): 300.0})
    CountingTracer.attached = []
    run = run_filter_cost(
        engine,
        "img",
        filters,
        NAMES,
        repeat=3,
        iterations=1000,
        run_root=tmp_path,
        tracer_factory=CountingTracer,
        binary=binary,
        tracers_running=lambda: 0,
    )
    assert len(engine.commands) == 3 * len(filters)
    first_round = [cmd[2] for cmd in engine.commands[: len(filters)]]
    second_round = [cmd[2] for cmd in engine.commands[len(filters) : 2 * len(filters)]]
    assert second_round == first_round[1:] + first_round[:1]
    # the tracer is attached around the traced filter's container only, once per round
    assert CountingTracer.attached == [True, False] * 3
    assert run.samples["runtime-default"][f"stub:{number('clone')}"] == (300.0, 300.0, 300.0)
    assert run.failed == ()
    data = json.loads((tmp_path / FILTER_COST_FILE).read_text())
    assert data["kind"] == "filter-cost" and data["repeat"] == 3
    assert data["caches"]["runtime-default"]["label"] == "runtime-default"
    assert all(security is not None for security in engine.securities)


def test_a_failed_case_is_reported_and_the_rest_kept(tmp_path: Path, binary: Path) -> None:
    filters = filters_for_bench(runtime_default_json=RUNTIME_DEFAULT, recorder=False)
    clone3 = f"stub:{number('clone3')}"
    run = run_filter_cost(
        FakeLoopEngine({}, fail=clone3),
        "img",
        filters,
        NAMES,
        repeat=1,
        binary=binary,
        tracers_running=lambda: 0,
    )
    assert len(run.failed) == 2 and "stacking the stub filter failed" in run.failed[0]
    assert clone3 not in run.samples["runtime-default"]
    assert run.samples[REFERENCE]


def test_tracer_factory_is_unused_without_a_traced_filter(tmp_path: Path, binary: Path) -> None:

    def no_tracer(_path: Path) -> Any:
        raise AssertionError("no traced filter, no tracer")

    filters = filters_for_bench(runtime_default_json=RUNTIME_DEFAULT, recorder=False)
    run = run_filter_cost(
        FakeLoopEngine({}),
        "img",
        filters,
        [],
        repeat=1,
        binary=binary,
        tracer_factory=no_tracer,
        tracers_running=lambda: 0,
    )
    assert set(run.samples) == {REFERENCE, "runtime-default"}
    with pytest.raises(ValueError, match="no filter"):
        run_filter_cost(FakeLoopEngine({}), "img", filters[:1], [], binary=binary)


def test_containers_timed_while_another_tracer_ran_are_set_aside(
    tmp_path: Path, binary: Path
) -> None:
    filters = filters_for_bench(runtime_default_json=RUNTIME_DEFAULT, recorder=False)
    engine = FakeLoopEngine({})
    # another recorder's bpftrace is seen around the second container of the run only
    counts = iter([0, 0, 1, 0] + [0] * 100)
    run = run_filter_cost(
        engine,
        "img",
        filters,
        NAMES,
        repeat=4,
        binary=binary,
        tracers_running=lambda: next(counts),
    )
    assert len(run.disturbed) == 1 and "other bpftrace" in run.disturbed[0]
    second = engine.commands[1][2]
    label = "runtime-default" if second == RUNTIME_DEFAULT else REFERENCE
    assert all(len(values) == 3 for values in run.samples[label].values())
    assert run.failed == ()


def test_too_few_undisturbed_samples_are_topped_up_and_said(tmp_path: Path, binary: Path) -> None:
    filters = filters_for_bench(runtime_default_json=RUNTIME_DEFAULT, recorder=False)
    run = run_filter_cost(
        FakeLoopEngine({}),
        "img",
        filters,
        NAMES,
        repeat=2,
        binary=binary,
        tracers_running=lambda: 1,
    )
    assert all(len(v) == 2 for by_case in run.samples.values() for v in by_case.values())
    assert run.failed and "undisturbed" in run.failed[0]


def test_a_profile_without_the_loops_clock_is_measured_with_it_and_says_so(
    tmp_path: Path, binary: Path
) -> None:
    """A JVM reads its clocks through the vDSO, so a driver profile may lack clock_gettime;
    the loop reads its CPU clock with it, so the filter is measured with it allowed (the
    loop would otherwise time nothing), and the run says which filter got what."""
    filters = filters_for_bench(runtime_default_json=None, localhost={"generated": GENERATED})
    engine = FakeLoopEngine({})
    run = run_filter_cost(
        engine,
        "img",
        [f for f in filters if f.label in (REFERENCE, "generated")],
        NAMES,
        repeat=1,
        iterations=1000,
        run_root=tmp_path,
        binary=binary,
        tracers_running=lambda: 0,
    )
    assert run.loop_added == {"generated": ("clock_gettime",)}
    (measured,) = [p for _argv, mode, p in engine.commands if mode is SecurityMode.LOCALHOST]
    allowed = {n for r in json.loads(measured)["syscalls"] for n in r["names"]}
    assert allowed == {"getppid", "read", "clone", "clone3", "futex", "clock_gettime"}
    data = json.loads((tmp_path / FILTER_COST_FILE).read_text())
    assert data["loop_added"] == {"generated": ["clock_gettime"]}
