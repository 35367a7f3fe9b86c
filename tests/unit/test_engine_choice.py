"""--runtime / --oci-runtime parsing and the containerd backend's pure helpers."""

from __future__ import annotations

import pytest

from profiler.errors import UsageError
from profiler.runtime.engine import docker_reference
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
    assert docker_reference("spark-seccomp/spark:3.5.9") == "docker.io/spark-seccomp/spark:3.5.9"
    assert docker_reference("python:3.11") == "docker.io/library/python:3.11"
    assert docker_reference("registry.example/x/y:1") == "registry.example/x/y:1"


def test_memory_limits_in_docker_units() -> None:
    assert memory_bytes("1408m") == 1408 * 1024**2
    assert memory_bytes("2g") == 2 * 1024**3
    assert memory_bytes("1000") == 1000


def test_nodes_times_engines_times_oci_runtimes() -> None:
    assert [c.label for c in parse_engine_choices(None, "runc,crun", "host,sid")] == [
        "docker/runc",
        "docker/crun",
        "podman/runc@sid",
        "podman/crun@sid",
    ]
    # A node runs Podman unless told otherwise; "newest" is the catalogue's last node.
    assert parse_engine_choices(None, None, "newest") == [EngineChoice("podman", "crun", "sid")]
    assert parse_engine_choices("podman", "runc", None) == [EngineChoice("podman", "runc")]


@pytest.mark.parametrize(
    ("runtime", "node", "said"),
    [
        ("docker", "sid", "the sid node has no docker engine"),
        (None, "bookworm", "unknown node"),
    ],
)
def test_what_a_node_cannot_run_is_a_usage_error(runtime: str | None, node: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        parse_engine_choices(runtime, None, node)


def test_record_verifies_on_the_newest_node_with_runc_and_crun_by_default() -> None:
    from profiler.runtime.select import verification_choices

    recorded = parse_engine_choices(None, None, None)  # docker/runc on the host
    assert [c.label for c in verification_choices(recorded)] == [
        "docker/runc",
        "podman/runc@sid",
        "podman/crun@sid",
    ]
    # Told otherwise: the host alone, or a node recorded on keeps its own choices first.
    assert verification_choices(recorded, "host") == recorded
    on_sid = parse_engine_choices(None, "crun", "sid")
    assert [c.label for c in verification_choices(on_sid)] == [
        "podman/crun@sid",
        "podman/runc@sid",
    ]
    assert [c.label for c in verification_choices(on_sid, "host,trixie")] == [
        "docker/runc",
        "podman/runc@trixie",
        "podman/crun@trixie",
    ]
