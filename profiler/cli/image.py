"""`spark-seccomp image ...`: build the offline Spark image."""

from __future__ import annotations

import typer

from profiler import image as image_lib
from profiler.cli.base import App
from profiler.cli.common import progress, stdout

app = App(help="Build the Spark image (offline, from Debian packages and wheels).")


@app.command()
def build(
    spark_version: str = typer.Option(
        image_lib.DEFAULT_SPARK_VERSION, "--spark-version", help="pyspark version to install."
    ),
    tag: str = typer.Option(None, "--tag", help="Image tag [default: spark-seccomp/spark:V]."),
    base: str = typer.Option(
        None, "--base", help="Use this existing image (Java + Python 3) instead of mmdebstrap."
    ),
    java: image_lib.JavaRelease = typer.Option(
        image_lib.JavaRelease.JAVA_17,
        "--java",
        help="Java release: 17 (Debian 12) or 21 (Debian 13; Spark 4 only). "
        "The tag of a Java 21 image ends in -java21.",
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the image exists."),
) -> None:
    """Build spark-seccomp/spark:<V> with no registry: mmdebstrap rootfs + pyspark wheels.

    Example: `spark-seccomp image build --spark-version 4.3.0 --java 21`."""
    built = image_lib.build_image(spark_version, tag, base, force, progress, int(java.value))
    stdout.print(built.tag, highlight=False)
