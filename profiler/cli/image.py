"""`spark-seccomp image ...`: build the offline Spark image."""

from __future__ import annotations

import typer

from profiler import image as image_lib
from profiler.cli.common import progress, stdout

app = typer.Typer(help="Build the Spark image (offline, from Debian packages and wheels).")


@app.command()
def build(
    spark_version: str = typer.Option(
        image_lib.DEFAULT_SPARK_VERSION, "--spark-version", help="pyspark version to install."
    ),
    tag: str = typer.Option(None, "--tag", help="Image tag [default: spark-seccomp/spark:V]."),
    base: str = typer.Option(
        None, "--base", help="Use this existing image (Java 17 + Python 3) instead of mmdebstrap."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the image exists."),
) -> None:
    """Build spark-seccomp/spark:<V> with no registry: mmdebstrap rootfs + pyspark wheels."""
    built = image_lib.build_image(spark_version, tag, base, force, progress)
    stdout.print(built.tag, highlight=False)
