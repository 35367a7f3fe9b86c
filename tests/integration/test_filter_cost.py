"""The cache rule against the kernel's own copy of the filters, and the filter-cost run on
the real engine: what ``seccomp.cache`` computes from libseccomp's export must be what
the kernel caches for the program runc really loaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiler.bench.filter_cost import REFERENCE, TRACED, filters_for_bench, run_filter_cost
from profiler.bench.filter_programs import compile_profile
from profiler.seccomp import bpf
from profiler.seccomp.arch import arch_token, syscall_number
from profiler.seccomp.installed import installed_filters

REPO = Path(__file__).parents[2]
REFERENCE_PROFILE = REPO / "profiles" / "spark-3.5.9-amd64.json"
RESTRICTED = {
    "security_opt": ["no-new-privileges"],
    "cap_drop": ["ALL"],
    "user": "185",
    "entrypoint": ["sleep", "120"],
}


def _cached(programs: Any, arch: str, base: int = 0) -> frozenset[int]:
    return bpf.cached_numbers(programs, arch_token(arch), range(base, base + 1024))


def _held_filters(docker_client: Any, image: str, seccomp: str | None) -> tuple[Any, ...]:
    options = dict(RESTRICTED)
    if seccomp is not None:
        options["security_opt"] = [*RESTRICTED["security_opt"], f"seccomp={seccomp}"]
    container = docker_client.containers.run(image, detach=True, **options)
    try:
        container.reload()
        return installed_filters(int(container.attrs["State"]["Pid"]))
    finally:
        container.remove(force=True)


@pytest.mark.docker
@pytest.mark.root
def test_export_caches_what_the_kernel_caches_for_runcs_runtime_default(
    docker_client: Any, docker_backend: Any, spark_image: str, need_root: None
) -> None:
    read = docker_backend.runtime_default_filter(spark_image)
    assert read is not None, "the RuntimeDefault bundle could not be read"
    exported = compile_profile(json.dumps(read[1]))
    held = _held_filters(docker_client, spark_image, None)
    assert len(held) == 1
    # runc puts its ENOSYS stub in front of libseccomp's program...
    assert len(held[0]) > len(exported)
    # ...which changes nothing the cache keeps, on either ABI of this machine
    assert _cached(held, "x86_64") == _cached([exported], "x86_64")
    assert _cached(held, "x86") == _cached([exported], "x86")
    clone = syscall_number("clone", "x86_64")
    getppid = syscall_number("getppid", "x86_64")
    assert clone not in _cached(held, "x86_64") and getppid in _cached(held, "x86_64")


@pytest.mark.docker
@pytest.mark.root
def test_export_caches_what_the_kernel_caches_for_a_localhost_profile(
    docker_client: Any, spark_image: str, need_root: None
) -> None:
    text = REFERENCE_PROFILE.read_text()
    held = _held_filters(docker_client, spark_image, json.dumps(json.loads(text)))
    exported = compile_profile(text)
    assert _cached(held, "x86_64") == _cached([exported], "x86_64")
    allowed = {
        syscall_number(n, "x86_64")
        for rule in json.loads(text)["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW"
        for n in rule["names"]
    } - {None}
    assert _cached(held, "x86_64") == allowed


@pytest.mark.docker
@pytest.mark.root
def test_filter_cost_times_cached_uncached_and_recorder_cases(
    docker_backend: Any, spark_image: str, need_bpftrace: None, tmp_path: Path
) -> None:
    read = docker_backend.runtime_default_filter(spark_image)
    assert read is not None
    filters = filters_for_bench(
        runtime_default_json=json.dumps(read[1]),
        localhost={"generated": REFERENCE_PROFILE.read_text()},
    )
    run = run_filter_cost(
        docker_backend,
        spark_image,
        filters,
        ["read", "futex", "clone", "clone3"],
        repeat=2,
        iterations=20_000,
        run_root=tmp_path,
    )
    assert run.failed == ()
    clone = f"stub:{syscall_number('clone', 'x86_64')}"
    assert set(run.samples["runtime-default"]) >= {clone, run.cached_case["runtime-default"]}
    assert len(run.samples[REFERENCE][clone]) == 2
    assert run.samples[TRACED]
    # The stub refuses clone in both; under RuntimeDefault the ~600-instruction program
    # for clone runs first, so the same refused call takes longer there.
    assert min(run.samples["runtime-default"][clone]) > max(run.samples[REFERENCE][clone])
    assert (tmp_path / "filter_cost.json").is_file()
