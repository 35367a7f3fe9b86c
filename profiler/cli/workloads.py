"""`spark-seccomp workloads ...`: the catalogue."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from profiler import workloads as workloads_lib
from profiler.cli.common import stdout

app = typer.Typer(help="The catalogue of sample Spark jobs, PySpark and Java.")


@app.command("list")
def list_(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the catalogue workloads: kind (python or java) and a one-line description each."""
    items = workloads_lib.catalogue()
    if as_json:
        data = [
            {
                "name": w.name,
                "kind": w.kind.value,
                "description": w.description,
                "path": str(w.path),
                "main_class": w.main_class,
                "application": w.application,
            }
            for w in items
        ]
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("workload", "kind", "what it exercises")
    for w in items:
        table.add_row(w.name, w.kind.value, w.description)
    stdout.print(table)
