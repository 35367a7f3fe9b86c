"""A ``ContainerEngine`` made of an engine's primitives: what every engine adapter shares.

An adapter (``DockerBackend``, ``PodmanBackend``, ``ContainerdBackend``, and whatever engine
comes next) implements ``ContainerPrimitives`` in its engine's API and says what the engine
is (``versions``, images, where its OCI bundles lie); this base turns that into whole runs
(``orchestration.PodRun``), one-off commands (``command_shape``), the RuntimeDefault filter
read from a running container's bundle, the JVM options executors need, and the probe of
whether a profile's ``defaultErrnoRet`` reaches the program.

Where an engine lives is a value (``EngineLocation``), not a constant of its module: the
host's engines and engines started in another release's rootfs are instances of the same
adapters.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import uuid
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.paths import read_cached, write_cached
from profiler.runtime.cleanup import register_cleanup
from profiler.runtime.command import TOOLS_DIR, command_shape
from profiler.runtime.interface import (
    ContainerEngine,
    ContainerSecurity,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.location import EngineLocation
from profiler.runtime.orchestration import PodRun, one_off_container, run_one_off
from profiler.runtime.primitives import ContainerPrimitives

ERRNO_PROBE_CACHE = "default-errno-probe.json"
JAVA_OPTIONS_CACHE = "executor-java-options.json"
_ERRNO_PROBE = (
    "import os\n"
    "try:\n"
    "    os.getpgid(0)\n"
    "    print('allowed')\n"
    "except OSError as exc:\n"
    "    print(exc.errno)\n"
)
_ENOSYS = 38


class EngineAdapter(ContainerEngine, ContainerPrimitives):
    """An engine behind ``ContainerEngine``, through its primitives.

    Subclasses set ``name``, implement the primitives and ``versions``, ``require_image``,
    ``image_facts``, ``bundle_configs`` and ``cleanup``, and call ``__init__`` once their
    connection works (it registers the interrupt cleanup)."""

    # False for an engine that cannot give a pod a network: its runs take the local
    # topology, and ``topology_for`` says so.
    runs_pods: bool = True
    # False for an engine whose containers cannot be held for a tracer (strace).
    holds_for_tracer: bool = True

    def __init__(self, *, oci_runtime: str, location: EngineLocation | None = None) -> None:
        self.oci_runtime = oci_runtime
        self.location = location or EngineLocation()
        self.removed_while_unwinding = 0
        self._checked_images: set[str] = set()
        register_cleanup(self.name, "container", self.cleanup_after_interrupt)

    @property
    def label(self) -> str:
        """ "podman/crun", or "containerd/runc@sid" for an engine of another release."""
        return f"{self.name}/{self.oci_runtime}{self.location.suffix}"

    # -- what the engine is, per adapter -------------------------------------------------
    @abstractmethod
    def bundle_configs(self, container_id: str) -> list[Path]:
        """Where a running container's OCI ``config.json`` may be, read from this host."""

    @abstractmethod
    def cleanup(self, session_only: bool = False) -> int:
        """Remove the tool's containers (and networks): this process's only, or all."""

    def topology_for(self, requested: Topology, note: Callable[[str], None]) -> Topology:
        if requested is Topology.POD and not self.runs_pods:
            note(
                f"{self.name}: {self.no_pods_reason}, so the run uses the local topology "
                "(one container, a local master)"
            )
            return Topology.LOCAL
        return requested

    # Why ``runs_pods`` is False, in a few words.
    no_pods_reason: str = "no pod network"

    def require_image(self, image: str) -> None:
        if image not in self._checked_images:
            self.make_image_available(image)
            self._checked_images.add(image)

    @abstractmethod
    def make_image_available(self, image: str) -> None:
        """Check that the engine has ``image`` (moving it from Docker when it can), or raise
        ``EnvironmentProblem``; ``require_image`` asks once per image."""

    # -- runs ----------------------------------------------------------------------------
    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        notes: tuple[str, ...] = ()
        if spec.hold_until_traced and not self.holds_for_tracer:
            raise EnvironmentProblem(
                f"the {self.name} backend cannot hold a container for a tracer",
                "use --tracer ebpf",
            )
        if spec.topology is Topology.POD and not self.runs_pods:
            notes = (f"{self.name} runs the local topology ({self.no_pods_reason})",)
            spec = replace(spec, topology=Topology.LOCAL)
        for image in sorted({spec.settings_for(role).image for role in spec.roles}):
            self.require_image(image)
        java_options: tuple[str, ...] = ()
        if spec.topology is Topology.POD and spec.executors:
            java_options = self.executor_java_options(spec.settings_for(Role.EXECUTOR).image)
        return PodRun(
            self,
            spec,
            run_dir,
            observer,
            executor_java_options=java_options,
            notes=notes,
            on_removed_while_unwinding=self._count_removed_while_unwinding,
        ).execute()

    def run_command(
        self,
        image: str,
        argv: Sequence[str],
        mode: SecurityMode,
        profile_json: str | None = None,
        security: ContainerSecurity | None = None,
        *,
        mounts: Mapping[str, str] | None = None,
        timeout_seconds: float = 120.0,
    ) -> tuple[int | None, str, str]:
        """Run ``argv`` through the image's entrypoint under a seccomp mode; (exit code,
        stdout, stderr).

        The container gets the security settings of a workload's local container
        (restricted unless ``security`` says otherwise), so a probe or micro-benchmark sees
        what a Spark job sees, tini as PID 1 included. ``mounts`` maps host directories to
        read-only container paths; the tools directory is always at ``TOOLS_DIR``. The exit
        code is None when the command timed out. The container is always removed.
        """
        self.require_image(image)
        shape = command_shape(
            image, argv, mode, profile_json, security, mounts=mounts, run_id=_run_id()
        )
        return run_one_off(self, shape, timeout_seconds)

    def runtime_default_filter(self, image: str) -> tuple[str, dict[str, Any]] | None:
        """The ``linux.seccomp`` the engine hands the OCI runtime for a RuntimeDefault
        container with the restricted settings, read from the running container's bundle
        (``config.json``), with where it was read; None when no bundle can be read here
        (not root, or bundles that live elsewhere)."""
        self.require_image(image)
        shape = command_shape(
            image, ("sleep", "60"), SecurityMode.RUNTIME_DEFAULT, run_id=_run_id()
        )
        with one_off_container(self, shape) as container:
            self.start(container)
            return read_bundle_seccomp(self.bundle_configs(self.container_id(container)))

    def executor_java_options(self, image: str) -> tuple[str, ...]:
        """The JVM options Spark in ``image`` gives every executor: the module options and
        the rest that SparkContext adds to spark.executor's Java options (Spark hands them
        to executor pods as SPARK_JAVA_OPT_<n>). Asked of the image's own Spark once, cached
        by image id."""
        image_id = self.image_facts(image)[0]
        known: dict[str, list[str]] = {}
        with contextlib.suppress(ValueError):
            known = json.loads(read_cached(JAVA_OPTIONS_CACHE) or "{}")
        if image_id not in known:
            code, output, errors = self.run_command(
                image, ["python3", f"{TOOLS_DIR}/executor_java_options.py"], SecurityMode.UNCONFINED
            )
            lines = output.strip().splitlines()
            if code != 0 or not lines:
                last = (errors.strip().splitlines() or ["no output"])[-1]
                raise EnvironmentProblem(
                    f"could not ask {image}'s Spark for its executor JVM options: {last}",
                    "the image must run pyspark (python3 with pyspark on its path)",
                )
            known[image_id] = shlex.split(json.loads(lines[-1])["options"])
            write_cached(JAVA_OPTIONS_CACHE, json.dumps(known, indent=2, sort_keys=True) + "\n")
        return tuple(known[image_id])

    def honours_default_errno(self, image: str) -> bool:
        """Whether the engine passes a profile's ``defaultErrnoRet`` on; cached per engine
        and OCI runtime version."""
        from profiler.seccomp.arch import known_syscalls, native_arch

        key = "-".join(f"{k}={v}" for k, v in sorted(self.versions().items()))
        known: dict[str, bool] = {}
        with contextlib.suppress(ValueError):
            known = json.loads(read_cached(ERRNO_PROBE_CACHE) or "{}")
        if key not in known:
            self.require_image(image)
            errno = self.probe_default_errno(image, sorted(known_syscalls(native_arch())))
            known[key] = errno == _ENOSYS
            write_cached(ERRNO_PROBE_CACHE, json.dumps(known, indent=2, sort_keys=True) + "\n")
        return known[key]

    def probe_default_errno(self, image: str, all_names: list[str]) -> int | None:
        """The errno a program really gets from a profile's default action on this engine.

        Some engines (Docker 20.10) drop ``defaultErrnoRet`` when they convert the profile,
        so a profile asking for ENOSYS silently returns EPERM, and glibc/the JVM then fail
        where they would have fallen back (clone3 -> clone). A profile that allows
        everything but ``getpgid`` with ``defaultErrnoRet`` = ENOSYS, and Python asked.
        """
        profile = {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": _ENOSYS,
            "syscalls": [
                {
                    "names": sorted(n for n in all_names if n != "getpgid"),
                    "action": "SCMP_ACT_ALLOW",
                }
            ],
        }
        _, output, _ = self.run_command(
            image, ["python3", "-c", _ERRNO_PROBE], SecurityMode.LOCALHOST, json.dumps(profile)
        )
        text = output.strip().splitlines()[-1] if output.strip() else ""
        return int(text) if text.isdigit() else None

    # -- interrupts ----------------------------------------------------------------------
    def _count_removed_while_unwinding(self) -> None:
        self.removed_while_unwinding += 1

    def cleanup_after_interrupt(self) -> int:
        """How many containers an interrupt cost: those the unwinding runs removed, and
        any of this process's still there (which go now)."""
        removed, self.removed_while_unwinding = self.removed_while_unwinding, 0
        return removed + self.cleanup(session_only=True)


def read_bundle_seccomp(configs: list[Path]) -> tuple[str, dict[str, Any]] | None:
    """(where, ``linux.seccomp``) of the first readable bundle ``config.json``, or None."""
    for config in configs:
        with contextlib.suppress(OSError, ValueError, KeyError):
            seccomp = json.loads(config.read_text())["linux"]["seccomp"]
            return str(config.parent.parent), seccomp
    return None


def _run_id() -> str:
    return uuid.uuid4().hex[:12]
