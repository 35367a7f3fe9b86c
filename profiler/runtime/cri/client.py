"""Talking to a runtime through the CRI, as the kubelet does: gRPC on the runtime's socket.

The messages and stubs are the ``cri_api.v1`` modules of ``container-runtime-interface-api``
(PyPI), generated from the published cri-api protos (``k8s.io/cri-api``, ``runtime.v1``):
a maintained package instead of generated code kept in this repository. Only those
generated modules are used, not the package's own wrappers. Fields newer than a runtime
knows are ignored by it (protobuf), so one set of stubs serves containerd 1.6 to 2.x.

``CriClient`` turns the calls the tool makes into plain values and gRPC errors into the
tool's errors: ``CriUnavailable`` when nothing answers on the socket, ``CriCallFailed``
with the runtime's own words otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from profiler.errors import EnvironmentProblem

if TYPE_CHECKING:
    from cri_api.v1 import api_pb2 as cri

CALL_SECONDS = 120.0
# StopContainer's own grace is the kubelet's terminationGracePeriodSeconds (30 s default).
DEFAULT_GRACE_SECONDS = 30


class CriUnavailable(EnvironmentProblem):
    """Nothing answers the CRI on the socket."""


class CriCallFailed(EnvironmentProblem):
    """The runtime refused or failed a CRI call; ``details`` is what it said."""

    def __init__(self, call: str, details: str, code: str) -> None:
        super().__init__(f"CRI {call} failed: {details}")
        self.call = call
        self.details = details
        self.code = code


@dataclass(frozen=True)
class SandboxStatus:
    sandbox_id: str
    ready: bool
    ip: str | None
    pid: int | None  # the sandbox's first process (pause), on this host
    info: dict[str, Any]  # the runtime's verbose info (its runtimeSpec, CNI result...)


@dataclass(frozen=True)
class ContainerStatus:
    container_id: str
    state: str  # CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, CONTAINER_UNKNOWN
    exit_code: int | None  # once exited
    reason: str  # "Completed", "Error", "OOMKilled", "StartError"...
    message: str
    log_path: str
    pid: int | None  # the container's first process, on this host, while it runs
    info: dict[str, Any]

    @property
    def exited(self) -> bool:
        return self.state == "CONTAINER_EXITED"

    @property
    def oom_killed(self) -> bool:
        return self.reason == "OOMKilled"


@dataclass(frozen=True)
class ImageFacts:
    image_id: str
    labels: tuple[tuple[str, str], ...]


class CriClient:
    """The RuntimeService and ImageService of one runtime socket."""

    def __init__(self, socket: str) -> None:
        import grpc
        from cri_api.v1 import api_pb2, api_pb2_grpc

        self.socket = socket
        self.cri = api_pb2
        self._channel = grpc.insecure_channel(f"unix://{socket}")
        self.runtime = api_pb2_grpc.RuntimeServiceStub(self._channel)
        self.images = api_pb2_grpc.ImageServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def _call(self, service: Any, name: str, request: Any, timeout: float = CALL_SECONDS) -> Any:
        import grpc

        try:
            return getattr(service, name)(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
            if code is grpc.StatusCode.UNAVAILABLE:
                raise CriUnavailable(
                    f"nothing answers the CRI at {self.socket}",
                    "the tool starts its containerd when a run needs it: run as root, or "
                    "see its log beside the socket",
                ) from exc
            raise CriCallFailed(name, details, code.name if code else "UNKNOWN") from exc

    # -- the runtime ----------------------------------------------------------------
    def version(self) -> tuple[str, str, str]:
        """(runtime name, runtime version, CRI API version)."""
        answer = self._call(self.runtime, "Version", self.cri.VersionRequest(), timeout=10)
        return answer.runtime_name, answer.runtime_version, answer.runtime_api_version

    def conditions(self) -> dict[str, tuple[bool, str]]:
        """RuntimeReady / NetworkReady -> (status, message)."""
        answer = self._call(self.runtime, "Status", self.cri.StatusRequest(), timeout=10)
        return {c.type: (c.status, c.message) for c in answer.status.conditions}

    # -- sandboxes ------------------------------------------------------------------
    def run_pod_sandbox(self, config: cri.PodSandboxConfig, runtime_handler: str) -> str:
        request = self.cri.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        return str(self._call(self.runtime, "RunPodSandbox", request).pod_sandbox_id)

    def sandbox_status(self, sandbox_id: str) -> SandboxStatus:
        request = self.cri.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True)
        answer = self._call(self.runtime, "PodSandboxStatus", request)
        info = _info(answer.info)
        return SandboxStatus(
            sandbox_id=sandbox_id,
            ready=answer.status.state == self.cri.SANDBOX_READY,
            ip=answer.status.network.ip or None,
            pid=_pid(info),
            info=info,
        )

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        request = self.cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id)
        self._call(self.runtime, "StopPodSandbox", request)

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        request = self.cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id)
        self._call(self.runtime, "RemovePodSandbox", request)

    def list_pod_sandboxes(
        self, labels: dict[str, str] | None = None
    ) -> list[tuple[str, dict[str, str]]]:
        """(id, labels) of every sandbox carrying ``labels``."""
        selector = self.cri.PodSandboxFilter(label_selector=labels or {})
        answer = self._call(
            self.runtime, "ListPodSandbox", self.cri.ListPodSandboxRequest(filter=selector)
        )
        return [(item.id, dict(item.labels)) for item in answer.items]

    # -- containers -----------------------------------------------------------------
    def create_container(
        self,
        sandbox_id: str,
        config: cri.ContainerConfig,
        sandbox_config: cri.PodSandboxConfig,
    ) -> str:
        request = self.cri.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox_config
        )
        return str(self._call(self.runtime, "CreateContainer", request).container_id)

    def start_container(self, container_id: str) -> None:
        request = self.cri.StartContainerRequest(container_id=container_id)
        self._call(self.runtime, "StartContainer", request)

    def container_status(self, container_id: str) -> ContainerStatus:
        request = self.cri.ContainerStatusRequest(container_id=container_id, verbose=True)
        answer = self._call(self.runtime, "ContainerStatus", request)
        status = answer.status
        info = _info(answer.info)
        state = self.cri.ContainerState.Name(status.state)
        return ContainerStatus(
            container_id=container_id,
            state=state,
            exit_code=int(status.exit_code) if state == "CONTAINER_EXITED" else None,
            reason=status.reason,
            message=status.message,
            log_path=status.log_path,
            pid=_pid(info),
            info=info,
        )

    def stop_container(self, container_id: str, grace_seconds: int = DEFAULT_GRACE_SECONDS) -> None:
        request = self.cri.StopContainerRequest(container_id=container_id, timeout=grace_seconds)
        self._call(self.runtime, "StopContainer", request, timeout=CALL_SECONDS + grace_seconds)

    def remove_container(self, container_id: str) -> None:
        request = self.cri.RemoveContainerRequest(container_id=container_id)
        self._call(self.runtime, "RemoveContainer", request)

    # -- images ---------------------------------------------------------------------
    def image(self, reference: str) -> ImageFacts | None:
        """The image's id (its config digest) and labels, or None when the runtime lacks it."""
        request = self.cri.ImageStatusRequest(
            image=self.cri.ImageSpec(image=reference), verbose=True
        )
        answer = self._call(self.images, "ImageStatus", request)
        if not answer.HasField("image") or not answer.image.id:
            return None
        config = _info(answer.info).get("imageSpec", {}).get("config", {})
        labels = config.get("Labels") or {}
        return ImageFacts(
            image_id=str(answer.image.id),
            labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        )


def _info(info: Any) -> dict[str, Any]:
    """The runtime's verbose ``info`` map: containerd puts one JSON document under "info"."""
    text = dict(info).get("info")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _pid(info: dict[str, Any]) -> int | None:
    pid = info.get("pid")
    return int(pid) if isinstance(pid, int) and pid > 0 else None


def parse_cri_log(text: str) -> tuple[str, str]:
    """(stdout, stderr) from a CRI container log: one ``TIMESTAMP STREAM TAG CONTENT``
    record per line, where tag ``P`` marks a line the runtime split (a partial line, to
    be joined with what follows) and ``F`` its end."""
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    pending: dict[str, str] = {"stdout": "", "stderr": ""}
    for record in text.splitlines():
        parts = record.split(" ", 3)
        if len(parts) < 3 or parts[1] not in streams:
            continue
        stream, tag = parts[1], parts[2]
        content = parts[3] if len(parts) == 4 else ""
        if tag == "P":
            pending[stream] += content
            continue
        streams[stream].append(pending[stream] + content + "\n")
        pending[stream] = ""
    for stream, rest in pending.items():
        if rest:
            streams[stream].append(rest)
    return "".join(streams["stdout"]), "".join(streams["stderr"])
