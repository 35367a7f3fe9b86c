"""``build_report``: read a run directory, write report.md, report.html and report.json."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.report.html import render_html
from profiler.report.inputs import load_run_dir
from profiler.report.markdown import render_markdown
from profiler.report.model import Report
from profiler.report.sections import build_sections

MARKDOWN_FILE = "report.md"
HTML_FILE = "report.html"
JSON_FILE = "report.json"
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
    _write(files.markdown, render_markdown(report, HTML_FILE))
    _write(files.html, render_html(report))
    _write(files.json, report_to_json(report))
    return files


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


def _write(path: Path, text: str) -> None:
    # Whole file or nothing, so a crash never leaves a half report beside the data.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; reports are for sharing
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
