"""Building a node's root filesystem offline, from Debian packages, once per recipe.

A node's rootfs is what ``mmdebstrap --variant=essential`` makes of its suite and package
list, plus empty directories the running node mounts over. It lives in the tool's cache
(``<cache>/nodes/<name>-<build key>/rootfs``) and is rebuilt only when the recipe (suite,
packages, apt options) changes: sid moves, so a build keeps the package versions it got
in ``versions.json`` beside it, and results print those, never the catalogue's wishes.
A build goes to a temporary directory first and is renamed into place when complete, so an
interrupted build leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.paths import cache_dir
from profiler.runtime.nodes.catalogue import NodeSpec

# Directories the running node mounts over (``live``): they must exist in the rootfs, which
# is read-only once the node runs. ``.host`` is where the host's own tree stays visible.
MOUNT_POINTS = (
    ".host",
    "var/lib/containers",
    "var/lib/spark-seccomp",
    "var/lib/cni",  # the CNI plugins' cache of attachments (the CRI's pods)
    "etc/containers/networks",
    "var/tmp",
    "run",
    "tmp",
)
# The packages whose versions results print (Debian's names).
SHOWN_PACKAGES = (
    "podman",
    "runc",
    "crun",
    "containerd",
    "conmon",
    "netavark",
    "golang-github-containers-common",
    "libseccomp2",
)
VERSIONS_FILE = "versions.json"


def nodes_dir() -> Path:
    return cache_dir() / "nodes"


@dataclass(frozen=True)
class NodeBuild:
    """A finished build of a node: its rootfs, the versions it holds, and its state."""

    spec: NodeSpec
    directory: Path

    @property
    def rootfs(self) -> Path:
        return self.directory / "rootfs"

    @property
    def state(self) -> Path:
        """What the running node writes (image store, sockets, logs): never the rootfs."""
        return self.directory / "state"

    @property
    def versions_file(self) -> Path:
        return self.directory / VERSIONS_FILE

    def packages(self) -> dict[str, str]:
        """Every package of the rootfs -> its Debian version."""
        return dict(json.loads(self.versions_file.read_text())["packages"])

    def built_at(self) -> str:
        return str(json.loads(self.versions_file.read_text())["built"])

    def versions(self) -> dict[str, str]:
        """The container stack's upstream versions: {"runc": "1.3.6", "podman": "5.8.6"...}."""
        packages = self.packages()
        return {
            short_name(name): upstream_version(packages[name])
            for name in SHOWN_PACKAGES
            if name in packages
        }

    def summary(self) -> str:
        """``sid (Debian sid, built 2026-12-05): podman 5.8.6, runc 1.3.6, ...``"""
        shown = ", ".join(f"{name} {version}" for name, version in self.versions().items())
        return f"{self.spec.name} (Debian {self.spec.suite}, built {self.built_at()}): {shown}"


def short_name(package: str) -> str:
    return {"golang-github-containers-common": "containers-common"}.get(package, package)


def upstream_version(debian_version: str) -> str:
    """``1:1.3.6+ds1-1`` -> ``1.3.6``: what the project itself calls the release."""
    version = debian_version.split(":", 1)[-1]
    version = version.rsplit("-", 1)[0] if "-" in version else version
    for mark in ("+ds", "+dfsg", "~"):
        version = version.split(mark, 1)[0]
    return version


def find_build(spec: NodeSpec) -> NodeBuild | None:
    """The finished build of ``spec``'s current recipe, or None."""
    build = NodeBuild(spec, nodes_dir() / f"{spec.name}-{spec.build_key}")
    return build if build.versions_file.is_file() and build.rootfs.is_dir() else None


def node_lock(name: str) -> contextlib.AbstractContextManager[None]:
    """One process at a time builds, starts or stops a node (others wait)."""
    return file_lock(nodes_dir() / f"{name}.lock")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_node(spec: NodeSpec, note: Callable[[str], None] = lambda _: None) -> NodeBuild:
    """The node's build, made now when its recipe has none yet (as root, with mmdebstrap)."""
    if (found := find_build(spec)) is not None:
        return found
    with node_lock(spec.name):
        if (found := find_build(spec)) is not None:
            return found
        return _build(spec, note)


def _build(spec: NodeSpec, note: Callable[[str], None]) -> NodeBuild:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            f"building the {spec.name} node needs root (mmdebstrap, then mounts to run it)",
            "run as root",
        )
    mmdebstrap = proc.require_program(
        "mmdebstrap", "`apt-get install mmdebstrap` (or `make setup`)"
    )
    final = NodeBuild(spec, nodes_dir() / f"{spec.name}-{spec.build_key}")
    partial = final.directory.with_name(final.directory.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    argv = [mmdebstrap, "--variant=essential", "--include=" + ",".join(spec.packages)]
    argv += [f"--aptopt={option}" for option in spec.apt_options]
    argv += [spec.suite, str(partial / "rootfs")]
    if spec.mirror:
        argv.append(spec.mirror)
    note(
        f"building the {spec.name} node: mmdebstrap {spec.suite} with {len(spec.packages)} packages"
    )
    started = time.monotonic()
    try:
        proc.run(argv, timeout=1800, hint="check that the Debian mirror is reachable")
        for mount_point in MOUNT_POINTS:
            (partial / "rootfs" / mount_point).mkdir(parents=True, exist_ok=True)
        packages = installed_packages(partial / "rootfs")
        record = {
            "node": spec.name,
            "suite": spec.suite,
            "build_key": spec.build_key,
            "built": time.strftime("%Y-%m-%d", time.gmtime()),
            "packages": packages,
        }
        (partial / VERSIONS_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        partial.rename(final.directory)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    note(f"built the {spec.name} node in {time.monotonic() - started:.0f} s: {final.summary()}")
    return final


def installed_packages(rootfs: Path) -> dict[str, str]:
    """Package -> version, read from the rootfs's dpkg database with the host's dpkg-query."""
    completed = proc.run(
        [
            "dpkg-query",
            f"--admindir={rootfs / 'var/lib/dpkg'}",
            "-W",
            "-f",
            "${Package} ${Version}\n",
        ]
    )
    packages = {}
    for line in completed.stdout.splitlines():
        name, _, version = line.partition(" ")
        if name and version:
            packages[name] = version
    return dict(sorted(packages.items()))


def other_builds(spec: NodeSpec) -> list[Path]:
    """Directories of the node's builds from other recipes (and unfinished builds whose
    process is gone)."""
    pattern = re.compile(rf"{re.escape(spec.name)}-([0-9a-f]{{12}})(\.partial-(\d+))?")
    found = []
    for directory in sorted(nodes_dir().iterdir()) if nodes_dir().is_dir() else []:
        match = pattern.fullmatch(directory.name)
        if match is None or not directory.is_dir():
            continue
        if match[3] is None and match[1] == spec.build_key:
            continue
        if match[3] and Path(f"/proc/{match[3]}").exists():
            continue  # another process is building it right now
        found.append(directory)
    return found
