"""Shared fixtures. Tests that need Docker, root or bpftrace skip on a developer machine
without them, and fail instead when PROFILER_REQUIRE_DOCKER=1 (CI sets it): a CI run
that silently skipped its integration tests would prove nothing."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE = os.environ.get("PROFILER_REQUIRE_DOCKER") == "1"
FIXTURES = Path(__file__).parent / "fixtures"


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so fixtures and the tool's finally blocks remove containers


signal.signal(signal.SIGTERM, _terminate)


def missing(reason: str) -> None:
    """Skip, or fail when the environment is required to be complete."""
    if REQUIRE:
        pytest.fail(f"PROFILER_REQUIRE_DOCKER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
        missing(f"no Docker engine is reachable ({type(exc).__name__})")
    return client


@pytest.fixture(scope="session")
def spark_image(docker_client: Any) -> str:
    from profiler.image import default_tag

    tag = os.environ.get("SPARK_SECCOMP_IMAGE", default_tag())
    try:
        docker_client.images.get(tag)
    except Exception:  # noqa: BLE001
        missing(f"image {tag} is missing (run `spark-seccomp image build`)")
    return tag


@pytest.fixture(scope="session")
def docker_backend(docker_client: Any) -> Iterator[Any]:
    from profiler.runtime.docker import DockerBackend

    yield DockerBackend(docker_client)


@pytest.fixture()
def need_root() -> None:
    if os.geteuid() != 0:
        missing("this test needs root")


@pytest.fixture()
def need_bpftrace(need_root: None) -> None:
    if shutil.which("bpftrace") is None:
        missing("bpftrace is not installed")


@pytest.fixture()
def need_strace() -> None:
    if shutil.which("strace") is None:
        missing("strace is not installed")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No container (nor CRI pod sandbox) the tool started in this test session may
    outlive it."""
    left = [*_left_on_docker(), *_left_on_the_cri()]
    if left:
        print(f"\nFAILED: containers left behind by the tool: {', '.join(left)}")
        session.exitstatus = 1


def _left_on_docker() -> list[str]:
    try:
        import docker

        from profiler.runtime.ownership import SESSION, SESSION_LABEL

        client = docker.from_env(timeout=30)
        left = client.containers.list(
            all=True, filters={"label": f"{SESSION_LABEL}={SESSION}"}, ignore_removed=True
        )
    except Exception:  # noqa: BLE001 - no engine, nothing can be left
        return []
    for container in left:
        container.remove(force=True)
    return [c.name for c in left]


def _left_on_the_cri() -> list[str]:
    from profiler.runtime.cri.node import default_socket

    if not default_socket().exists():
        return []
    try:
        from profiler.runtime.cri.client import CriClient
        from profiler.runtime.ownership import SESSION, SESSION_LABEL

        client = CriClient(str(default_socket()))
        left = client.list_pod_sandboxes({SESSION_LABEL: SESSION})
        for sandbox, _ in left:
            client.stop_pod_sandbox(sandbox)
            client.remove_pod_sandbox(sandbox)
    except Exception:  # noqa: BLE001 - no engine answers, nothing can be left
        return []
    return [
        f"pod sandbox {labels.get('io.kubernetes.pod.name', sandbox)}" for sandbox, labels in left
    ]
