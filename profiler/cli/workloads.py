"""`spark-seccomp workloads ...`: the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from profiler import workloads as workloads_lib
from profiler.cli.base import App
from profiler.cli.results import (
    DEPRECATED_JSON_OPTION,
    OUT_OPTION,
    TextOrJson,
    check_out,
    deprecated_json_flag,
    emit,
    emit_table,
    format_option,
)

app = App(help="The catalogue of sample Spark jobs, PySpark and Java.")


@app.command("list")
def list_(
    output_format: TextOrJson = format_option(TextOrJson.TEXT),
    out: Path = OUT_OPTION,
    as_json: bool = DEPRECATED_JSON_OPTION,
) -> None:
    """List the catalogue workloads: kind (python or java) and a one-line description each."""
    check_out(out)
    items = workloads_lib.catalogue()
    if deprecated_json_flag(as_json, output_format) is TextOrJson.JSON:
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
        emit(json.dumps(data, indent=2) + "\n", out)
        return
    table = Table("workload", "kind", "what it exercises")
    for w in items:
        table.add_row(w.name, w.kind.value, w.description)
    emit_table(table, out)
