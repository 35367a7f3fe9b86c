"""`spark-seccomp profile ...`: merge, diff and explain profiles (no engine needed)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from profiler.cli.common import (
    OCI_RUNTIMES_OPTION,
    RUNTIMES_OPTION,
    console,
    note,
    output_file,
    stdout,
)
from profiler.errors import UsageError
from profiler.output import OutputFile, check_output_path, is_stdout, write_file, write_files
from profiler.seccomp.arch import canonical_arch, native_arch
from profiler.seccomp.capabilities import parse_capabilities
from profiler.seccomp.compare import (
    Comparable,
    diff_profiles,
    explain,
    merge_profiles,
    merge_summaries,
)
from profiler.seccomp.generate import Summary, load_summary, summary_path_for
from profiler.seccomp.profile import Profile, read_profile
from profiler.seccomp.runtime_default import RuntimeDefaultReference
from profiler.tracing.ebpf import lost_events_warning

app = typer.Typer(help="Merge, compare and explain seccomp profiles.", no_args_is_help=True)

RUNTIME_DEFAULT = "runtime-default"


@app.command("runtime-default")
def runtime_default_(
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the result here [default: stdout].",
        parser=output_file,
        metavar="<path>",
    ),
    image: str = typer.Option(
        None, "--image", help="Image to probe in [default: the Spark image]."
    ),
    runtime: str = RUNTIMES_OPTION,
    oci_runtime: str = OCI_RUNTIMES_OPTION,
) -> None:
    """Read and probe what each engine's RuntimeDefault really allows (cached per engine
    and OCI runtime version).

    The filter the engine hands its OCI runtime is read from a RuntimeDefault container's
    bundle; independently, a locked-down container calls every syscall with invalid
    arguments under runtime-default and under unconfined with the same capabilities, and
    the calls whose outcome differs are the ones the default filters. With several
    engines (``--runtime docker,podman,containerd``) a side-by-side table compares them
    and --out gets ``{"engines": {label: reference}}``.
    """
    from profiler.image import default_tag
    from profiler.runtime.probe import probe_engines
    from profiler.runtime.select import parse_engine_choices

    if out is not None:
        check_output_path(out, stdout_ok=True)
    references = probe_engines(parse_engine_choices(runtime, oci_runtime), image or default_tag())
    if len(references) == 1:
        (reference,) = references.values()
        text = reference.to_json()
    else:
        text = (
            json.dumps(
                {"engines": {k: json.loads(r.to_json()) for k, r in references.items()}},
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
    if out is None or is_stdout(out):
        if len(references) == 1:
            stdout.out(text, end="", highlight=False)
        else:
            stdout.print(render_runtime_defaults(references))
    else:
        write_file(out, text)
        console.print(f"wrote {out}", highlight=False)
        if len(references) > 1:
            stdout.print(render_runtime_defaults(references))
    for label, reference in references.items():
        for line in describe_runtime_default(reference):
            console.print(
                f"{label}: {line}" if len(references) > 1 else line, highlight=False, markup=False
            )


def render_runtime_defaults(references: dict[str, RuntimeDefaultReference]) -> Table:
    """Each engine's RuntimeDefault side by side: the probe's three classes, the bundle's
    default action and errno, its argument-filtered calls, and what only some allow."""
    table = Table("", *references, title="RuntimeDefault per engine (this machine)")
    rows: dict[str, list[str]] = {
        "probe: allowed": [],
        "probe: blocked": [],
        "probe: undecidable": [],
        "bundle: default action": [],
        "bundle: allowed names": [],
        "bundle: argument-filtered": [],
        "probe agrees with bundle": [],
        "allowed here, not by every other": [],
    }
    allowed_sets = {k: r.allowed for k, r in references.items()}
    everyone = frozenset.intersection(*allowed_sets.values())
    for label, reference in references.items():
        engine = reference.engine_default or {}
        errno = engine.get("default_errno")
        rows["probe: allowed"].append(str(len(reference.probe_allowed)))
        rows["probe: blocked"].append(str(len(reference.blocked)))
        rows["probe: undecidable"].append(str(len(reference.undecidable)))
        rows["bundle: default action"].append(
            f"{engine.get('default_action', '?')}" + (f" (errno {errno})" if errno else " (EPERM)")
            if engine
            else "not read"
        )
        rows["bundle: allowed names"].append(str(len(engine.get("allowed", []))) if engine else "-")
        rows["bundle: argument-filtered"].append(
            ", ".join(engine.get("argument_filtered", [])) if engine else "-"
        )
        rows["probe agrees with bundle"].append(
            "yes"
            if engine and not reference.disagreements
            else ("; ".join(reference.disagreements) if engine else "-")
        )
        rows["allowed here, not by every other"].append(
            ", ".join(sorted(allowed_sets[label] - everyone)) or "-"
        )
    for name, values in rows.items():
        table.add_row(name, *values)
    return table


def describe_runtime_default(reference: RuntimeDefaultReference) -> list[str]:
    """What the probe found and what the engine's bundle held, in a few lines."""
    lines = [
        f"probe: {len(reference.probe_allowed)} allowed, {len(reference.blocked)} blocked by the "
        f"filter, {len(reference.undecidable)} undecidable (EPERM or ENOSYS both "
        "ways: refused for lack of a capability, or absent from this kernel; not counted "
        "as allowed)"
    ]
    engine = reference.engine_default
    if engine is None:
        lines.append(
            "engine: its bundle could not be read here (needs root and Docker's containerd)"
        )
        return lines
    errno = engine.get("default_errno")
    lines.append(
        f"engine: {engine['default_action']}"
        + (f" (errno {errno})" if errno is not None else "")
        + f" by default, {len(engine['allowed'])} allowed, "
        f"{len(engine['argument_filtered'])} argument-filtered "
        f"({', '.join(engine['argument_filtered'])}), read from {engine['source']}"
    )
    if reference.disagreements:
        lines += [f"disagreement: {d}" for d in reference.disagreements]
    else:
        lines.append("the probe agrees with the bundle on every call it can decide")
    return lines


def _summary_beside(profile_path: Path) -> Summary | None:
    path = summary_path_for(profile_path)
    return load_summary(path) if path.is_file() else None


ALLOW_UNKNOWN_OPTION = typer.Option(
    False,
    "--allow-unknown",
    help="Keep syscall names libseccomp does not know (a newer kernel's), with a warning.",
)


def read_profiles(paths: list[Path], allow_unknown: bool) -> list[Profile]:
    """Each profile, validated; a warning for unknown names kept with --allow-unknown."""
    profiles = []
    for path in paths:
        loaded = read_profile(path, allow_unknown=allow_unknown)
        if (warning := loaded.warning()) is not None:
            note(f"warning: {warning}")
        profiles.append(loaded.profile)
    return profiles


def _refuse_repeated(paths: list[Path], counted: str) -> None:
    """The same file twice would count its runs twice in the result's summary."""
    seen: dict[Path, Path] = {}
    for path in paths:
        key = path.resolve()
        if key in seen:
            also = "" if seen[key] == path else f" (also as {seen[key]})"
            raise UsageError(
                f"{path} is given twice{also}: {counted} would count twice",
                "name each file once",
            )
        seen[key] = path


@app.command()
def merge(
    profiles: list[Path] = typer.Argument(..., help="Profiles to merge (two or more)."),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the merged profile here [default: stdout].",
        parser=output_file,
        metavar="<path>",
    ),
    allow_unknown: bool = ALLOW_UNKNOWN_OPTION,
) -> None:
    """Allow everything any input allows; add up their summaries (NAME.summary.json).

    With --out, a merged summary is written beside the output when every input has one;
    when some have none, an old summary beside the output is removed, since it would
    describe another profile.
    """
    if out is not None:
        check_output_path(out, what="profile", stdout_ok=True)
    to_file = out is not None and not is_stdout(out)
    summary_out = summary_path_for(out) if to_file else None
    if summary_out is not None:
        check_output_path(summary_out, what="summary")
    if len(profiles) < 2:
        raise UsageError("merge needs at least two profiles", "name two or more profile files")
    _refuse_repeated(list(profiles), "its runs")
    merged = merge_profiles(read_profiles(profiles, allow_unknown))
    summaries = [_summary_beside(p) for p in profiles]
    found = [s for s in summaries if s is not None]
    merged_summary = merge_summaries(found) if found and len(found) == len(summaries) else None
    if found and merged_summary is None:
        missing = [str(p) for p, s in zip(profiles, summaries, strict=True) if s is None]
        note(f"no summary beside {', '.join(missing)}: the merged summary is left out")
    if out is None or summary_out is None:
        stdout.out(merged.to_json(), end="", highlight=False)
        return
    stale = summary_out.exists() and merged_summary is None
    write_files(
        [
            OutputFile(out, merged.to_json()),
            OutputFile(summary_out, None if merged_summary is None else merged_summary.to_json()),
        ]
    )
    console.print(f"wrote {out} ({len(merged.allowed())} syscalls allowed)", highlight=False)
    if merged_summary is not None:
        console.print(f"wrote {summary_out}", highlight=False)
    elif stale:
        note(f"removed {summary_out}: it described the profile that {out} replaced")


@app.command("import")
def import_(
    files: list[Path] = typer.Argument(
        ..., help="SeccompProfiles SPO recorded (kubectl get seccompprofiles -o yaml)."
    ),
    with_: list[Path] = typer.Option(
        [],
        "--with",
        help="Local profiles (NAME.json, summary beside), recording.json files or run "
        "folders to merge in (repeatable).",
    ),
    errno: str = typer.Option("enosys", "--errno", help="Errno for denied calls: enosys, eperm."),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the profile here, its summary beside [default: stdout].",
        parser=output_file,
        metavar="<path>",
    ),
) -> None:
    """Turn SPO-recorded SeccompProfiles into this tool's profile, merged with local ones.

    Each SeccompProfile counts as one run of spo:<recording>/<container>, so the summary
    (`profile explain`) says which calls came from the cluster.
    """
    from profiler.k8s.spo import import_profiles

    if out is not None and not is_stdout(out):
        check_output_path(out, what="profile")
        check_output_path(summary_path_for(out), what="summary")
    _refuse_repeated([*files, *with_], "its runs")
    result = import_profiles(list(files), list(with_), errno=errno)
    for message in result.notes:
        console.print(f"note: {message}", highlight=False, markup=False, soft_wrap=True)
    text = result.profile.to_json()
    if out is None or is_stdout(out):
        stdout.out(text, end="", highlight=False)
        return
    # The profile and its summary together; no summary means none may stay beside it.
    summary_out = summary_path_for(out)
    summary = result.summary.to_json() if result.summary is not None else None
    write_files([OutputFile(out, text), OutputFile(summary_out, summary)])
    console.print(
        f"wrote {out} ({len(result.profile.allowed())} syscalls allowed, "
        f"{len(result.imported)} SeccompProfile(s) imported)",
        highlight=False,
    )
    if summary is not None:
        console.print(f"wrote {summary_out}", highlight=False)


def _side(
    text: str,
    runtime_default: Path | None,
    arch: str | None,
    caps: frozenset[str],
    allow_unknown: bool,
) -> tuple[str, Comparable, Summary | None]:
    if text == RUNTIME_DEFAULT:
        from profiler.image import default_tag
        from profiler.runtime.probe import resolve_runtime_default

        reference = resolve_runtime_default(
            runtime_default, image=default_tag(), arch=arch, capabilities=caps
        )
        return reference.name, reference, None
    if text.startswith(f"{RUNTIME_DEFAULT}:"):
        reference = _engine_runtime_default(text.split(":", 1)[1], arch)
        return reference.name, reference, None
    path = Path(text)
    return text, read_profiles([path], allow_unknown)[0], _summary_beside(path)


def _engine_runtime_default(engine_text: str, arch: str | None) -> RuntimeDefaultReference:
    """``runtime-default:podman`` (or ``:containerd/runc``): that engine's, read and probed."""
    from profiler.image import default_tag
    from profiler.runtime.probe import probe_runtime_default
    from profiler.runtime.select import make_engine, parse_engine_choices

    engine_name, slash, oci = engine_text.partition("/")
    if not engine_name or "," in engine_text or (slash and not oci):
        raise UsageError(
            f"{RUNTIME_DEFAULT}:{engine_text} does not name one engine and OCI runtime",
            f"write e.g. {RUNTIME_DEFAULT}:podman or {RUNTIME_DEFAULT}:containerd/crun",
        )
    (choice,) = parse_engine_choices(engine_name, oci or None)
    if arch and canonical_arch(arch) != native_arch():
        raise UsageError(
            f"{RUNTIME_DEFAULT}:{engine_text} can only be probed for {native_arch()} here",
            "drop --arch, or pass --runtime-default FILE",
        )
    engine = make_engine(choice)
    return probe_runtime_default(default_tag(), engine=engine)


def _refuse_unused_options(
    sides: tuple[str, str], *, caps: bool, runtime_default: bool, arch: bool
) -> None:
    """--cap and --runtime-default shape the plain runtime-default side, --arch any
    runtime-default side: given without one, they would be silently ignored."""
    plain = RUNTIME_DEFAULT in sides
    probed = any(s.startswith(f"{RUNTIME_DEFAULT}:") for s in sides)
    for given, option, applies, where in (
        (caps, "--cap", plain, "the runtime-default side"),
        (runtime_default, "--runtime-default", plain, "the runtime-default side"),
        (arch, "--arch", plain or probed, "a runtime-default side"),
    ):
        if given and not applies:
            raise UsageError(
                f"{option} only applies to {where}, and neither side is one",
                f"compare with runtime-default, or drop {option}",
            )


@app.command()
def diff(
    a: str = typer.Argument(
        ...,
        help="A profile file, runtime-default, or runtime-default:ENGINE[/OCI-RUNTIME] "
        "(e.g. runtime-default:podman).",
    ),
    b: str = typer.Argument(..., help="The same, for the other side."),
    runtime_default: Path = typer.Option(
        None,
        "--runtime-default",
        help="The engine's default profile (Docker default.json or OCI) for runtime-default.",
    ),
    arch: str = typer.Option(
        None, "--arch", help="Architecture for runtime-default [default: this machine's]."
    ),
    cap: list[str] = typer.Option(
        [],
        "--cap",
        help="Capability the container keeps, for runtime-default (repeatable) [default: none].",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    allow_unknown: bool = ALLOW_UNKNOWN_OPTION,
) -> None:
    """Show what each side allows that the other does not."""
    caps = parse_capabilities(cap)
    _refuse_unused_options(
        (a, b), caps=bool(cap), runtime_default=runtime_default is not None, arch=arch is not None
    )
    # Profile files first: a bad file must fail before runtime-default probes an engine.
    for side in (a, b):
        if side != RUNTIME_DEFAULT and not side.startswith(f"{RUNTIME_DEFAULT}:"):
            read_profile(Path(side), allow_unknown=allow_unknown)
    name_a, side_a, summary_a = _side(a, runtime_default, arch, caps, allow_unknown)
    name_b, side_b, summary_b = _side(b, runtime_default, arch, caps, allow_unknown)
    result = diff_profiles(side_a, side_b, left=name_a, right=name_b)
    if as_json:
        stdout.print_json(json.dumps(result.to_dict()))
        return
    for label, names, summary in (
        (name_a, result.only_left, summary_a),
        (name_b, result.only_right, summary_b),
    ):
        stdout.print(f"only in {label} ({len(names)}):", highlight=False, markup=False)
        for name in names:
            use = summary.usage.get(name) if summary else None
            detail = f"  [{', '.join(sorted(use.workloads))}]" if use else ""
            stdout.print(f"  {name}{detail}", highlight=False, markup=False)
    stdout.print(f"allowed by both: {len(result.common)}", highlight=False, markup=False)


@app.command("explain")
def explain_(
    profile: Path = typer.Argument(..., help="Profile to explain."),
    summary: Path = typer.Option(
        None, "--summary", help="Its summary [default: NAME.summary.json beside it]."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    allow_unknown: bool = ALLOW_UNKNOWN_OPTION,
) -> None:
    """For each syscall: which workloads and processes used it, in how many runs, how often."""
    loaded: Profile = read_profiles([profile], allow_unknown)[0]
    found = load_summary(summary) if summary is not None else _summary_beside(profile)
    if found is None:
        console.print(
            f"no summary beside {profile}: only the allowed names can be shown", highlight=False
        )
    else:
        for run, lost in found.lost_events.items():
            note(f"warning: {lost_events_warning(run, lost)}")
    rows = explain(loaded, found)
    if as_json:
        stdout.print_json(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table("syscall", "allowed", "runs", "workloads", "processes (calls)", "notes")
    for row in rows:
        runs = f"{row.runs}/{row.total_runs}" if row.total_runs is not None else ""
        roles = ", ".join(f"{r} ({c})" for r, c in sorted(row.roles.items()))
        table.add_row(
            row.name,
            "yes" if row.allowed else "no",
            runs,
            ", ".join(sorted(row.workloads)),
            roles,
            "; ".join(row.notes),
        )
    stdout.print(table)
