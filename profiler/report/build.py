"""``build_report``: read a run directory, write report.md, report.html and report.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.output import OutputFile, check_output_dir, check_output_files, write_files
from profiler.report.html import render_html
from profiler.report.inputs import load_run_dir
from profiler.report.markdown import render_markdown
from profiler.report.model import Report
from profiler.report.sections import build_sections

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
JSON_FILE = "report.json"
REPORT_FILES = (MARKDOWN_FILE, HTML_FILE, JSON_FILE)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    json: Path

    def paths(self) -> tuple[Path, ...]:
        return (self.markdown, self.html, self.json)


def build_report(run_dir: Path) -> ReportFiles:
    """Write the report files into ``run_dir``; UsageError when it has no known inputs."""
    run_dir = Path(run_dir)
    report = build_sections(load_run_dir(run_dir))
    files = ReportFiles(run_dir / MARKDOWN_FILE, run_dir / HTML_FILE, run_dir / JSON_FILE)
    # The three files appear together or not at all: a report.md linking to an old
    # report.html, or a report.json without its report, would mislead.
    write_files(
        [
            OutputFile(files.markdown, render_markdown(report, HTML_FILE)),
            OutputFile(files.html, render_html(report)),
            OutputFile(files.json, report_to_json(report)),
        ]
    )
    return files


def check_report_paths(run_dir: Path) -> None:
    """Refuse, before any work, a run directory where the report files cannot be written."""
    check_output_dir(run_dir)
    check_output_files(run_dir, REPORT_FILES, what="report file")


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "kind": "report",
        "title": report.title,
        "sources": list(report.sources),
        "sections": [
            {
                "key": s.key,
                "title": s.title,
                "plots": [p.name for p in s.plots],
                "data": dict(s.data),
            }
            for s in report.sections
        ],
    }


def report_to_json(report: Report) -> str:
    return json.dumps(report_to_dict(report), indent=2, sort_keys=True) + "\n"
