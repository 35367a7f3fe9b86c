"""The linter never crashes and never passes what it cannot read.

Every value of every fixture is replaced, one at a time, by values of other types; the
linter must finish, report the replaced value when its type is wrong, and keep linting the
rest of the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from profiler.k8s.lint import lint_text
from profiler.k8s.manifests import YamlPath, parse_yaml, render
from profiler.k8s.models import validate_manifest

from .conftest import K8S_FIXTURES

REPLACEMENTS: tuple[Any, ...] = (5, "nginx", ["x"], [5], {"a": 1}, None, True, -1, 2**70)
FIXTURES = (
    "clean.yaml",
    "crd-security-with-template.yaml",
    "host-ports.yaml",
    "pod-field-at-container-level.yaml",
)


def paths(value: Any, prefix: YamlPath = ()) -> Iterator[YamlPath]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield prefix + (key,)
            yield from paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield prefix + (index,)
            yield from paths(child, prefix + (index,))


def replaced(doc: Any, path: YamlPath, new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {k: replaced(v, rest, new) if k == head else v for k, v in doc.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(doc)]


def variants() -> Iterator[tuple[str, YamlPath, Any]]:
    for name in FIXTURES:
        stream = parse_yaml((K8S_FIXTURES / name).read_text())
        for document in stream.documents:
            for path in paths(document.data):
                for new in REPLACEMENTS:
                    yield name, path, replaced(document.data, path, new)


ALL = list(variants())


def test_there_are_many_variants():
    assert len(ALL) > 1500


@pytest.mark.parametrize("chunk", range(8))
def test_no_variant_crashes_the_linter(chunk):
    for name, path, doc in ALL[chunk::8]:
        text = render([doc])
        report = lint_text(text, name)  # must not raise
        problems = validate_manifest(doc)
        invalid = [f for f in report.findings if f.rule.id == "invalid-field"]
        assert len(invalid) >= len([p for p in problems if p.path]) or not problems, (name, path)
        for finding in report.findings:
            assert finding.line is not None, (name, path, finding)


def test_user_reported_inputs():
    cases = {
        "kind: [Pod]\n": "kind",
        "kind: Pod\nspec:\n  containers: 5\n": "spec.containers",
        "kind: Pod\nspec:\n  containers: nginx\n": "spec.containers",
        "kind: Pod\nspec:\n  containers:\n  - name: a\n    ports: 8080\n": (
            "spec.containers[0].ports"
        ),
        "kind: Pod\nspec:\n  containers:\n  - name: a\n    securityContext:\n"
        "      capabilities:\n        drop: 5\n": (
            "spec.containers[0].securityContext.capabilities.drop"
        ),
    }
    for text, path in cases.items():
        report = lint_text(text, "user.yaml")
        invalid = [f for f in report.findings if f.rule.id == "invalid-field"]
        assert [f.path for f in invalid] == [path], text
        assert invalid[0].line is not None


def test_a_bad_value_does_not_hide_the_rest_of_the_document():
    text = (
        "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - name: a\n    ports: 8080\n    securityContext: {privileged: true}\n"
    )
    rules = {f.rule.id for f in lint_text(text).findings}
    assert {"invalid-field", "privileged", "seccomp-missing"} <= rules


def test_duplicate_kind_keys_are_a_finding():
    report = lint_text("kind: Pod\nkind: Deployment\nmetadata: {name: p}\nspec: {}\n")
    [duplicate] = [f for f in report.findings if f.rule.id == "duplicate-key"]
    assert duplicate.path == "kind" and duplicate.line == 2


def test_deep_nesting_and_aliases_do_not_crash():
    deep = "kind: Pod\nspec: " + "[" * 5000 + "]" * 5000 + "\n"
    report = lint_text(deep)
    assert report.unreadable or report.findings
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}]\n"
    bomb += "kind: Pod\nspec: {containers: *h}\n"
    report = lint_text(bomb)
    assert any(f.rule.id == "invalid-field" for f in report.findings)
