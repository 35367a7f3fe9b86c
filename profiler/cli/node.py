"""`spark-seccomp node ...`: the nodes of newer Debian releases the engines can run on."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from profiler.cli.base import App
from profiler.cli.common import console, stdout
from profiler.cli.results import OUT_OPTION, TextOrJson, check_out, emit, emit_table, format_option
from profiler.runtime.nodes import live
from profiler.runtime.nodes.catalogue import HOST, parse_node_names

app = App(
    help="Nodes: rootfs of newer Debian releases with their own Podman, runc, crun and "
    "containerd, built offline and run in namespaces of their own."
)

NAMES_ARGUMENT = typer.Argument(..., help="Node names from `spark-seccomp node list`.")


def _names(names: list[str]) -> list[str]:
    return [n for n in parse_node_names(",".join(names)) if n != HOST]


def _say(message: str) -> None:
    console.print(message, markup=False, highlight=False)


@app.command("list")
def list_(
    output_format: TextOrJson = format_option(TextOrJson.TEXT),
    out: Path = OUT_OPTION,
) -> None:
    """The catalogue's nodes: built or not, running or not, and the versions each build
    holds (sid moves: a build keeps what it got)."""
    check_out(out)
    statuses = live.node_statuses()
    if output_format is TextOrJson.JSON:
        data = [
            {
                "name": s.spec.name,
                "suite": s.spec.suite,
                "built": s.build.built_at() if s.build else None,
                "running": s.running,
                "versions": s.build.versions() if s.build else {},
            }
            for s in statuses
        ]
        emit(json.dumps(data, indent=2) + "\n", out)
        return
    table = Table("node", "Debian", "built", "running", "versions")
    for s in statuses:
        versions = ", ".join(f"{k} {v}" for k, v in s.build.versions().items()) if s.build else ""
        table.add_row(
            s.spec.name,
            s.spec.suite,
            s.build.built_at() if s.build else "no",
            "yes" if s.running else "no",
            versions or s.spec.description,
        )
    emit_table(table, out)


@app.command()
def build(
    names: list[str] = NAMES_ARGUMENT,
    refresh: bool = typer.Option(
        False, "--refresh", help="Build again from today's packages (stops the node if it runs)."
    ),
) -> None:
    """Build nodes' rootfs with mmdebstrap (as root; cached, rebuilt when the catalogue's
    package list changes). Example: `spark-seccomp node build sid`."""
    for built in live.build_nodes(_names(names), refresh=refresh, note=_say):
        stdout.print(built.summary(), markup=False, highlight=False)


@app.command()
def start(names: list[str] = NAMES_ARGUMENT) -> None:
    """Start nodes (building them first if needed); they run until `node stop`."""
    for name in _names(names):
        node = live.start_node(name, _say)
        stdout.print(node.build.summary(), markup=False, highlight=False)


@app.command()
def stop(names: list[str] = NAMES_ARGUMENT) -> None:
    """Stop nodes: every process and container in them ends, their mounts and networks go."""
    for name in _names(names):
        said = "stopped" if live.stop_node(name) else "was not running"
        stdout.print(f"{name}: {said}", markup=False, highlight=False)
