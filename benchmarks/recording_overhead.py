"""How much recording slows a workload: eBPF (target: at most 3%) and strace beside it.

Runs the workload under the recording filter in interleaved pairs (traced, untraced,
then untraced, traced...), so drift hits both alike, and prints the median wall and job
times and the traced/untraced ratio with a 95% bootstrap interval paired by round.

    .venv/bin/python benchmarks/recording_overhead.py rdd_python --pairs 7 --strace-pairs 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from profiler import workloads
from profiler.bench.stats import bootstrap_ratio
from profiler.image import default_tag
from profiler.runtime.docker import DockerBackend
from profiler.runtime.interface import RunSpec, SecurityMode
from profiler.seccomp.generate import recording_profile
from profiler.tracing.ebpf import EbpfTracer
from profiler.tracing.strace import StraceTracer


def measure(backend, workload, tracer_class, pairs: int, work: Path) -> None:
    profile = recording_profile().to_json()
    traced: dict[int, float] = {}
    plain: dict[int, float] = {}
    traced_job: dict[int, float] = {}
    plain_job: dict[int, float] = {}
    for index in range(pairs):
        order = (True, False) if index % 2 == 0 else (False, True)
        for with_tracer in order:
            tracer = tracer_class(work / f"{tracer_class.name}-{index}") if with_tracer else None
            spec = RunSpec(
                workload=workload,
                mode=SecurityMode.LOCALHOST,
                image=default_tag(),
                profile_json=profile,
                hold_until_traced=bool(tracer and tracer.holds_first_process),
                timeout_seconds=1800,
            )
            result = backend.run(spec, None, observer=tracer)
            if not result.succeeded:
                raise SystemExit(f"run failed: {result.last_error_line()}")
            job = result.result.job_seconds if result.result else None
            (traced if with_tracer else plain)[index] = result.wall_seconds
            if job is not None:
                (traced_job if with_tracer else plain_job)[index] = job
        print(
            f"  pair {index + 1}/{pairs}: traced {traced[index]:.2f}s untraced {plain[index]:.2f}s",
            flush=True,
        )
    for label, a, b in (("wall", traced, plain), ("job", traced_job, plain_job)):
        if len(a) < 2 or len(b) < 2:
            continue
        ratio, low, high, n, paired = bootstrap_ratio(a, b)
        print(
            f"{tracer_class.name} {label}: traced median {statistics.median(a.values()):.2f}s, "
            f"untraced {statistics.median(b.values()):.2f}s, ratio {ratio:.3f} "
            f"(95% CI {low:.3f}..{high:.3f}, n={n}, {'paired' if paired else 'unpaired'}): "
            f"{(ratio - 1) * 100:+.1f}%"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="rdd_python")
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--strace-pairs", type=int, default=3)
    args = parser.parse_args()
    backend = DockerBackend()
    workload = workloads.resolve(args.workload)
    with tempfile.TemporaryDirectory(prefix="recording-overhead-") as tmp:
        print(f"eBPF recording overhead on {workload.name}, {args.pairs} interleaved pairs")
        measure(backend, workload, EbpfTracer, args.pairs, Path(tmp))
        if args.strace_pairs:
            print(f"strace recording overhead on {workload.name}, {args.strace_pairs} pairs")
            measure(backend, workload, StraceTracer, args.strace_pairs, Path(tmp))


if __name__ == "__main__":
    main()
