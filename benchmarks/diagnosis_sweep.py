"""Does diagnosis name exactly the removed syscall, for every catalogue workload?

For each workload and each removed syscall (a file, a thread and a socket call by
default), runs the workload in pod shape under the reference profiles (union and, beside
it, the driver's and the executors') minus that call, then checks that the cell fails and
that its diagnosis names exactly that call, in whichever pods made it. Prints one line
per case and a total.

    .venv/bin/python benchmarks/diagnosis_sweep.py --profile profiles/spark-3.5.9-amd64.json
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from profiler import workloads
from profiler.check import CheckOptions, CheckPlan, Verdict, run_check
from profiler.image import default_tag
from profiler.runtime.docker import DockerBackend
from profiler.runtime.interface import LabelledProfile, ProfileSet, SecurityMode
from profiler.runtime.profiles import load_profile_set
from profiler.runtime.run_shape import RunShape
from profiler.seccomp.profile import profile_from_dict

REMOVALS = ("getdents64", "clone3", "socket")
DENIED = re.compile(r"^(?:(\w+) pod: )?denied: (\S+) ")


def without(profiles: ProfileSet, name: str) -> ProfileSet:
    """Every profile of the set with ``name`` no longer allowed."""
    import json

    def drop(labelled: LabelledProfile | None) -> LabelledProfile | None:
        if labelled is None:
            return None
        profile = profile_from_dict(json.loads(labelled.text), labelled.label)
        return LabelledProfile(profile.without_allowed(name).to_json(), f"{labelled.label} -{name}")

    union = drop(profiles.union)
    assert union is not None
    return ProfileSet(union, driver=drop(profiles.driver), executor=drop(profiles.executor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=Path("profiles/spark-3.5.9-amd64.json"))
    parser.add_argument("--remove", default=",".join(REMOVALS))
    parser.add_argument("workloads", nargs="*")
    args = parser.parse_args()
    profiles = load_profile_set(args.profile)
    backend = DockerBackend()
    selected = workloads.resolve_all(args.workloads)
    exact = total = 0
    with tempfile.TemporaryDirectory(prefix="diagnosis-sweep-") as tmp:
        for workload in selected:
            # One unconfined run per workload is the reference for all its removals.
            plan = CheckPlan((workload,), (SecurityMode.UNCONFINED,), RunShape(default_tag()))
            reference = run_check(backend, plan, CheckOptions(diagnose=False)).cell(
                workload.name, SecurityMode.UNCONFINED
            )
            checksum = reference.runs[0].checksum
            if reference.verdict is not Verdict.PASS or checksum is None:
                print(f"{workload.name}: fails unconfined, skipped", flush=True)
                continue
            for name in args.remove.split(","):
                plan = CheckPlan(
                    (workload,),
                    (SecurityMode.LOCALHOST,),
                    RunShape(default_tag()),
                    profiles=without(profiles, name),
                    reference_checksums={workload.name: checksum},
                )
                options = CheckOptions(run_root=Path(tmp) / workload.name / name)
                report = run_check(backend, plan, options)
                cell = report.cell(workload.name, SecurityMode.LOCALHOST)
                named = {m.group(2) for d in cell.diagnosis if (m := DENIED.match(d))}
                ok = cell.verdict is not Verdict.PASS and named == {name}
                exact += ok
                total += 1
                first = cell.diagnosis[0] if cell.diagnosis else "(no diagnosis)"
                print(
                    f"{workload.name:22} -{name:11} {cell.verdict.value:8} "
                    f"{'exact' if ok else 'MISSED'}: {first}",
                    flush=True,
                )
    print(f"{exact} of {total} cases named exactly the removed syscall")


if __name__ == "__main__":
    main()
