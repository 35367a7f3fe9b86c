"""From a run directory's inputs to report sections; a section exists only if its data does.

Sections, in order: environment, compatibility (check.json), overhead (bench.json),
syscall cost (microbench.json), the bound (bound.json, against bench.json's measured CPU
change when both are there), profile size (profile.json, against
runtime_default.json when present), syscalls by workload and held-back syscalls
(profile.summary.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from profiler.bench.bound import BoundReport, bound_to_dict
from profiler.bench.cross_check import cross_check, cross_check_to_dict
from profiler.bench.jsonio import round_float
from profiler.bench.microbench import MicrobenchReport, microbench_to_dict
from profiler.bench.stats import BenchReport, bench_to_dict
from profiler.report import plots
from profiler.report.inputs import (
    AllowedSet,
    CheckMatrix,
    ProfileSummary,
    RunInputs,
)
from profiler.report.model import Block, Bullets, Paragraph, Plot, Report, Section, Table

METRIC_LABELS = {"wall": "wall time", "job": "job time", "cpu": "CPU time"}


def build_sections(inputs: RunInputs) -> Report:
    candidates = [
        environment_section(inputs),
        compatibility_section(inputs.check) if inputs.check else None,
        overhead_section(inputs.bench) if inputs.bench else None,
        microbench_section(inputs.microbench) if inputs.microbench else None,
        bound_section(inputs.bound, inputs.bench) if inputs.bound else None,
        profile_size_section(inputs.profile, inputs.runtime_default, inputs.role_profiles)
        if inputs.profile or inputs.runtime_default
        else None,
        syscalls_section(inputs.summary) if inputs.summary else None,
        held_back_section(inputs.summary) if inputs.summary and inputs.summary.held_back else None,
    ]
    return Report(
        title=f"spark-seccomp report: {inputs.run_dir.name or inputs.run_dir}",
        sources=inputs.sources,
        sections=tuple(s for s in candidates if s is not None),
    )


# --- environment ----------------------------------------------------------------------


def environment_section(inputs: RunInputs) -> Section | None:
    environment: dict[str, Any] = {}
    if inputs.microbench:
        environment.update(inputs.microbench.environment)
    if inputs.bench:
        environment.update(inputs.bench.environment)
    if inputs.check and inputs.check.image:
        environment.setdefault("image", inputs.check.image)
        environment.setdefault("pod_security", inputs.check.pod_security)
    if not environment:
        return None
    rows = tuple((str(k), _scalar(v)) for k, v in sorted(environment.items()))
    return Section(
        "environment",
        "Environment",
        (
            Paragraph("Where the numbers were measured; they hold for this machine only."),
            Table(("what", "value"), rows),
        ),
        {"environment": environment},
    )


# --- compatibility --------------------------------------------------------------------


def compatibility_section(check: CheckMatrix) -> Section:
    headers = ("workload", *check.modes)
    rows = []
    plot_cells: dict[tuple[str, str], tuple[str, str]] = {}
    failures = []
    for workload in check.workloads:
        row = [workload]
        for mode in check.modes:
            cell = check.cell(workload, mode)
            if cell is None:
                row.append("not run")
                continue
            count = f"{cell.passes}/{cell.runs}" if cell.runs else ""
            wall = (
                f"{cell.median_wall_seconds:.1f} s" if cell.median_wall_seconds is not None else ""
            )
            detail = ", ".join(x for x in (count, wall) if x)
            row.append(f"{cell.verdict} ({detail})" if detail else cell.verdict)
            plot_cells[(workload, mode)] = (cell.verdict, detail)
            if cell.verdict != "pass":
                line = f"{workload} [{mode}]: {cell.verdict}"
                if cell.error_line:
                    line += f": {cell.error_line}"
                failures.append(line)
                failures.extend(f"{workload} [{mode}]: {d}" for d in cell.diagnosis)
        rows.append(tuple(row))
    passed = sum(1 for c in check.cells if c.verdict == "pass")
    facts = [f"{passed} of {len(check.cells)} workload-mode cells passed"]
    if check.pod_security:
        facts.append(f"pod security {check.pod_security}")
    if check.profile:
        facts.append(f"profile {check.profile}")
    blocks: list[Block] = [
        Paragraph("; ".join(facts) + "."),
        Plot(
            "compatibility",
            "Compatibility matrix: workloads by security mode, coloured by verdict",
            plots.compatibility_plot(check.workloads, check.modes, plot_cells),
        ),
        Table(headers, tuple(rows)),
    ]
    if failures:
        blocks += [Paragraph("What failed:"), Bullets(tuple(failures))]
    data = {
        "workloads": list(check.workloads),
        "modes": list(check.modes),
        "cells": [
            {
                "workload": c.workload,
                "mode": c.mode,
                "verdict": c.verdict,
                "passes": c.passes,
                "runs": c.runs,
                "median_wall_seconds": round_float(c.median_wall_seconds),
                "error_line": c.error_line,
                "diagnosis": list(c.diagnosis),
            }
            for c in check.cells
        ],
    }
    return Section("compatibility", "Compatibility", tuple(blocks), data)


# --- overhead -------------------------------------------------------------------------


def overhead_section(bench: BenchReport) -> Section:
    metric_label = METRIC_LABELS.get(bench.metric, bench.metric)
    confidence = f"{bench.confidence:.0%} CI"
    headers = ("workload", "mode", "median wall s", "IQR", "ratio", confidence, "verdict")
    rows = []
    for workload in bench.workloads:
        for mode in bench.modes:
            stat = bench.stat(workload, mode)
            if stat is None:
                continue
            overhead = bench.overhead(workload, mode)
            iqr = f"{stat.wall.iqr:.2f} s ({stat.wall.relative_iqr:.1%})"
            if mode == bench.reference:
                ratio, interval, verdict = "1", "", "reference"
            elif overhead is None:
                ratio, interval, verdict = "", "", f"no {bench.reference} runs to compare"
            else:
                ratio = f"{overhead.ratio:.3f}"
                interval = f"{overhead.ci_low:.3f}..{overhead.ci_high:.3f}"
                verdict = overhead.verdict
            rows.append((workload, mode, f"{stat.wall.median:.2f}", iqr, ratio, interval, verdict))
    blocks: list[Block] = [
        Paragraph(
            f"Overhead is the median {metric_label} under a mode divided by the median under "
            f"{bench.reference}, with a {bench.confidence:.0%} percentile bootstrap interval "
            f"({bench.resamples} resamples of whole rounds, since runs were interleaved). "
            "An interval that contains 1 means no impact this data can show."
        )
    ]
    plot_rows = [
        (o.workload, o.mode, o.ratio, o.ci_low, o.ci_high)
        for workload in bench.workloads
        for mode in bench.modes
        if (o := bench.overhead(workload, mode)) is not None
    ]
    if plot_rows:
        blocks.append(
            Plot(
                "overhead",
                f"Overhead per workload and mode against {bench.reference}, "
                f"with {bench.confidence:.0%} confidence intervals",
                plots.overhead_plot(
                    plot_rows,
                    reference=bench.reference,
                    precision=bench.precision,
                    confidence=bench.confidence,
                    metric_label=metric_label,
                ),
            )
        )
    blocks.append(Table(headers, tuple(rows), align_right=(2, 3, 4, 5)))
    if bench.warnings:
        blocks += [Paragraph("Warnings:"), Bullets(bench.warnings)]
    data = bench_to_dict(bench)
    data.pop("samples", None)  # raw samples stay in bench.json
    return Section("overhead", "Performance impact", tuple(blocks), data)


# --- micro-benchmark ------------------------------------------------------------------


def microbench_section(micro: MicrobenchReport) -> Section:
    headers = ("mode", "median ns/call", "IQR ns", "n", "added ns", f"{micro.confidence:.0%} CI")
    rows = []
    for r in micro.results:
        spread = r.ns_per_call
        added = "reference" if r.added_ns is None else f"{r.added_ns:+.1f}"
        interval = (
            f"{r.added_ci_low:+.1f}..{r.added_ci_high:+.1f}"
            if r.added_ci_low is not None and r.added_ci_high is not None
            else ""
        )
        rows.append(
            (r.mode, f"{spread.median:.1f}", f"{spread.iqr:.1f}", str(spread.n), added, interval)
        )
    iterations = f" ({micro.iterations:,} calls per repeat)" if micro.iterations else ""
    blocks: list[Block] = [
        Paragraph(
            f"Nanoseconds per {micro.syscall}() call in a tight loop{iterations}: the cost "
            "the filter adds to every syscall, the upper bound of what a job can feel."
        ),
        Plot(
            "microbench",
            f"Nanoseconds per {micro.syscall}() call by mode, IQR as error bars",
            plots.microbench_plot(
                [
                    (r.mode, r.ns_per_call.median, r.ns_per_call.q1, r.ns_per_call.q3, r.added_ns)
                    for r in micro.results
                ],
                micro.syscall,
            ),
        ),
        Table(headers, tuple(rows), align_right=(1, 2, 3, 4, 5)),
    ]
    data = microbench_to_dict(micro)
    data.pop("samples", None)
    return Section("microbench", "Cost per syscall", tuple(blocks), data)


# --- the bound ------------------------------------------------------------------------


def bound_section(bound: BoundReport, bench: BenchReport | None) -> Section:
    confidence = f"{bound.confidence:.0%} CI"
    blocks: list[Block] = [
        Paragraph(
            "What a filter can add to each pod: the recorded syscall count times the added "
            "cost of one call under that filter (served by the kernel's cache, or running "
            "the filter's program when the cache cannot serve it), over the pod's CPU time "
            "in its unconfined runs. The recording row is the eBPF recorder's own cost. "
            f"The {bound.confidence:.0%} interval resamples the per-call measurements, the "
            "recorded runs and the CPU time together."
        ),
        Table(
            (
                "workload",
                "pod",
                "mode",
                "filter",
                "calls/run",
                "uncached",
                "CPU s",
                "added ms",
                "share of CPU",
                confidence,
            ),
            tuple(
                (
                    b.workload,
                    b.role,
                    b.mode,
                    b.label,
                    f"{b.calls:,.0f}",
                    f"{b.uncached_calls:,.0f}",
                    f"{b.cpu_seconds:.2f}",
                    f"{b.added_seconds * 1000:.2f}",
                    f"{b.share:+.3%}",
                    f"{b.low:+.3%}..{b.high:+.3%}",
                )
                for b in bound.bounds
            ),
            align_right=(4, 5, 6, 7, 8, 9),
        ),
        Paragraph("Added nanoseconds per call, per filter (the calls its cache does not serve):"),
        Table(
            ("filter", "call", "path", "added ns", confidence, "how"),
            tuple(
                (
                    c.label,
                    c.name or "(any cached call)",
                    c.path,
                    f"{c.ns:+.1f}",
                    f"{c.low:+.1f}..{c.high:+.1f}",
                    c.rule,
                )
                for c in bound.costs
            ),
            align_right=(3, 4),
        ),
    ]
    notes = sorted({f"{b.mode} ({b.label}): {n}" for b in bound.bounds for n in b.notes})
    if notes:
        blocks += [Bullets(tuple(notes))]
    data = bound_to_dict(bound)
    if bench is not None:
        rows = cross_check(bench, bound)
        if rows:
            blocks += [
                Paragraph(
                    "The bound against the CPU time the runs measured (median under the mode "
                    f"over unconfined, {bench.confidence:.0%} interval paired by round):"
                ),
                Table(
                    ("workload", "mode", "scope", "measured", confidence, "bound", "inside"),
                    tuple(
                        (
                            r.workload,
                            r.mode,
                            r.scope,
                            f"{r.ratio:.4f}",
                            f"{r.low:.4f}..{r.high:.4f} (±{r.half_width:.1%})",
                            f"{r.bound:.5f}",
                            "yes" if r.inside else "no",
                        )
                        for r in rows
                    ),
                    align_right=(3, 4, 5),
                ),
            ]
            data["cross_check"] = cross_check_to_dict(rows, bench.precision)
    return Section("bound", "What each filter can add: the bound", tuple(blocks), data)


# --- profile size ---------------------------------------------------------------------


def profile_size_section(
    generated: AllowedSet | None,
    default: AllowedSet | None,
    roles: tuple[AllowedSet, ...] = (),
) -> Section:
    blocks: list[Block] = []
    data: dict[str, Any] = {}
    roles = tuple(r for r in roles if r.is_allowlist)
    if generated is not None and not generated.is_allowlist:
        blocks.append(
            Paragraph(
                "The generated profile allows every syscall by default, so it has no size "
                "to compare; its rules list what it treats specially."
            )
        )
        generated = None
    if default is not None and not default.is_allowlist:
        default = None
    if generated is not None:
        data["generated"] = sorted(generated.allowed)
    if default is not None:
        data["runtime_default"] = {"name": default.name, "allowed": sorted(default.allowed)}
    if generated is not None and default is not None:
        both = generated.allowed & default.allowed
        extra = sorted(generated.allowed - default.allowed)
        removed = sorted(default.allowed - generated.allowed)
        data.update(both=len(both), generated_only=extra, runtime_default_only=removed)
        blocks += [
            Paragraph(
                f"The generated profile allows {len(generated.allowed)} syscalls, "
                f"{default.name} {len(default.allowed)}; {len(both)} are in both. "
                f"The generated profile shuts {len(removed)} that {default.name} leaves open."
            ),
            Plot(
                "profile-size",
                f"Allowed syscalls: generated profile against {default.name}, and their overlap",
                plots.profile_size_plot(generated.allowed, default.allowed, default.name),
            ),
            Table(
                ("", "syscalls"),
                (
                    ("allowed by the generated profile", str(len(generated.allowed))),
                    (f"allowed by {default.name}", str(len(default.allowed))),
                    ("allowed by both", str(len(both))),
                    ("generated only", str(len(extra))),
                    (f"{default.name} only", str(len(removed))),
                ),
                align_right=(1,),
            ),
        ]
        if extra:
            blocks += [
                Paragraph(
                    f"Allowed by the generated profile but not by {default.name} "
                    f"(a job needing these fails under {default.name}):"
                ),
                Paragraph(_names(extra)),
            ]
    elif generated is not None:
        blocks.append(
            Paragraph(
                f"The generated profile allows {len(generated.allowed)} syscalls. "
                "Add runtime_default.json to compare it with the engine's default."
            )
        )
    elif default is not None:
        blocks.append(Paragraph(f"{default.name} allows {len(default.allowed)} syscalls."))
    if roles and generated is not None:
        data["roles"] = {r.name: sorted(r.allowed) for r in roles}
        others = {
            r.name: frozenset().union(*(o.allowed for o in roles if o is not r)) for r in roles
        }
        rows = []
        for role in roles:
            share = f"{len(role.allowed) / len(default.allowed):.0%}" if default else ""
            only = sorted(role.allowed - others[role.name])
            rows.append((f"{role.name} pod", str(len(role.allowed)), share, _names(only) or "-"))
        blocks += [
            Paragraph(
                "Each pod gets its own profile: the driver's and the executors' calls were "
                "recorded apart; the union above is what one profile for both would allow."
            ),
            Table(
                ("profile", "syscalls", f"of {default.name}" if default else "", "only this pod"),
                tuple(rows),
                align_right=(1, 2),
            ),
        ]
    if not blocks:
        blocks.append(Paragraph("No allow-list profile to measure."))
    return Section("profile-size", "Profile size", tuple(blocks), data)


# --- where syscalls come from ---------------------------------------------------------


def syscalls_section(summary: ProfileSummary) -> Section:
    workloads = summary.workloads
    by_workload = len(workloads) >= 2
    columns = workloads if by_workload else summary.roles
    blocks: list[Block] = []
    facts = [(str(k), _scalar(v)) for k, v in sorted(summary.profile.items()) if _is_scalar(v)]
    if facts:
        blocks.append(Table(("recording", "value"), tuple(facts)))
    if by_workload:
        shared = [s.name for s in summary.syscalls if set(s.workloads) == set(workloads)]
        rows = [s.name for s in summary.syscalls if set(s.workloads) != set(workloads)]
        cells = {(s.name, w): 1 for s in summary.syscalls for w in s.workloads}
        what = (
            f"{len(summary.syscalls)} syscalls seen; the {len(shared)} every workload uses "
            f"are left out of the heatmap, which shows the {len(rows)} that tell them apart."
            if rows
            else f"All {len(workloads)} workloads use the same {len(shared)} syscalls."
        )
        title = "Syscalls that differ between workloads (blue: used)"
    else:
        rows = [s.name for s in summary.syscalls]
        cells = {(s.name, role): count for s in summary.syscalls for role, count in s.roles.items()}
        what = f"{len(summary.syscalls)} syscalls seen, by the process role that made them."
        title = "Syscalls by process role"
    shown = rows[: plots.MAX_HEATMAP_ROWS]
    if len(shown) < len(rows):
        what += f" The first {len(shown)} (by name) are drawn; report.json has all."
    blocks.append(Paragraph(what))
    if shown and columns:
        blocks.append(
            Plot(
                "syscall-heatmap",
                f"Heatmap of syscalls by {'workload' if by_workload else 'process role'}",
                plots.heatmap_plot(shown, columns, cells, title),
            )
        )
    intermittent = [s for s in summary.syscalls if s.intermittent]
    if intermittent:
        blocks += [
            Paragraph(
                "Seen in only some recording runs; a profile from fewer runs could miss them:"
            ),
            Table(
                ("syscall", "runs", "workloads"),
                tuple(
                    (s.name, f"{s.runs}/{s.of_runs}", ", ".join(s.workloads)) for s in intermittent
                ),
                align_right=(1,),
            ),
        ]
    data = {
        "profile": dict(summary.profile),
        "syscalls": {
            s.name: {
                "runs": s.runs,
                "of_runs": s.of_runs,
                "workloads": list(s.workloads),
                "roles": dict(s.roles),
            }
            for s in summary.syscalls
        },
    }
    return Section("syscalls", "Syscalls by workload", tuple(blocks), data)


def held_back_section(summary: ProfileSummary) -> Section:
    rows = tuple((name, reason) for name, reason in summary.held_back.items())
    return Section(
        "held-back",
        "Held back",
        (
            Paragraph("Seen while recording but deliberately left out of the profile:"),
            Table(("syscall", "reason"), rows),
        ),
        {"held_back": dict(summary.held_back)},
    )


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool)) or _is_name_list(value)


def _is_name_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)


def _scalar(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)
