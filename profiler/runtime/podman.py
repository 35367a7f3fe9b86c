"""The Podman backend: Docker's backend over Podman's Docker-compatible API.

Podman applies containers-common's default seccomp profile, the one CRI-O hands its OCI
runtime on OpenShift nodes, and runs crun unless told otherwise. Its compat API differs
from Docker's in what this module adapts: a Localhost profile is given as a file path
(not as JSON), a tmpfs takes no ``uid=`` (``mode=1777`` makes it the pod user's to write,
as an emptyDir is), its default rlimits exceed what an unprivileged-looking host allows,
and a container's ``Runtime`` is ignored, so each OCI runtime gets its own API service.
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

from profiler.runtime.docker import DockerBackend
from profiler.runtime.engine import connect_podman, move_image_from_docker, parse_version_line

# Where Podman keeps a container's OCI bundle (rootful storage).
# The RLIMIT_NPROC Podman gives itself (and so the most its containers can have).
PODMAN_NPROC = 32768
_PODMAN_CONTAINERS = Path("/var/lib/containers/storage/overlay-containers")


class PodmanBackend(DockerBackend):
    name = "podman"

    def __init__(self, client: Any | None = None, *, oci_runtime: str = "crun") -> None:
        super().__init__(client, oci_runtime=oci_runtime)

    # Podman turns its dnsname plugin off on internal networks, and then no pod name
    # resolves; the run's network is a plain bridge (a pod network has egress too).
    internal_networks = False

    def _connect(self) -> Any:
        return connect_podman(self.oci_runtime)

    def _require_oci_runtime(self) -> None:
        # One service per runtime (``connect_podman``): nothing to check per container.
        return None

    def engine_options(self, options: dict[str, Any], scratch: Path) -> dict[str, Any]:
        security_opt = []
        for option in options.get("security_opt", []):
            if option.startswith("seccomp=") and option != "seccomp=unconfined":
                scratch.mkdir(parents=True, exist_ok=True)
                path = scratch / "seccomp.json"
                path.write_text(option.removeprefix("seccomp="))
                option = f"seccomp={path}"
            security_opt.append(option)
        options["security_opt"] = security_opt
        # Podman refuses tmpfs uid=/gid=; its own "U" gives the mount to the container's
        # user, as Docker's uid= does (an emptyDir is the pod user's to write).
        tmpfs = {}
        for target, value in (options.get("tmpfs") or {}).items():
            parts = [p for p in value.split(",") if not p.startswith(("uid=", "gid="))]
            if len(parts) < len(value.split(",")):
                parts.append("U")
            tmpfs[target] = ",".join(parts)
        options["tmpfs"] = tmpfs
        # The limits this process has, as a container of Docker's started from here gets;
        # Podman's own defaults (nofile 1048576) exceed them and crun cannot raise a hard
        # limit, and the service itself runs with at most PODMAN_NPROC processes.
        _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
        _, processes = resource.getrlimit(resource.RLIMIT_NPROC)
        processes = min(processes, PODMAN_NPROC) if processes > 0 else PODMAN_NPROC
        from docker.types import Ulimit

        options["ulimits"] = [
            Ulimit(name="nofile", soft=files, hard=files),
            Ulimit(name="nproc", soft=processes, hard=processes),
        ]
        # Docker's DNS answers for a container's hostname on its network; Podman's dnsname
        # only for names and aliases, so the hostname becomes an alias.
        for endpoint in (options.get("networking_config") or {}).values():
            aliases = list(endpoint.get("Aliases") or [])
            if options.get("hostname") and options["hostname"] not in aliases:
                endpoint["Aliases"] = [options["hostname"], *aliases]
        options.pop("runtime", None)
        return options

    def bundle_configs(self, container_id: str) -> list[Path]:
        return [_PODMAN_CONTAINERS / container_id / "userdata" / "config.json"]

    def versions(self) -> dict[str, str]:
        info = self.client.version()
        versions = {"engine": f"podman {info.get('Version', 'unknown')}"}
        for component in info.get("Components", []) or []:
            name = str(component.get("Name", ""))
            if name.startswith("OCI Runtime"):
                said = str(component.get("Version", "unknown"))
                # "crun version 1.8.1 commit: ..." -> "crun 1.8.1"
                versions["oci_runtime"] = (
                    parse_version_line(said)
                    or f"{self.oci_runtime} {' '.join(said.split()[:1]) or 'unknown'}"
                )
        versions.setdefault("oci_runtime", f"{self.oci_runtime} unknown")
        return versions

    def require_image(self, image: str) -> None:
        from docker.errors import ImageNotFound

        if image in self._checked_images:
            return
        try:
            self.client.images.get(image)
        except ImageNotFound:
            move_image_from_docker(image, ["podman", "load", "-q"], "podman")
        self._checked_images.add(image)
