"""--runtime / --oci-runtime parsing and the containerd backend's pure helpers."""

from __future__ import annotations

import pytest

from profiler.errors import UsageError
from profiler.runtime.containerd import containerd_reference
from profiler.runtime.select import EngineChoice, parse_engine_choices
from profiler.runtime.shape import memory_bytes


def test_every_engine_with_every_runtime_in_order() -> None:
    assert parse_engine_choices("docker,podman", "runc,crun") == [
        EngineChoice("docker", "runc"),
        EngineChoice("docker", "crun"),
        EngineChoice("podman", "runc"),
        EngineChoice("podman", "crun"),
    ]


def test_each_engine_s_own_runtime_by_default() -> None:
    assert [c.label for c in parse_engine_choices("docker,podman,containerd", None)] == [
        "docker/runc",
        "podman/crun",
        "containerd/runc",
    ]


@pytest.mark.parametrize(
    ("runtime", "oci", "said"),
    [
        ("cri-o", None, "unknown runtime"),
        ("docker", "youki", "unknown OCI runtime"),
        (",", None, "no engine"),
    ],
)
def test_unknown_names_are_usage_errors(runtime: str, oci: str | None, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        parse_engine_choices(runtime, oci)


def test_ctr_names_docker_saved_images_under_docker_io() -> None:
    assert (
        containerd_reference("spark-seccomp/spark:3.5.9") == "docker.io/spark-seccomp/spark:3.5.9"
    )
    assert containerd_reference("python:3.11") == "docker.io/library/python:3.11"
    assert containerd_reference("registry.example/x/y:1") == "registry.example/x/y:1"


def test_memory_limits_in_docker_units() -> None:
    assert memory_bytes("1408m") == 1408 * 1024**2
    assert memory_bytes("2g") == 2 * 1024**3
    assert memory_bytes("1000") == 1000
