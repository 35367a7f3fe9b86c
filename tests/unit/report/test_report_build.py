"""`spark-seccomp report`: sections appear with their data, plots are inline, bytes repeat."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from run_dir_fixtures import (
    write_all,
    write_bench,
    write_bound,
    write_check,
    write_microbench,
    write_profile,
    write_summary,
)

from profiler.cli import main
from profiler.errors import EXIT_USAGE, UsageError
from profiler.report.build import build_report
from profiler.report.inputs import load_run_dir, summary_from_dict
from profiler.report.sections import build_sections

IMG = '<img src="data:image/png;base64,'
PLOTTED_SECTIONS = ("compatibility", "overhead", "microbench", "profile-size", "syscalls")


def _section_html(html: str, key: str) -> str:
    start = html.index(f'<section id="{key}">')
    return html[start : html.index("</section>", start)]


def test_full_run_dir_has_every_section_with_its_plot(tmp_path: Path) -> None:
    write_all(tmp_path)
    files = build_report(tmp_path)
    assert files.paths() == (
        tmp_path / "report.md",
        tmp_path / "report.html",
        tmp_path / "report.json",
    )
    html = files.html.read_text()
    for key in PLOTTED_SECTIONS:
        assert IMG in _section_html(html, key), key
    assert html.count(IMG) == len(PLOTTED_SECTIONS)
    assert "http://" not in html and "https://" not in html  # self-contained
    data = json.loads(files.json.read_text())
    assert [s["key"] for s in data["sections"]] == [
        "environment",
        "compatibility",
        "overhead",
        "microbench",
        "profile-size",
        "syscalls",
        "held-back",
    ]


def test_markdown_has_the_overhead_table(tmp_path: Path) -> None:
    write_bench(tmp_path)
    markdown = build_report(tmp_path).markdown.read_text()
    assert "| workload | mode | median wall s | IQR | ratio | 95% CI | verdict |" in markdown
    assert "| etl | unconfined |" in markdown
    assert "reference" in markdown
    assert "## Compatibility" not in markdown


@pytest.mark.parametrize(
    ("writer", "key"),
    [
        (write_check, "compatibility"),
        (write_bench, "overhead"),
        (write_microbench, "microbench"),
        (write_profile, "profile-size"),
        (write_summary, "syscalls"),
    ],
)
def test_each_section_appears_only_with_its_data(
    tmp_path: Path, writer: Callable[[Path], None], key: str
) -> None:
    writer(tmp_path)
    html = build_report(tmp_path).html.read_text()
    assert IMG in _section_html(html, key)
    for other in PLOTTED_SECTIONS:
        if other != key:
            assert f'<section id="{other}">' not in html


def test_same_inputs_give_same_bytes(tmp_path: Path) -> None:
    write_all(tmp_path)
    first = [p.read_bytes() for p in build_report(tmp_path).paths()]
    second = [p.read_bytes() for p in build_report(tmp_path).paths()]
    assert first == second


def test_profile_without_runtime_default_states_its_size(tmp_path: Path) -> None:
    write_profile(tmp_path)
    (tmp_path / "runtime_default.json").unlink()
    report = build_sections(load_run_dir(tmp_path))
    section = report.section("profile-size")
    assert section is not None and section.plots == ()
    assert "allows 12 syscalls" in build_report(tmp_path).markdown.read_text()


def test_names_from_input_files_are_escaped_in_html(tmp_path: Path) -> None:
    summary = {"syscalls": {"read": {"runs": 1, "of_runs": 2, "workloads": ["<script>x</script>"]}}}
    (tmp_path / "profile.summary.json").write_text(json.dumps(summary))
    html = build_report(tmp_path).html.read_text()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_summary_reading_is_defensive() -> None:
    summary = summary_from_dict(
        {
            "syscalls": {"futex": {"workloads": ["etl"]}, "read": {"runs": 1, "of_runs": 2}},
            "something_new": [1, 2, 3],
        }
    )
    futex, read = summary.syscalls
    assert (futex.name, futex.runs, futex.of_runs, futex.intermittent) == (
        "futex",
        None,
        None,
        False,
    )
    assert read.intermittent
    assert summary.held_back == {}
    with pytest.raises(UsageError, match=r"profile.summary.json: syscalls.read.runs"):
        summary_from_dict({"syscalls": {"read": {"runs": "many"}}})
    with pytest.raises(UsageError, match=r"roles\[\"driver JVM\"\]"):
        summary_from_dict({"syscalls": {"read": {"roles": {"driver JVM": 1.5}}}})


def test_one_workload_summary_is_drawn_by_role(tmp_path: Path) -> None:
    summary = {
        "syscalls": {
            "read": {"workloads": ["etl"], "roles": {"driver JVM": 10, "python worker": 2}},
            "pidfd_open": {"workloads": ["etl"], "roles": {"python worker": 1}},
        }
    }
    (tmp_path / "profile.summary.json").write_text(json.dumps(summary))
    section = build_sections(load_run_dir(tmp_path)).section("syscalls")
    assert section is not None
    assert [p.alt for p in section.plots] == ["Heatmap of syscalls by process role"]


def test_malformed_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "bench.json").write_text("{not json")
    with pytest.raises(UsageError, match="bench.json is not valid JSON"):
        build_report(tmp_path)


def test_cli_refuses_an_empty_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    assert exit_info.value.code == EXIT_USAGE
    assert "holds none of check.json" in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_cli_prints_the_written_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_check(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path)])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [str(tmp_path / name) for name in ("report.md", "report.html", "report.json")]


def test_role_profiles_get_their_own_sizes(tmp_path: Path) -> None:
    write_profile(tmp_path)
    union = json.loads((tmp_path / "profile.json").read_text())
    names = union["syscalls"][0]["names"]
    for role, dropped in (("driver", "pidfd_open"), ("executor", "io_uring_setup")):
        own = {
            **union,
            "syscalls": [{"names": [n for n in names if n != dropped], "action": "SCMP_ACT_ALLOW"}],
        }
        (tmp_path / f"profile.{role}.json").write_text(json.dumps(own) + "\n")
    markdown = build_report(tmp_path).markdown.read_text()
    assert "driver pod" in markdown and "executor pod" in markdown
    section = build_sections(load_run_dir(tmp_path)).section("profile-size")
    assert section is not None
    assert set(section.data["roles"]) == {"driver", "executor"}
    assert "io_uring_setup" in section.data["roles"]["driver"]


def test_the_bound_section_shows_bounds_costs_and_the_cross_check(tmp_path: Path) -> None:
    write_bench(tmp_path)
    write_bound(tmp_path)
    files = build_report(tmp_path)
    markdown = files.markdown.read_text()
    assert "## What each filter can add: the bound" in markdown
    assert "| etl | all | generated | generated | 250,000 | 0 | 93.00 |" in markdown
    assert "| runtime-default | clone | argument-checked | +119.5 |" in markdown
    assert "clone3 -> clone" in markdown
    data = json.loads(files.json.read_text())
    section = next(s for s in data["sections"] if s["key"] == "bound")
    rows = section["data"]["cross_check"]["rows"]
    assert {(r["mode"], r["scope"]) for r in rows} == {
        ("generated", "all"),
        ("runtime-default", "all"),
    }
    assert all(isinstance(r["inside"], bool) for r in rows)


def test_the_bound_alone_makes_a_report_without_a_cross_check(tmp_path: Path) -> None:
    write_bound(tmp_path)
    report = build_sections(load_run_dir(tmp_path))
    section = report.section("bound")
    assert section is not None and "cross_check" not in section.data
