"""The bound for the whole catalogue, from recordings already made: no job runs.

Every workload's syscall counts per pod come from the reference recordings (`make
profiles` keeps them in runs/reference-profiles-<V>), and so does each pod's CPU time:
the run.json beside each recording holds every container's CPU seconds. The added cost of
one call under each filter (RuntimeDefault as the engine hands it, the role's Localhost
profile, the eBPF recorder) is measured here once, in containers, for every call the
catalogue makes; counts x cost over CPU time is the bound, as `bench` computes it.

The CPU time is that of the recording runs (allow-all filter, recorder attached), not of
unconfined runs: by the recorder's own bound that inflates the denominator by under
0.5%, which moves a bound of 0.02% by a ten-thousandth of a percent. `bench` takes it from
unconfined runs; this script trades that for not running 17 jobs three times.

    .venv/bin/python benchmarks/catalogue_bound.py runs/reference-profiles-3.5.9 \\
        --profile profiles/spark-3.5.9-amd64.json --repeat 10
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console

from profiler.bench import filter_cost
from profiler.bench.bound import (
    RECORDER_MODE,
    BoundTarget,
    bound_to_json,
    compute_bounds,
    counts_from_recordings,
)
from profiler.cli.bench_tables import render_bound_table, render_cost_table
from profiler.image import default_tag
from profiler.record import load_recordings
from profiler.runtime.select import EngineChoice, make_engine
from profiler.tracing.interface import Recording
from profiler.vocabulary import ROLES


def cpu_by_role(
    recordings: list[Recording], paths: list[Path]
) -> dict[tuple[str, str], list[float]]:
    """(workload, pod role) -> CPU seconds of each recorded run (every executor pod
    together), read from the run.json beside each recording."""
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    seen: set[Path] = set()
    for recording, path in zip(recordings, paths, strict=True):
        run_json = path.parent / "run.json"
        if run_json in seen or not run_json.is_file():
            continue
        seen.add(run_json)
        per_role: dict[str, float] = defaultdict(float)
        for container in json.loads(run_json.read_text()).get("containers", []):
            if container.get("cpu_seconds") and container.get("role") in ROLES:
                per_role[container["role"]] += container["cpu_seconds"]
        for role, seconds in per_role.items():
            found[(recording.workload, role)].append(seconds)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", type=Path, help="a `record` run folder (recursive)")
    parser.add_argument("--profile", type=Path, required=True, help="the union profile")
    parser.add_argument("--image", default=default_tag())
    parser.add_argument("--repeat", type=int, default=filter_cost.DEFAULT_REPEAT)
    parser.add_argument("--iterations", type=int, default=filter_cost.DEFAULT_ITERATIONS)
    parser.add_argument("--engine", default="docker/runc", help="ENGINE/OCI of the filter cost")
    parser.add_argument("--out", type=Path, help="write the bound as JSON here")
    args = parser.parse_args()

    paths = sorted(args.recordings.rglob("recording*.json"))
    # Only the recordings of this machine's architecture (the arm64 folder is derived).
    recordings = load_recordings(paths)
    kept = [(r, p) for r, p in zip(recordings, paths, strict=True) if "arm64" not in p.parts]
    recordings, paths = [r for r, _ in kept], [p for _, p in kept]
    counts = counts_from_recordings(recordings)
    cpu = cpu_by_role(recordings, paths)
    called = {name for count in counts for name in count.names}

    engine_name, _, oci = args.engine.partition("/")
    runner = make_engine(EngineChoice(engine_name, oci or "runc"))
    read = runner.runtime_default_filter(args.image)
    runtime_default = json.dumps(read[1], sort_keys=True) if read else None
    localhost = {}
    for role in ROLES:
        own = args.profile.with_name(f"{args.profile.stem}.{role}.json")
        localhost[f"localhost ({role})"] = (own if own.is_file() else args.profile).read_text()
    filters = filter_cost.filters_for_bench(
        runtime_default_json=runtime_default, localhost=localhost, recorder=True
    )
    console = Console(stderr=True)
    run = filter_cost.run_filter_cost(
        runner,
        args.image,
        filters,
        called,
        repeat=args.repeat,
        iterations=args.iterations,
        progress=lambda what, done, total: console.print(
            f"[{done}/{total}] {what}", markup=False, highlight=False
        ),
    )
    targets = []
    for role in ROLES:
        if runtime_default is not None:
            targets.append(BoundTarget("runtime-default", role, "runtime-default"))
        targets.append(BoundTarget("localhost", role, f"localhost ({role})"))
        targets.append(BoundTarget(RECORDER_MODE, role, filter_cost.TRACED))
    bound = compute_bounds(counts, cpu, targets, run)
    out = Console(width=160)
    out.print(render_cost_table(bound))
    out.print(render_bound_table(bound))
    for line in (*run.failed, *run.disturbed):
        console.print(f"note: {line}")
    if args.out:
        args.out.write_text(bound_to_json(bound))
    return 0


if __name__ == "__main__":
    sys.exit(main())
