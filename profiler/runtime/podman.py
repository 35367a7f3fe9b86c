"""The Podman engine: the Docker API adapter on Podman's compat API service, rootful.

Podman applies containers-common's default seccomp profile, the one CRI-O hands its OCI
runtime on OpenShift nodes, and runs crun unless told otherwise. Its compat API takes what
Docker takes with a few differences, which this module's hooks adapt: a Localhost profile is
given as a file path (not as JSON); a tmpfs takes no ``uid=`` (its own ``U`` gives the mount
to the container's user, as an emptyDir is the pod user's to write); its default rlimits
exceed what an unprivileged-looking host allows; its ``dnsname`` plugin answers only for
names and aliases, and is off on internal networks; and a container's ``Runtime`` is
ignored, so each OCI runtime gets its own API service.
"""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any

from profiler import proc
from profiler.runtime.dockerapi import DockerApiAdapter, seccomp_option
from profiler.runtime.engine import (
    connect_podman,
    docker_image_id,
    docker_reference,
    move_image_from_docker,
    parse_version_line,
    same_image,
)
from profiler.runtime.interface import SecurityMode
from profiler.runtime.location import EngineLocation
from profiler.runtime.shape import ContainerShape, Tmpfs

# The RLIMIT_NPROC Podman gives itself (and so the most its containers can have).
PODMAN_NPROC = 32768
# Where rootful Podman keeps a container's OCI bundle.
PODMAN_CONTAINERS = Path("/var/lib/containers/storage/overlay-containers")


class PodmanBackend(DockerApiAdapter):
    name = "podman"
    engine_title = "Podman"
    # Podman turns its dnsname plugin off on internal networks, and then no pod name
    # resolves; the run's network is a plain bridge (a pod network has egress too).
    internal_networks = False
    # dnsname runs Podman's own dnsmasq on the network's gateway, the one address of the
    # host its pods reach (an internal network has none): no room for a cluster DNS
    # there, so pods resolve through dnsname, without search domains.
    runs_cluster_dns = False

    def __init__(
        self,
        client: Any | None = None,
        *,
        oci_runtime: str = "crun",
        location: EngineLocation | None = None,
    ) -> None:
        """One API service per OCI runtime (``connect_podman`` starts it when needed)."""
        location = location or EngineLocation()
        connected = client is None
        super().__init__(
            client if client is not None else connect_podman(oci_runtime, location),
            oci_runtime=oci_runtime,
            location=location,
        )
        if connected:
            self.sweep_orphans()

    # -- what Podman's compat API takes differently ------------------------------------
    def seccomp_option(self, shape: ContainerShape, scratch: Path) -> list[str]:
        if shape.seccomp_mode is not SecurityMode.LOCALHOST:
            return seccomp_option(shape)
        assert shape.seccomp_profile is not None
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / "seccomp.json"
        path.write_text(shape.seccomp_profile)
        return [f"seccomp={self.location.engine_path(path)}"]

    def tmpfs_option(self, tmpfs: Tmpfs) -> str:
        # Podman refuses tmpfs uid=/gid=; its own "U" gives the mount to the container's
        # user, as Docker's uid= does (an emptyDir is the pod user's to write).
        options = [o for o in tmpfs.options() if not o.startswith(("uid=", "gid="))]
        if tmpfs.uid is not None:
            options.append("U")
        return ",".join(options)

    def network_aliases(self, shape: ContainerShape) -> list[str]:
        # Docker's DNS answers for a container's hostname on its network; Podman's dnsname
        # only for names and aliases, so the hostname becomes an alias.
        return [shape.pod.hostname, *(n for n in shape.pod.dns_names if n != shape.pod.hostname)]

    def engine_options(self, options: dict[str, Any]) -> dict[str, Any]:
        # The limits this process has, as a container of Docker's started from here gets;
        # Podman's own defaults (nofile 1048576) exceed them and crun cannot raise a hard
        # limit, and the service itself runs with at most PODMAN_NPROC processes.
        from docker.types import Ulimit

        _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
        _, processes = resource.getrlimit(resource.RLIMIT_NPROC)
        processes = min(processes, PODMAN_NPROC) if processes > 0 else PODMAN_NPROC
        options["ulimits"] = [
            Ulimit(name="nofile", soft=files, hard=files),
            Ulimit(name="nproc", soft=processes, hard=processes),
        ]
        return options

    # -- what Podman is and has ---------------------------------------------------------
    def bundle_configs(self, container_id: str) -> list[Path]:
        roots = self.location.bundle_roots or (PODMAN_CONTAINERS,)
        return [root / container_id / "userdata" / "config.json" for root in roots]

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
        if self.location.name:
            versions["node"] = self.location.description
        return versions

    def make_image_available(self, image: str) -> None:
        from docker.errors import ImageNotFound

        # Docker's build is the one to run: an engine holding an older build of the same
        # name gets the new one (a rebuilt image kept its tag, and runs used the old one).
        wanted = docker_image_id(image)
        try:
            held = str(self.client.images.get(image).id)
            if wanted is None or same_image(held, wanted):
                return
        except ImageNotFound:
            pass
        podman = self.location.command("podman") or ["podman"]
        move_image_from_docker(image, [*podman, "load", "-q"], f"podman{self.location.suffix}")
        # `podman load` names a short name localhost/NAME; Podman 5's compat API looks
        # short names up as Docker does (docker.io/NAME), and then finds nothing, or the
        # older build that name was given before.
        try:
            held = str(self.client.images.get(image).id)
            if wanted is None or same_image(held, wanted):
                return
        except ImageNotFound:
            pass
        proc.run([*podman, "tag", podman_loaded_name(image), docker_reference(image)])


def podman_loaded_name(image: str) -> str:
    """What `podman load` calls an image Docker saved as ``image``: a short name goes
    under localhost/."""
    return image if docker_reference(image) == image else f"localhost/{image}"
