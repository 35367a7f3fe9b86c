"""Which calls of a Localhost profile each OCI runtime needs to start a container at all.

A profile is loaded by the OCI runtime before it execs the entrypoint; what the runtime's
init does after that (runc's Go runtime, crun's C) must be allowed too. For every call of
the profile, this starts the image's entrypoint running `true` under the profile without
that call, once per OCI runtime, in the restricted shape, and prints the calls whose
removal stops the container from starting or `true` from exiting 0, per runtime, and the
ones only one runtime needs.

    .venv/bin/python benchmarks/oci_runtime_needs.py [--engine docker] [--profile P]

About 2 x 100 containers; 40 s on Docker here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from profiler.image import default_tag
from profiler.runtime.interface import SecurityMode
from profiler.runtime.select import EngineChoice, make_engine

REPO = Path(__file__).resolve().parents[1]


def without(profile: dict, name: str) -> str:
    trimmed = json.loads(json.dumps(profile))
    for rule in trimmed["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n != name]
    trimmed["syscalls"] = [r for r in trimmed["syscalls"] if r["names"]]
    return json.dumps(trimmed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="docker", choices=("docker", "podman", "containerd"))
    parser.add_argument("--profile", type=Path, default=REPO / "profiles/spark-3.5.9-amd64.json")
    parser.add_argument("--image", default=default_tag())
    args = parser.parse_args()
    profile = json.loads(args.profile.read_text())
    names = sorted(
        {n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    )
    needs: dict[str, list[str]] = {}
    for runtime in ("runc", "crun"):
        engine = make_engine(EngineChoice(args.engine, runtime))
        code, _, errors = engine.run_command(
            args.image, ["true"], SecurityMode.LOCALHOST, json.dumps(profile)
        )
        if code != 0:
            raise SystemExit(f"{runtime}: `true` fails under the whole profile: {errors[-300:]}")
        needs[runtime] = []
        for name in names:
            code, _, _ = engine.run_command(
                args.image, ["true"], SecurityMode.LOCALHOST, without(profile, name)
            )
            if code != 0:
                needs[runtime].append(f"{name} (exit {code})")
        print(f"{args.engine}/{runtime} needs {len(needs[runtime])}: {', '.join(needs[runtime])}")
    runc = {n.split()[0] for n in needs["runc"]}
    crun = {n.split()[0] for n in needs["crun"]}
    print(f"only runc: {', '.join(sorted(runc - crun)) or '-'}")
    print(f"only crun: {', '.join(sorted(crun - runc)) or '-'}")


if __name__ == "__main__":
    main()
