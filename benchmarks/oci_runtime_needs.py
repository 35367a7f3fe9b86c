"""What each OCI runtime, at each version, does and needs after the seccomp filter is loaded.

A Localhost profile is loaded by the OCI runtime before it execs the entrypoint; what the
runtime's init does after that (runc's Go, crun's C) must be allowed too, and it changes
between versions (runc 1.3 reopens its exec fifo through openat2, falling back to
readlinkat). For every node (``host`` and the catalogue's newer Debian releases), engine
and OCI runtime, this measures two things with the image's entrypoint running a trivial
command in the restricted shape:

- seen: the calls the runtime's init makes after the filter, traced with eBPF under the
  allow-everything recording filter (the "container runtime" role of recordings), over
  ``--repeat`` containers: "always" in every one, "sometimes" in some;
- needed: the calls of ``--profile`` (plus ``--allow``) whose removal stops the container
  from starting or the command from exiting 0 (this includes what tini, the entrypoint
  script and the command need, which is the same everywhere: the table shows what
  differs).

    .venv/bin/python benchmarks/oci_runtime_needs.py [--node host,trixie,sid]
        [--engine podman] [--oci-runtime runc,crun] [--profile P] [--allow readlinkat]

Root, bpftrace and the nodes (built on first use, about a minute each). About 100
containers per column for "needed" (--no-needed skips it): some 10 minutes for 6 columns.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from profiler.errors import ProfilerError
from profiler.image import default_tag
from profiler.runtime.adapter import EngineAdapter
from profiler.runtime.interface import SecurityMode
from profiler.runtime.select import make_engine, parse_engine_choices
from profiler.tracing.ebpf import EbpfTracer
from profiler.tracing.runtime_probe import PROBE_COMMAND, runtime_calls_after_filter
from profiler.vocabulary import PodSecurity

REPO = Path(__file__).resolve().parents[1]
COMMAND = PROBE_COMMAND


def without(profile: dict, name: str) -> str:
    trimmed = json.loads(json.dumps(profile))
    for rule in trimmed["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != name]
    trimmed["syscalls"] = [r for r in trimmed["syscalls"] if r["names"]]
    return json.dumps(trimmed)


def with_allowed(profile: dict, names: list[str]) -> dict:
    """The profile with ``names`` allowed (taken out of any other rule first)."""
    grown = json.loads(json.dumps(profile))
    for rule in grown["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in names]
    grown["syscalls"] = [r for r in grown["syscalls"] if r["names"]]
    if names:
        grown["syscalls"].insert(0, {"names": sorted(names), "action": "SCMP_ACT_ALLOW"})
    return grown


def seen_after_filter(engine: EngineAdapter, image: str, repeat: int) -> list[set[str]]:
    """Per container: the calls the OCI runtime's init made after the filter (the probe
    `record` runs, ``tracing.runtime_probe``)."""
    runs = []
    for index in range(repeat):
        with tempfile.TemporaryDirectory(prefix="oci-needs-") as scratch:
            tracer = EbpfTracer(Path(scratch))
            tracer.check_available()
            probed = runtime_calls_after_filter(
                engine, image, tracer, pod_security=PodSecurity.RESTRICTED, run_index=index
            )
            runs.append(set(probed.counts) if probed is not None else set())
    return runs


def needed_from(engine: EngineAdapter, image: str, profile: dict) -> list[str] | str:
    """The calls whose removal from ``profile`` stops the command; or why the whole
    profile does not run it."""
    argv = list(COMMAND)
    code, _, errors = engine.run_command(image, argv, SecurityMode.LOCALHOST, json.dumps(profile))
    if code != 0:
        return f"the whole profile does not run it: {(errors.strip().splitlines() or [''])[-1]}"
    names = sorted(
        {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    )
    needed = []
    for name in names:
        code, _, _ = engine.run_command(image, argv, SecurityMode.LOCALHOST, without(profile, name))
        if code != 0:
            needed.append(name)
    return needed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", default="host,trixie,sid")
    parser.add_argument("--engine", default=None, help="[default: docker on host, podman on nodes]")
    parser.add_argument("--oci-runtime", default="runc,crun")
    parser.add_argument("--profile", type=Path, default=REPO / "profiles/spark-3.5.9-amd64.json")
    parser.add_argument("--allow", default="", help="calls to add to the profile, comma-separated")
    parser.add_argument("--image", default=default_tag())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-needed", action="store_true", help="only trace (eBPF), no removals")
    args = parser.parse_args()
    profile = with_allowed(
        json.loads(args.profile.read_text()), [n for n in args.allow.split(",") if n]
    )
    columns: dict[str, tuple[str, list[set[str]], list[str] | str | None]] = {}
    try:
        for choice in parse_engine_choices(args.engine, args.oci_runtime, args.node):
            engine = make_engine(choice, lambda line: print(line, file=sys.stderr))
            assert isinstance(engine, EngineAdapter)
            engine.require_image(args.image)
            versions = engine.versions()
            said = f"{versions.get('engine')}, {versions.get('oci_runtime')}"
            print(f"== {choice.label}: {said}", file=sys.stderr, flush=True)
            seen = seen_after_filter(engine, args.image, args.repeat)
            needed = None if args.no_needed else needed_from(engine, args.image, profile)
            columns[choice.label] = (str(versions.get("oci_runtime")), seen, needed)
    except ProfilerError as exc:
        raise SystemExit(f"error: {exc.diagnostics()}") from exc

    print(f"\nprofile: {args.profile.name}" + (f" + {args.allow}" if args.allow else ""))
    print(f"image: {args.image}; command: {' '.join(COMMAND)} through the entrypoint\n")
    print("| engine | OCI runtime | after the filter, always (eBPF) | sometimes |")
    print("|---|---|---|---|")
    for label, (runtime, seen, _) in columns.items():
        always = set.intersection(*seen) if seen else set()
        ever = set.union(*seen) if seen else set()
        print(
            f"| {label} | {runtime} | {len(always)}: {', '.join(sorted(always))} "
            f"| {', '.join(sorted(ever - always)) or '-'} |"
        )
    needs = {k: v[2] for k, v in columns.items() if isinstance(v[2], list)}
    if needs:
        common = set.intersection(*(set(v) for v in needs.values()))
        print(
            f"\nneeded from the profile by every column ({len(common)}): {', '.join(sorted(common))}"
        )
        print("\n| engine | OCI runtime | needed (all) | needed besides what every column needs |")
        print("|---|---|---|---|")
    for label, (runtime, _, needed) in columns.items():
        if isinstance(needed, str):
            print(f"| {label} | {runtime} | - | {needed} |")
        elif needed is not None:
            print(
                f"| {label} | {runtime} | {len(needed)} "
                f"| {', '.join(sorted(set(needed) - common)) or '-'} |"
            )


if __name__ == "__main__":
    main()
