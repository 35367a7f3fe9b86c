"""The Docker engine: the Docker API adapter on the host's dockerd, its OCI runtime chosen
per container (runc, or crun once bootstrap adds it to daemon.json).

What a container is given and how a run goes are the engine-neutral core's
(``shape``, ``orchestration``); the Docker API translation is ``dockerapi``'s. This module
says only what is Docker's: how to reach it, that it has the asked OCI runtime, its
versions, and where its containerd keeps the OCI bundles (namespace ``moby``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.runtime.dockerapi import DockerApiAdapter
from profiler.runtime.engine import (
    CONTAINERD_TASK_ROOTS,
    connect,
    containerd_bundle_configs,
    engine_versions,
    oci_runtime_version,
)
from profiler.runtime.location import EngineLocation

# The containerd namespace Docker runs its containers in.
DOCKER_NAMESPACE = "moby"


class DockerBackend(DockerApiAdapter):
    name = "docker"
    engine_title = "Docker"

    def __init__(
        self,
        client: Any | None = None,
        *,
        oci_runtime: str = "runc",
        location: EngineLocation | None = None,
    ) -> None:
        """``client``: a docker SDK client already connected (tests give a fake, which is
        neither checked nor swept); otherwise the engine at ``location`` is reached, its
        OCI runtime checked and what dead tool processes left removed."""
        location = location or EngineLocation()
        connected = client is None
        super().__init__(
            client if client is not None else connect(location.socket),
            oci_runtime=oci_runtime,
            location=location,
        )
        if connected:
            self._require_oci_runtime()
            self.sweep_orphans()

    def _require_oci_runtime(self) -> None:
        runtimes = self.client.info().get("Runtimes") or {}
        if self.oci_runtime not in runtimes:
            raise EnvironmentProblem(
                f"the Docker engine has no {self.oci_runtime} runtime "
                f"(it has {', '.join(sorted(runtimes)) or 'none'})",
                f"as root, `make setup` adds {self.oci_runtime} to /etc/docker/daemon.json "
                "and reloads the engine",
            )

    def bundle_configs(self, container_id: str) -> list[Path]:
        roots = self.location.bundle_roots or CONTAINERD_TASK_ROOTS
        return containerd_bundle_configs(DOCKER_NAMESPACE, container_id, roots)

    def versions(self) -> dict[str, str]:
        found = engine_versions(self.client)
        versions = {
            "engine": f"{self.name} {found.get('engine', 'unknown')}",
            "oci_runtime": oci_runtime_version(self.oci_runtime, self.location),
        }
        if "containerd" in found:
            versions["containerd"] = found["containerd"]
        return versions
