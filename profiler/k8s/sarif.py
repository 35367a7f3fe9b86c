"""Lint results as SARIF 2.1.0, for code-scanning UIs. Stable bytes for the same report."""

from __future__ import annotations

import json
from typing import Any

from profiler import __version__
from profiler.k8s.lint import Finding, LintReport
from profiler.k8s.rules import RULES, Rule, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def to_sarif(report: LintReport) -> str:
    rule_index = {rule.id: index for index, rule in enumerate(RULES)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "spark-seccomp",
                        "version": __version__,
                        "rules": [_rule(rule) for rule in RULES],
                    }
                },
                "results": [_result(f, rule_index[f.rule.id]) for f in report.findings],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"


def _rule(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "help": {"text": rule.fix},
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
    }
    if rule.pss:
        data["properties"] = {"tags": ["security", "pod-security-standards"]}
    return data


def _result(finding: Finding, index: int) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": finding.file}}
    if finding.line is not None:
        physical["region"] = {"startLine": finding.line}
    return {
        "ruleId": finding.rule.id,
        "ruleIndex": index,
        "level": _LEVELS[finding.severity],
        "message": {"text": f"{finding.message}. Fix: {finding.fix}"},
        "locations": [
            {
                "physicalLocation": physical,
                "logicalLocations": [
                    {
                        "fullyQualifiedName": f"{finding.resource}:{finding.path}",
                        "kind": "member",
                    }
                ],
            }
        ],
        "properties": {"resource": finding.resource, "yamlPath": finding.path},
    }
