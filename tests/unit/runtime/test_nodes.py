"""Nodes as data: the catalogue, its validation, node names, build keys, versions, and the
names images get in a node's Podman."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.runtime.engine import docker_reference
from profiler.runtime.nodes.catalogue import (
    HOST,
    NodeSpec,
    catalogue,
    newest_node,
    parse_catalogue,
    parse_node_names,
)
from profiler.runtime.nodes.rootfs import upstream_version
from profiler.runtime.podman import podman_loaded_name

GOOD = """
common: &engines [podman, runc, crun]
nodes:
  - name: old
    suite: trixie
    packages: *engines
  - name: new
    suite: sid
    packages: *engines
    apt_options: ['Acquire::Check-Valid-Until "false"']
"""


def test_the_shipped_catalogue_has_the_releases_clusters_run_now() -> None:
    names = [spec.name for spec in catalogue()]
    assert names == ["trixie", "sid"]
    assert newest_node().name == "sid"
    for spec in catalogue():
        # Every node runs Podman with both OCI runtimes and has containerd for the CRI.
        assert {"podman", "runc", "crun", "containerd", "catatonit", "mount"} <= set(spec.packages)


def test_a_catalogue_entry_is_data() -> None:
    old, new = parse_catalogue(GOOD)
    assert old == NodeSpec("old", "trixie", ("podman", "runc", "crun"))
    assert new.apt_options == ('Acquire::Check-Valid-Until "false"',)


def test_the_build_key_follows_the_recipe_not_the_order_of_packages() -> None:
    spec = NodeSpec("sid", "sid", ("runc", "crun"))
    assert spec.build_key == NodeSpec("sid", "sid", ("crun", "runc", "runc")).build_key
    assert spec.build_key != NodeSpec("sid", "sid", ("runc", "crun", "podman")).build_key
    assert spec.build_key != NodeSpec("sid", "trixie", ("runc", "crun")).build_key
    assert spec.build_key != NodeSpec("sid", "sid", ("runc", "crun"), ("A::B 1",)).build_key
    # The name is not part of the recipe: where the build lives says the name.
    assert spec.build_key == NodeSpec("other", "sid", ("runc", "crun")).build_key


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("nodes: [{name: x, suite: sid, packages: []}]", "nodes.0.packages"),
        ("nodes: [{name: X!, suite: sid, packages: [runc]}]", "nodes.0.name"),
        ("nodes: [{name: x, suite: sid, packages: [runc], colour: red}]", "nodes.0.colour"),
        ("nodes: [{name: x, suite: sid, packages: ['runc; rm -rf /']}]", "nodes.0.packages.0"),
        ("nodes: [{name: host, suite: sid, packages: [runc]}]", "host"),
        (
            "nodes: [{name: x, suite: sid, packages: [runc]}, {name: x, suite: sid, packages: [a1]}]",
            "twice",
        ),
        ("nodes: [", "not valid YAML"),
    ],
)
def test_a_bad_catalogue_says_which_entry_and_field(text: str, said: str) -> None:
    with pytest.raises(UsageError, match=None) as raised:
        parse_catalogue(text)
    assert said in raised.value.message


def test_node_names_on_the_command_line() -> None:
    assert parse_node_names(None) == (HOST,)
    assert parse_node_names("host, SID,sid") == (HOST, "sid")
    assert parse_node_names("newest") == ("sid",)
    with pytest.raises(UsageError) as raised:
        parse_node_names("bookworm")
    assert "host, trixie, sid" in (raised.value.hint or "")
    with pytest.raises(UsageError):
        parse_node_names(" , ")


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [
        ("1.3.6+ds1-1", "1.3.6"),
        ("5.8.6+ds1-3", "5.8.6"),
        ("1.28-1", "1.28"),
        ("2.6.1-1+b2", "2.6.1"),
        ("1:2.1.9~rc1-2", "2.1.9"),
        ("0.2.1-2+b31", "0.2.1"),
    ],
)
def test_versions_are_printed_as_the_projects_call_them(debian: str, upstream: str) -> None:
    assert upstream_version(debian) == upstream


@pytest.mark.parametrize(
    ("image", "loaded", "normalized"),
    [
        (
            "spark-seccomp/spark:3.5.9",
            "localhost/spark-seccomp/spark:3.5.9",
            "docker.io/spark-seccomp/spark:3.5.9",
        ),
        ("busybox:1", "localhost/busybox:1", "docker.io/library/busybox:1"),
        (
            "registry.example:5000/a/b:1",
            "registry.example:5000/a/b:1",
            "registry.example:5000/a/b:1",
        ),
        ("localhost/x:1", "localhost/x:1", "localhost/x:1"),
    ],
)
def test_image_names_in_a_nodes_podman(image: str, loaded: str, normalized: str) -> None:
    assert podman_loaded_name(image) == loaded
    assert docker_reference(image) == normalized


def test_a_node_engine_is_given_host_paths_through_the_hosts_tree(tmp_path: Path) -> None:
    from profiler.runtime.location import EngineLocation

    location = EngineLocation(name="sid", rootfs=tmp_path / "rootfs", host_tree="/.host")
    assert location.engine_path(tmp_path / "job") == f"/.host{tmp_path}/job"
    assert location.suffix == "@sid"
    # The host's own engine sees host paths as they are, and its pids are the host's.
    assert EngineLocation().engine_path("/tmp/x") == "/tmp/x"
    assert EngineLocation().host_pid(1234) == 1234
