"""Lint results as text (one finding per block) and JSON, and the rules as a list."""

from __future__ import annotations

import json

from profiler.k8s.install import LINT_IGNORE_ANNOTATION
from profiler.k8s.lint import LintReport
from profiler.k8s.rules import RULES
from profiler.vocabulary import Choice


class LintFormat(Choice):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def to_text(report: LintReport) -> str:
    lines = []
    for f in report.findings:
        where = f"{f.file}:{f.line}" if f.line is not None else f.file
        lines.append(
            f"{where}: {f.severity.value} [{f.rule.id}] {f.resource}"
            + (f" {f.path}" if f.path else "")
        )
        lines.append(f"    {f.message}")
        lines.append(f"    fix: {f.fix}")
    return "\n".join(lines) + "\n" if lines else ""


def to_json(report: LintReport) -> str:
    data = {
        "findings": [f.to_dict() for f in report.findings],
        "suppressed": [f.to_dict() for f in report.suppressed],
        "summary": {
            "documents": report.documents,
            **report.counts(),
            "suppressed": len(report.suppressed),
            "skipped": list(report.skipped),
            "disabled": list(report.disabled),
        },
    }
    return json.dumps(data, indent=2) + "\n"


def summary(report: LintReport) -> str:
    counts = report.counts()
    parts = [f"{n} {name}" for name, n in counts.items() if n]
    text = f"{len(report.findings)} finding(s)"
    if parts:
        text += f" ({', '.join(reversed(parts))})"
    text += f" in {report.documents} document(s)"
    if report.suppressed:
        text += f"; {len(report.suppressed)} suppressed by {LINT_IGNORE_ANNOTATION}"
    if report.disabled:
        text += f"; rules off for this run: {', '.join(report.disabled)}"
    if report.skipped:
        kinds = ", ".join(sorted(set(report.skipped)))
        text += f"; {len(report.skipped)} document(s) without pods not linted ({kinds})"
    return text


def rules_to_json() -> str:
    """Every rule: id, severity, what it finds, the generic fix, and whether PSS
    "restricted" itself rejects the pod."""
    rules = [
        {
            "id": r.id,
            "severity": r.severity.value,
            "description": r.title,
            "fix": r.fix,
            "pss_restricted": r.pss,
        }
        for r in RULES
    ]
    return json.dumps(rules, indent=2) + "\n"
