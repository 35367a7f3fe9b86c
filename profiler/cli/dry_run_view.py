"""How `k8s dry-run` shows its work: per application a table (the plan, or each role's
run), the failures in full, then the notes and what could not be emulated (on stderr)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from profiler.cli.common import note, stdout
from profiler.k8s import dry_run
from profiler.k8s.app_files import HostFile, InImage
from profiler.k8s.plan import AppPlan


def show_dry_run(apps: Sequence[AppPlan], reports: Sequence[dry_run.DryRunReport] | None) -> None:
    """The plans (``--plan``: ``reports`` is None) or the runs' results, one app after another."""
    for index, app_plan in enumerate(apps):
        if reports is None:
            stdout.print(render_plan(app_plan))
            failures = [(r.role, str(r.cannot_start)) for r in app_plan.roles if r.cannot_start]
        else:
            stdout.print(render_dry_run(reports[index]))
            failures = [
                (o.plan.role, o.error_line) for o in reports[index].outcomes if not o.verdict.ok
            ]
        for role, error in failures:
            stdout.print(f"{role}: {error}", markup=False, highlight=False, soft_wrap=True)
        _print_notes(app_plan, reports[index] if reports is not None else None)


def _print_notes(app_plan: AppPlan, report: dry_run.DryRunReport | None) -> None:
    prefix = f"{app_plan.label}: "
    lines = [*app_plan.notes, *(f"not emulated: {n}" for n in app_plan.not_emulated)]
    if report is not None:
        lines += [*report.plan.notes, *report.notes, *report.diagnosis]
    for role in app_plan.roles:
        notes = (
            role.notes
            if report is None
            else tuple(n for n in role.notes if not n.startswith("memory:"))
        )
        lines += [f"{role.role}: {n}" for n in notes]
        lines += [f"{role.role}: not emulated: {n}" for n in role.not_emulated]
    for line in lines:
        note(f"note: {prefix}{line}")


def render_plan(app_plan: AppPlan) -> Table:
    main = app_plan.main
    where = main.path if isinstance(main, InImage | HostFile) else main.url
    table = Table(
        title=f"{app_plan.kind} {app_plan.label} ({app_plan.source}): {app_plan.app_type} "
        f"{where}, Spark {app_plan.spark_version}, operator {app_plan.operator_version}"
    )
    for column in ("role", "image", "seccomp", "user", "cpu", "memory", "mounts", "start"):
        table.add_column(column, overflow="fold")
    for role in app_plan.roles:
        cpu = f"{role.cpu.cores}" + (f" (limit {role.cpu.limit})" if role.cpu.limit else "")
        memory = f"{role.memory_limit_bytes // (1024 * 1024)} MiB"
        mounts = ", ".join(f"{m.mount_path} ({m.kind})" for m in role.mounts)
        if role.cannot_start:
            start = f"[red]{escape(role.cannot_start.reason)}[/red]"
        else:
            start = "[green]yes[/green]" + (
                f" x{role.instances}" if role.role == "executor" else ""
            )
        table.add_row(
            role.role,
            escape(role.image),
            escape(role.seccomp.label),
            role.user,
            cpu,
            memory,
            escape(mounts),
            start,
        )
    return table


def render_dry_run(report: dry_run.DryRunReport) -> Table:
    run_plan = report.plan
    source = "manifest" if run_plan.image_from_manifest else "--image"
    label = f"{run_plan.app.label}; " if run_plan.app is not None else ""
    table = Table(
        title=f"{label}image: {run_plan.image} ({source}); job: {run_plan.workload.name}; "
        "pod topology"
    )
    for column in ("role", "pods", "seccomp", "user", "security", "verdict", "time", "denied"):
        table.add_column(column, overflow="fold")
    table.add_column("error", overflow="fold", ratio=1)
    for o in report.outcomes:
        verdict = escape(o.verdict.value)
        verdict = f"[green]{verdict}[/green]" if o.verdict.ok else f"[red]{verdict}[/red]"
        time = f"{o.wall_seconds:.1f}s" if o.wall_seconds is not None else "not started"
        table.add_row(
            o.plan.role,
            str(o.plan.instances),
            escape(o.plan.seccomp),
            o.plan.user,
            escape(o.plan.security),
            verdict,
            time,
            escape(o.denied),
            escape(o.short_error[:160]),
        )
    return table
