"""The files the tool writes for a CRI node and the sandbox image, as bytes (no engine)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import replace
from pathlib import PurePosixPath

import pytest

from profiler.runtime.cri.node import (
    CriNode,
    forward_rules,
    render_cni_conflist,
    render_containerd_config,
)
from profiler.runtime.cri.pause import pause_image

NODE = CriNode(sandbox_image="docker.io/spark-seccomp/pause:0123456789ab")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_config_names_its_own_socket_root_state_and_sandbox_image() -> None:
    lines = _lines(render_containerd_config(NODE))
    for expected in (
        "version = 2",
        'root = "/var/lib/spark-seccomp/cri/containerd"',
        'state = "/run/spark-seccomp/cri/containerd"',
        'address = "/run/spark-seccomp/cri/containerd.sock"',
        '[plugins."io.containerd.grpc.v1.cri"]',
        f'sandbox_image = "{NODE.sandbox_image}"',
        "netns_mounts_under_state_dir = true",
        'bin_dir = "/usr/lib/cni"',
        'conf_dir = "/run/spark-seccomp/cri/net.d"',
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]',
        'BinaryName = "/usr/sbin/runc"',
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]',
        'BinaryName = "/usr/bin/crun"',
    ):
        assert expected in lines, expected
    assert lines.count('runtime_type = "io.containerd.runc.v2"') == 2


def test_config_follows_the_node_and_is_the_same_bytes_every_time() -> None:
    elsewhere = replace(
        NODE,
        run_dir=PurePosixPath("/run/other"),
        runtimes=(("crun", "/usr/bin/crun"),),
        restrict_oom_score_adj=True,
    )
    text = render_containerd_config(elsewhere)
    assert text == render_containerd_config(elsewhere)
    lines = _lines(text)
    assert 'address = "/run/other/containerd.sock"' in lines
    assert "restrict_oom_score_adj = true" in lines
    assert 'default_runtime_name = "crun"' in lines
    assert not any("runtimes.runc" in line for line in lines)


def test_config_needs_the_sandbox_image() -> None:
    with pytest.raises(ValueError, match="sandbox image"):
        render_containerd_config(CriNode())


def test_pod_network_has_no_way_out_unless_egress() -> None:
    closed = json.loads(render_cni_conflist(NODE))
    (bridge,) = closed["plugins"]
    assert bridge["type"] == "bridge" and bridge["bridge"] == "sscri0"
    assert bridge["ipMasq"] is False and bridge["isDefaultGateway"] is False
    assert bridge["ipam"]["type"] == "host-local"
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.199.0.0/16", "gateway": "10.199.0.1"}]]
    assert ["-i", "sscri0", "-j", "DROP"] in forward_rules(NODE)
    assert forward_rules(NODE)[0] == ["-i", "sscri0", "-o", "sscri0", "-j", "ACCEPT"]

    opened = replace(NODE, egress=True)
    (bridge,) = json.loads(render_cni_conflist(opened))["plugins"]
    assert bridge["ipMasq"] is True and bridge["isDefaultGateway"] is True
    assert not any("DROP" in rule for rule in forward_rules(opened))


def test_paths_of_a_node_in_its_own_root() -> None:
    node = replace(
        NODE,
        name="sid",
        views=(
            (PurePosixPath("/"), PurePosixPath("/srv/nodes/sid/rootfs")),
            (PurePosixPath("/run/spark-seccomp"), PurePosixPath("/srv/nodes/sid/state/sock")),
            (PurePosixPath("/.host"), PurePosixPath("/")),
        ),
    )
    assert node.host_path(node.socket) == PurePosixPath(
        "/srv/nodes/sid/state/sock/cri/containerd.sock"
    )
    assert node.host_path("/usr/lib/cni") == PurePosixPath("/srv/nodes/sid/rootfs/usr/lib/cni")
    assert node.engine_path("/home/me/workloads") == PurePosixPath("/.host/home/me/workloads")
    assert node.engine_path("/srv/nodes/sid/state/sock/cri/pods/x") == PurePosixPath(
        "/run/spark-seccomp/cri/pods/x"
    )
    assert node.label == "containerd@sid"
    assert NODE.host_path(NODE.socket) == NODE.socket == NODE.engine_path(NODE.socket)
    with pytest.raises(ValueError, match="absolute"):
        node.host_path("relative/path")


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def test_pause_image_is_a_deterministic_oci_layout_named_after_its_digest() -> None:
    image = pause_image(b"\x7fELF not really")
    assert image == pause_image(b"\x7fELF not really")
    assert image.reference != pause_image(b"\x7fELF other").reference
    files = _members(image.archive)
    index = json.loads(files["index.json"])
    (entry,) = index["manifests"]
    assert entry["annotations"]["io.containerd.image.name"] == image.reference
    assert image.reference.endswith(":" + entry["digest"].removeprefix("sha256:")[:12])
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    manifest = json.loads(files["blobs/sha256/" + entry["digest"].removeprefix("sha256:")])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"][7:]])
    assert config["config"]["Entrypoint"] == ["/pause"]
    (layer,) = manifest["layers"]
    assert _members(files["blobs/sha256/" + layer["digest"][7:]]) == {
        "pause": b"\x7fELF not really"
    }
