"""Several images in one check: the runs, the run folders, the table and the outputs."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from profiler import workloads
from profiler.check import CheckOptions, run_checks
from profiler.cli.check import render_matrix
from profiler.cli.common import parse_images
from profiler.errors import UsageError
from profiler.image import ImageRecipe, default_tag
from profiler.matrix import ImageProfiles, matrix_cells, matrix_targets
from profiler.paths import slug
from profiler.report.check_formats import check_matrix_to_json, check_matrix_to_junit
from profiler.runtime.interface import ProfileSet, SecurityMode
from profiler.runtime.run_shape import DOCKER_RUNC, EngineChoice, RunShape
from tests.fakes import FakeBackend, check_plan

U, R = SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT
OLD, NEW = "spark-seccomp/spark:3.5.9", "spark-seccomp/spark:4.3.0"


def _matrix(tmp_path: Path):
    # The new line breaks under RuntimeDefault; the old one passes everywhere.
    backend = FakeBackend(
        lambda spec: (
            (1, False, "", "Error: boom")
            if spec.image == NEW and spec.mode is R
            else (0, False, "same", "")
        )
    )
    plan = check_plan([workloads.resolve("rdd_python")], [U, R])
    cells = matrix_cells([DOCKER_RUNC], [OLD, NEW], tmp_path)
    targets = matrix_targets(plan.shape, cells, lambda _engine: backend)
    reports = run_checks(targets, plan, CheckOptions(run_root=tmp_path))
    return backend, reports


def test_each_image_is_checked_in_turn_with_its_own_run_folder(tmp_path: Path) -> None:
    backend, reports = _matrix(tmp_path)
    assert [s.image for s in backend.specs] == [OLD, OLD, NEW, NEW]
    assert [r.passed for r in reports] == [True, False]
    assert {s.workload.name for s in backend.specs} == {"rdd_python"}
    assert slug(NEW) == "spark-seccomp-spark-4.3.0"
    run_dir = reports[1].cell("rdd_python", R).runs[0].run_dir
    assert run_dir == str(tmp_path / slug(NEW) / "rdd_python" / "runtime-default-1")


def test_engines_and_images_make_a_matrix_of_folders_and_labels(tmp_path: Path) -> None:
    crun = EngineChoice("docker", "crun")
    one = ProfileSet.single("{}", "p")
    cells = matrix_cells([DOCKER_RUNC, crun], [OLD, NEW], tmp_path, [ImageProfiles(None, one)])
    assert [c.label for c in cells] == [
        "docker/runc 3.5.9",
        "docker/runc 4.3.0",
        "docker/crun 3.5.9",
        "docker/crun 4.3.0",
    ]
    assert cells[3].folder == tmp_path / "docker-crun" / slug(NEW)
    assert all(c.profiles.profiles is one for c in cells)  # one profile serves every image
    made: list[EngineChoice] = []

    def make(engine: EngineChoice) -> FakeBackend:
        made.append(engine)
        return FakeBackend(lambda _spec: (0, False, "x", ""))

    targets = matrix_targets(RunShape(OLD, executors=3), cells, make)
    assert made == [DOCKER_RUNC, crun]  # each engine's backend made once
    assert [t.shape.image for t in targets] == [OLD, NEW, OLD, NEW]
    assert targets[2].shape.engine == crun and targets[2].shape.executors == 3
    with pytest.raises(UsageError, match="2 profiles for 3 images"):
        matrix_cells([DOCKER_RUNC], [OLD, NEW, "x"], tmp_path, [ImageProfiles()] * 2)


def test_the_matrix_table_has_a_column_per_image_and_mode(tmp_path: Path) -> None:
    from rich.console import Console

    _, reports = _matrix(tmp_path)
    console = Console(width=200, record=True)
    console.print(render_matrix(reports))
    text = console.export_text()
    assert text.count("unconfined") == 2 and text.count("runtime-default") == 2
    assert "3.5.9" in text and "4.3.0" in text and "Error: boom" in text


def test_matrix_outputs_hold_every_image(tmp_path: Path) -> None:
    _, reports = _matrix(tmp_path)
    data = json.loads(check_matrix_to_json(reports))
    assert [m["image"] for m in data["matrix"]] == [OLD, NEW]
    assert check_matrix_to_json(reports) == check_matrix_to_json(reports)
    root = ET.fromstring(check_matrix_to_junit(reports).split("?>", 1)[1])
    names = [s.get("name") for s in root]
    assert f"{NEW} seccomp-runtime-default" in names and len(names) == 4


def test_images_come_from_images_or_spark_versions() -> None:
    assert parse_images(None, None) == [default_tag()]
    assert parse_images(f"{OLD}, {NEW}", None) == [OLD, NEW]
    assert parse_images(None, "3.5.9,4.3.0") == [OLD, NEW]
    for images, versions in ((OLD, "4.3.0"), (f"{OLD},{OLD}", None), (",", None)):
        with pytest.raises(UsageError):
            parse_images(images, versions)


@pytest.mark.parametrize(
    ("version", "java", "tag", "base"),
    [
        ("3.5.9", None, "spark-seccomp/spark:3.5.9", "spark-seccomp/base:bookworm"),
        ("4.3.0", 17, "spark-seccomp/spark:4.3.0", "spark-seccomp/base:bookworm"),
        ("4.3.0", 21, "spark-seccomp/spark:4.3.0-java21", "spark-seccomp/base:trixie-java21"),
    ],
)
def test_image_recipes_by_line_and_java(version, java, tag, base) -> None:
    recipe = ImageRecipe.of(version, java)
    assert (recipe.tag, recipe.base) == (tag, base)
    assert recipe.python_packages[0].startswith("py4j==")


@pytest.mark.parametrize(
    ("version", "java"), [("3.5.9", 21), ("3.4.4", 17), ("5.0.0", 17), ("4.x", 17), ("4.3.0", 11)]
)
def test_unsupported_versions_and_javas_are_usage_errors(version, java) -> None:
    with pytest.raises(UsageError):
        ImageRecipe.of(version, java)
