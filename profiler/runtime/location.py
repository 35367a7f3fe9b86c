"""Where one engine instance lives: the host's own, or one started in another release's rootfs.

The host's Docker, Podman and containerd are found where Debian puts them (the defaults of
each adapter). An engine of a newer release (Podman 5, containerd 2 with runc 1.3 or crun
1.28) runs inside a chrooted rootfs of that release: it is reached through a socket under
that rootfs, runs its own binaries, and keeps its own storage and bundles there. An
``EngineLocation`` says all of that, so one adapter class serves both.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import EnvironmentProblem

# Where a root's tools lie when PATH lacks the sbin directories.
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class EngineLocation:
    """Where an engine instance lives; the defaults are the host's own engine."""

    # What labels add after "@" ("sid"): "" for the host's engine.
    name: str = ""
    # The engine's API socket (Docker API, Podman's compat API, containerd's gRPC); None:
    # where the adapter finds the host's engine.
    socket: Path | None = None
    # How this host runs the engine's own binaries: () runs them here; ("chroot", ROOTFS)
    # runs those of a rootfs whose glibc the host's binaries would not run with.
    command_prefix: tuple[str, ...] = ()
    # Tool name -> path as the engine sees it ("runc" -> "/usr/sbin/runc"); a tool not
    # listed is looked up on the host's PATH.
    binaries: tuple[tuple[str, str], ...] = ()
    # Where the host reads the engine's OCI bundles (containerd's task roots, Podman's
    # container storage); () leaves the adapter's defaults.
    bundle_roots: tuple[Path, ...] = ()
    # The root the engine runs in (None: the host's /). Its sockets, storage and the
    # files it is given by path lie under it.
    rootfs: Path | None = None
    # Note for reports: what this engine is, e.g. "podman 5.8.6/crun 1.28 @sid".
    description: str = ""

    @property
    def suffix(self) -> str:
        return f"@{self.name}" if self.name else ""

    @property
    def on_host(self) -> bool:
        return not self.command_prefix

    def engine_path(self, host_path: Path | str) -> str:
        """A host path as the engine sees it: itself on the host, relative to the rootfs
        for an engine that runs in one (which sees nothing outside it)."""
        if self.rootfs is None:
            return str(host_path)
        try:
            inside = Path(host_path).resolve().relative_to(self.rootfs.resolve())
        except ValueError:
            raise EnvironmentProblem(
                f"{host_path} lies outside the rootfs {self.rootfs} the engine runs in",
                "give the engine its files under its rootfs (ContainerPrimitives.run_files_dir)",
            ) from None
        return f"/{inside}"

    def binary(self, tool: str) -> str | None:
        """The path of ``tool`` as the engine sees it, or None when it has none."""
        listed = dict(self.binaries).get(tool)
        if listed is not None:
            return listed
        if not self.on_host:
            return None
        return shutil.which(tool) or shutil.which(tool, path=_SYSTEM_PATH)

    def command(self, tool: str) -> list[str] | None:
        """The argv prefix that runs ``tool`` from this host, or None when it has none."""
        path = self.binary(tool)
        return None if path is None else [*self.command_prefix, path]
