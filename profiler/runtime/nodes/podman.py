"""Podman of a node: the Podman backend, talking to the API service inside a running node.

Everything Podman-specific (profiles by path, tmpfs ownership, rlimits, aliases) is the
host backend's; this adapter says where the node's engine lives: its socket, where its
bundles are on the host, how host paths are seen in the node (under /.host), how images
get in (``docker save | podman load`` inside the node), and that pids it reports are the
node's, translated for tracers.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from profiler import proc
from profiler.runtime.engine import move_image_from_docker
from profiler.runtime.interface import ContainerRef, RunObserver, RunResult, RunSpec
from profiler.runtime.nodes.live import NODE_RUN, Node, start_daemon, start_node
from profiler.runtime.podman import PodmanBackend


def podman_service(node: Node, oci_runtime: str) -> Path:
    """The host path of the node's Podman API socket whose containers run ``oci_runtime``
    (Podman's compat API ignores a container's runtime: one service per OCI runtime)."""
    name = f"podman-{oci_runtime}"
    socket = node.socket(name)
    start_daemon(
        node,
        name,
        [
            "podman",
            "--runtime",
            oci_runtime,
            "system",
            "service",
            "--time=0",
            f"unix://{NODE_RUN}/{name}.sock",
        ],
        ready=lambda: _answers(socket),
    )
    return socket


def _answers(socket: Path) -> bool:
    if not socket.exists():
        return False
    import docker
    from docker.errors import DockerException

    with contextlib.suppress(DockerException):
        docker.DockerClient(base_url=f"unix://{socket}", timeout=5).ping()
        return True
    return False


def _say(message: str) -> None:
    # Building (a minute) and starting a node are said as the host engine's service start is.
    sys.stderr.write(message + "\n")


class _HostPids(RunObserver):
    """Hands tracers host pids: the node's engine reports pids of the node's namespace."""

    def __init__(self, inner: RunObserver, node: Node) -> None:
        self.inner = inner
        self.node = node

    def follow_process_tree(self) -> None:
        self.inner.follow_process_tree()

    def before_start(self) -> None:
        self.inner.before_start()

    def started(self, host_pid: int, container: ContainerRef) -> None:
        # The engine's State.Pid is the node's; a pid taken from the cgroup (a held start
        # for strace) is the host's already and has no such node pid.
        translated = self.node.host_pid(host_pid)
        self.inner.started(translated if translated is not None else host_pid, container)

    def finished(self) -> None:
        self.inner.finished()


class NodePodmanBackend(PodmanBackend):
    """The node's Podman with ``oci_runtime`` (its own runc or crun)."""

    def __init__(self, node: Node | str, *, oci_runtime: str = "crun") -> None:
        self.node = node if isinstance(node, Node) else start_node(node, _say)
        super().__init__(oci_runtime=oci_runtime)

    @property
    def label(self) -> str:
        return f"{self.name}/{self.oci_runtime}@{self.node.name}"

    def _connect(self) -> Any:
        import docker

        socket = podman_service(self.node, self.oci_runtime)
        return docker.DockerClient(base_url=f"unix://{socket}", timeout=120)

    def engine_options(self, options: dict[str, Any], scratch: Path) -> dict[str, Any]:
        options = super().engine_options(options, scratch)
        # Bind sources and profile files are host paths; the node sees the host at /.host.
        options["volumes"] = {
            self.node.node_path(source): bind
            for source, bind in (options.get("volumes") or {}).items()
        }
        security_opt = []
        for option in options.get("security_opt", []):
            if option.startswith("seccomp=/"):
                option = "seccomp=" + self.node.node_path(option.removeprefix("seccomp="))
            security_opt.append(option)
        options["security_opt"] = security_opt
        return options

    def bundle_configs(self, container_id: str) -> list[Path]:
        return [
            self.node.host_path(
                f"/var/lib/containers/storage/overlay-containers/{container_id}/userdata/config.json"
            )
        ]

    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        return super().run(spec, run_dir, _HostPids(observer or RunObserver(), self.node))

    def versions(self) -> dict[str, str]:
        versions = super().versions()
        versions["node"] = self.node.build.summary()
        return versions

    def require_image(self, image: str) -> None:
        from docker.errors import ImageNotFound

        if image in self._checked_images:
            return
        try:
            self.client.images.get(image)
        except ImageNotFound:
            move_image_from_docker(
                image,
                self.node.enter(["podman", "load", "-q"]),
                f"podman in the {self.node.name} node",
            )
            # `podman load` names a short name localhost/NAME, while Podman 5's compat API
            # looks short names up as Docker does (docker.io/NAME): give it that name too.
            loaded, normalized = podman_loaded_name(image), docker_normalized_name(image)
            if loaded != normalized:
                proc.run(self.node.enter(["podman", "tag", loaded, normalized]))
        self._checked_images.add(image)


def _has_registry(name: str) -> bool:
    first, slash, _ = name.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def podman_loaded_name(image: str) -> str:
    """What `podman load` calls an image saved by Docker as ``image``."""
    return image if _has_registry(image) else f"localhost/{image}"


def docker_normalized_name(image: str) -> str:
    """Docker's full name for a reference: docker.io/NAME, docker.io/library/NAME for a
    one-part name; names with a registry stay as they are."""
    if _has_registry(image):
        return image
    return f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"
