"""Where images are built and kept: Docker's image store, through the docker SDK.

Images are built on Docker (the build needs its builder) and moved to Podman and
containerd by save and load when a run there first needs them (``engine``). The image
build (``profiler.image``) only talks to this class, so no docker SDK call lies outside
``profiler.runtime``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.engine import connect
from profiler.runtime.interface import SecurityMode
from profiler.vocabulary import SPARK_VERSION_LABEL

_VERSION_TAG = re.compile(r"v?(\d+\.\d+\.\d+)")


def image_spark_version(tag: str) -> str | None:
    """The Spark version an image runs, when it can be told: the tool's images say so in a
    label; other images by a tag that starts with a version (apache/spark:3.5.1-python3)."""
    try:
        label = ImageStore().label(tag, SPARK_VERSION_LABEL)
    except EnvironmentProblem:  # no engine to ask: the tag is all there is
        label = None
    if label:
        return label
    name, _, version = tag.rpartition(":")
    match = _VERSION_TAG.match(version) if name and "/" not in version else None
    return match.group(1) if match else None


class ImageStore:
    """Docker's images: what exists, what labels it carries, building and importing."""

    def __init__(self, client: Any | None = None) -> None:
        self.client = client or connect()

    def exists(self, tag: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            self.client.images.get(tag)
            return True
        except ImageNotFound:
            return False

    def require(self, tag: str, hint: str) -> None:
        if not self.exists(tag):
            raise UsageError(f"base image {tag} does not exist", hint)

    def label(self, tag: str, key: str) -> str | None:
        """The label ``key`` of an existing image ("" when it has none); None when the
        image does not exist."""
        from docker.errors import ImageNotFound

        try:
            image = self.client.images.get(tag)
        except ImageNotFound:
            return None
        labels = (image.attrs.get("Config") or {}).get("Labels") or {}
        return str(labels.get(key, ""))

    def build(self, context: Path, tag: str) -> Iterator[str]:
        """Build ``context`` as ``tag``; yields the build's step lines."""
        from docker.errors import BuildError

        try:
            _, logs = self.client.images.build(path=str(context), tag=tag, rm=True, forcerm=True)
            for chunk in logs:
                line = str(chunk.get("stream", "")).strip()
                if line.startswith("Step "):
                    yield line
        except BuildError as exc:
            tail = [str(c.get("stream") or c.get("error") or "").strip() for c in exc.build_log]
            message = next((t for t in reversed(tail) if t), str(exc))
            raise EnvironmentProblem(f"docker build of {tag} failed: {message}") from exc

    def prune_dangling(self, label: str) -> None:
        """Remove dangling images with ``label`` (a build's intermediate stage)."""
        self.client.images.prune(filters={"dangling": True, "label": label})

    def import_rootfs(self, tarball: Path, reference: str) -> None:
        repository, _, tag = reference.partition(":")
        self.client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)

    def run_python(self, image: str, code: str) -> tuple[int | None, str, str]:
        """``python3 -c code`` in ``image``, unconfined, through its entrypoint."""
        from profiler.runtime.docker import DockerBackend

        return DockerBackend(self.client).run_command(
            image, ["python3", "-c", code], SecurityMode.UNCONFINED
        )
