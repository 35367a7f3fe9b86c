"""The pod sandbox ("pause") image of the CRI engine, built here: no registry can supply one.

``pause.c`` is compiled static on the host (``gcc -O2 -static``, as the syscall
micro-benchmark is), and packed with nothing else into an OCI image archive written
byte for byte by this module (fixed timestamps, owners and key order), so the same binary
gives the same archive, the same digest and the same image name. containerd's CRI is told
its name (``sandbox_image``) and gets it through ``ctr images import`` into the ``k8s.io``
namespace: the CRI itself has no way to load an image, only to pull one.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from profiler import proc
from profiler.paths import cache_dir

SOURCE = Path(__file__).resolve().parent / "pause.c"
REPOSITORY = "docker.io/spark-seccomp/pause"
# The user the Kubernetes pause image runs as when the pod asks for none.
PAUSE_USER = "65535:65535"
_LAYER = "application/vnd.oci.image.layer.v1.tar"
_CONFIG = "application/vnd.oci.image.config.v1+json"
_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class PauseImage:
    """An OCI image archive holding the pause binary, and the name it is imported as."""

    reference: str  # docker.io/spark-seccomp/pause:<tag>
    archive: bytes


def pause_binary(cache: Path | None = None, source: Path = SOURCE) -> Path:
    """The compiled pause program, built on first use (needs gcc and libc6-dev)."""
    return proc.static_c_program(
        source,
        (cache or cache_dir()) / "tools",
        "pause",
        purpose="the pod sandbox (pause) image for containerd's CRI",
        fix="install gcc and libc6-dev (scripts/bootstrap.sh does)",
    )


def pause_image(binary: bytes, architecture: str = "amd64") -> PauseImage:
    """The image archive (OCI layout in a tar) for a pause binary; pure and deterministic.

    Its tag is the start of the manifest's digest, so a rebuilt binary is a new image
    and containerd never keeps running an old one under the same name."""
    layer = _tar({"pause": (binary, 0o755)})
    layer_digest = _digest(layer)
    config = _json(
        {
            "architecture": architecture,
            "config": {"Entrypoint": ["/pause"], "User": PAUSE_USER, "WorkingDir": "/"},
            "os": "linux",
            "rootfs": {"diff_ids": [layer_digest], "type": "layers"},
        }
    )
    manifest = _json(
        {
            "config": {"digest": _digest(config), "mediaType": _CONFIG, "size": len(config)},
            "layers": [{"digest": layer_digest, "mediaType": _LAYER, "size": len(layer)}],
            "mediaType": _MANIFEST,
            "schemaVersion": 2,
        }
    )
    manifest_digest = _digest(manifest)
    tag = manifest_digest.removeprefix("sha256:")[:12]
    reference = f"{REPOSITORY}:{tag}"
    index = _json(
        {
            "manifests": [
                {
                    "annotations": {
                        "io.containerd.image.name": reference,
                        "org.opencontainers.image.ref.name": tag,
                    },
                    "digest": manifest_digest,
                    "mediaType": _MANIFEST,
                    "platform": {"architecture": architecture, "os": "linux"},
                    "size": len(manifest),
                }
            ],
            "mediaType": _INDEX,
            "schemaVersion": 2,
        }
    )
    files: dict[str, tuple[bytes, int]] = {
        "oci-layout": (_json({"imageLayoutVersion": "1.0.0"}), 0o644),
        "index.json": (index, 0o644),
    }
    for blob in (layer, config, manifest):
        files[f"blobs/sha256/{_digest(blob).removeprefix('sha256:')}"] = (blob, 0o644)
    return PauseImage(reference=reference, archive=_tar(files))


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar of ``files`` (name -> (bytes, mode)) with every varying field fixed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directories = sorted(
            {str(Path(name).parents[i]) for name in files for i in range(len(Path(name).parts) - 1)}
        )
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 0
            archive.addfile(info)
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
