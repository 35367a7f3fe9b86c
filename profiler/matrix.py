"""An engine x image matrix: the targets a check or a bench runs one after the other.

``check`` and ``bench`` take several ``--runtime``/``--oci-runtime`` pairs and several
images (``--image A,B`` or ``--spark-version``), with one profile for all images or one per
image. Each pair of an engine and an image is a ``Target``: the backend to run on, the
run shape with that image and engine (its topology as the backend can run it), the
profiles, and a folder of its own under the run folder: ``ROOT`` for one target,
``ROOT/<image>`` for several images, ``ROOT/<engine>/...`` for several engines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import UsageError
from profiler.paths import slug
from profiler.runtime.interface import Backend, ProfileSet
from profiler.runtime.run_shape import EngineChoice, RunShape
from profiler.vocabulary import Note, no_note


@dataclass(frozen=True)
class ImageProfiles:
    """The Localhost profiles one image's runs use, and the file they came from."""

    source: Path | None = None
    profiles: ProfileSet | None = None


@dataclass(frozen=True)
class MatrixCell:
    """One engine and one image of a matrix, before any engine is reached."""

    engine: EngineChoice
    image: str
    profiles: ImageProfiles
    folder: Path
    label: str  # the column heading: the engine, the image's version, or both


@dataclass(frozen=True)
class Target:
    """A cell with its backend: what a check or a bench runs."""

    backend: Backend
    shape: RunShape  # the cell's image and engine, the topology the backend runs
    profiles: ProfileSet | None
    profile_source: Path | None
    folder: Path
    label: str

    @property
    def image(self) -> str:
        return self.shape.image


def matrix_cells(
    engines: Sequence[EngineChoice],
    images: Sequence[str],
    root: Path,
    profiles: Sequence[ImageProfiles] = (),
) -> list[MatrixCell]:
    """Every engine with every image, engines outer (pure: the folders can be checked
    before any engine is reached); ``profiles`` is one for all images or one per image,
    or none."""
    if not engines or not images:
        raise UsageError("no engine or no image to run on", "pass --runtime and --image")
    if len(set(images)) != len(images):
        raise UsageError("an image is named twice", "name each image once")
    if len(profiles) not in (0, 1, len(images)):
        raise UsageError(
            f"{len(profiles)} profiles for {len(images)} images",
            "give one --profile for every image, or one for all",
        )
    per_image = list(profiles) * len(images) if len(profiles) == 1 else list(profiles)
    per_image = per_image or [ImageProfiles()] * len(images)
    cells = []
    for engine in engines:
        for image, own in zip(images, per_image, strict=True):
            folder = root
            parts = []
            if len(engines) > 1:
                folder = folder / slug(engine.label)
                parts.append(engine.label)
            if len(images) > 1:
                folder = folder / slug(image)
                parts.append(image.rsplit(":", 1)[-1])
            cells.append(MatrixCell(engine, image, own, folder, " ".join(parts)))
    return cells


def matrix_targets(
    shape: RunShape,
    cells: Sequence[MatrixCell],
    make_backend: Callable[[EngineChoice], Backend],
    *,
    note: Note = no_note,
) -> list[Target]:
    """The cells with their backends, each engine's made once, in order."""
    backends: dict[EngineChoice, tuple[Backend, RunShape]] = {}
    targets = []
    for cell in cells:
        if cell.engine not in backends:
            backend = make_backend(cell.engine)
            backends[cell.engine] = (backend, shape.with_engine(cell.engine).on(backend, note))
        backend, engine_shape = backends[cell.engine]
        targets.append(
            Target(
                backend=backend,
                shape=engine_shape.with_image(cell.image),
                profiles=cell.profiles.profiles,
                profile_source=cell.profiles.source,
                folder=cell.folder,
                label=cell.label,
            )
        )
    return targets
