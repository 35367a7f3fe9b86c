"""`spark-seccomp workloads ...`: the catalogue."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from profiler import workloads as workloads_lib
from profiler.cli.base import App
from profiler.cli.common import stdout

app = App(help="The catalogue of sample PySpark jobs.")


@app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the catalogue workloads with a one-line description each."""
    items = workloads_lib.catalogue()
    if as_json:
        data = [{"name": w.name, "description": w.description, "path": str(w.path)} for w in items]
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("workload", "what it exercises")
    for w in items:
        table.add_row(w.name, w.description)
    stdout.print(table)
