"""Several images in one check: the runs, the run folders, the table and the outputs."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from profiler import workloads
from profiler.check import CheckOptions, image_slug, run_check_matrix
from profiler.cli.check import render_matrix
from profiler.cli.common import parse_images
from profiler.errors import UsageError
from profiler.image import ImageRecipe, default_tag
from profiler.report.check_formats import check_matrix_to_json, check_matrix_to_junit
from profiler.runtime.interface import SecurityMode
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
    plans = [check_plan([workloads.resolve("rdd_python")], [U, R], image) for image in (OLD, NEW)]
    reports = run_check_matrix(backend, plans, CheckOptions(run_root=tmp_path))
    return backend, reports


def test_each_image_is_checked_in_turn_with_its_own_run_folder(tmp_path: Path) -> None:
    backend, reports = _matrix(tmp_path)
    assert [s.image for s in backend.specs] == [OLD, OLD, NEW, NEW]
    assert [r.passed for r in reports] == [True, False]
    assert {s.workload.name for s in backend.specs} == {"rdd_python"}
    assert image_slug(NEW) == "spark-seccomp-spark-4.3.0"


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
