"""A check as JSON (for machines) and JUnit XML (for CI systems' test views)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from profiler.check import CheckReport


def check_to_dict(report: CheckReport) -> dict[str, Any]:
    return {
        "image": report.image,
        "runtime": report.runtime,
        "versions": dict(report.versions),
        "pod_security": report.pod_security.value,
        "topology": report.topology.value,
        "executors": report.executors if report.topology.value == "pod" else 0,
        "notes": list(report.notes),
        "modes": [m.value for m in report.modes],
        "workloads": list(report.workloads),
        "profile": report.profile_label,
        "repeat": report.repeat,
        "passed": report.passed,
        "cells": [
            {
                "workload": c.workload,
                "mode": c.mode.value,
                "verdict": c.verdict.value,
                "passes": c.passes,
                "median_wall_seconds": round(c.median_wall, 3),
                "diagnosis": list(c.diagnosis),
                "runs": [
                    {
                        **asdict(r),
                        "verdict": r.verdict.value,
                        "wall_seconds": round(r.wall_seconds, 3),
                    }
                    for r in c.runs
                ],
            }
            for c in report.cells
        ],
    }


def check_to_json(report: CheckReport) -> str:
    return json.dumps(check_to_dict(report), indent=2, sort_keys=True) + "\n"


def check_to_junit(report: CheckReport) -> str:
    """One test suite per security mode, one test case per workload."""
    return _junit_document(_junit_suites(report))


def _junit_suites(report: CheckReport, prefix: str = "") -> list[ET.Element]:
    suites = []
    for mode in report.modes:
        cells = [c for c in report.cells if c.mode is mode]
        failures = sum(1 for c in cells if not c.verdict.ok)
        suite = ET.Element(
            "testsuite",
            name=f"{prefix}seccomp-{mode.value}",
            tests=str(len(cells)),
            failures=str(failures),
            errors="0",
            time=f"{sum(r.wall_seconds for c in cells for r in c.runs):.3f}",
        )
        for cell in cells:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"seccomp.{mode.value}",
                name=cell.workload,
                time=f"{cell.median_wall:.3f}",
            )
            if not cell.verdict.ok:
                failing = next(r for r in cell.runs if not r.verdict.ok)
                failure = ET.SubElement(
                    case, "failure", type=cell.verdict.value, message=failing.error_line
                )
                failure.text = "\n".join([failing.error_line, *cell.diagnosis])
        suites.append(suite)
    return suites


def _junit_document(suites: Sequence[ET.Element]) -> str:
    root = ET.Element("testsuites", name="spark-seccomp check")
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def check_matrix_to_json(reports: Sequence[CheckReport]) -> str:
    """Several images' checks: ``{"matrix": [<check.json of each image>...]}``."""
    return (
        json.dumps({"matrix": [check_to_dict(r) for r in reports]}, indent=2, sort_keys=True) + "\n"
    )


def check_matrix_to_junit(reports: Sequence[CheckReport]) -> str:
    """The suites of every image's check, each suite's name prefixed with its image."""
    several_runtimes = len({r.runtime for r in reports}) > 1

    def prefix(report: CheckReport) -> str:
        return f"{report.runtime} {report.image} " if several_runtimes else f"{report.image} "

    return _junit_document([s for r in reports for s in _junit_suites(r, prefix(r))])
