"""The Spark Operator's handling of pod settings, per release (see profiler/k8s/operator.py
for the source files and functions each behaviour is taken from)."""

from __future__ import annotations

from collections import Counter

import pytest

from profiler.errors import UsageError
from profiler.k8s.lint import lint_files
from profiler.k8s.operator import (
    DEFAULT_OPERATOR_VERSION,
    READ,
    RELEASES,
    Version,
    operator_for,
    role_view,
    spark_version_below_3,
)
from profiler.k8s.translate import security_from_manifest

from .conftest import K8S_FIXTURES

EXAMPLES = K8S_FIXTURES / "operator-examples"
POD = {"runAsNonRoot": True, "runAsUser": 185, "seccompProfile": {"type": "RuntimeDefault"}}
CTR = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def spec(driver=None, executor=None, spark_version="4.0.4"):
    return {"sparkVersion": spark_version, "driver": driver or {}, "executor": executor or {}}


def template(pod=None, ctr=None, name="spark-kubernetes-driver"):
    container = {"name": name}
    if ctr is not None:
        container["securityContext"] = ctr
    body = {"containers": [container]}
    if pod is not None:
        body["securityContext"] = pod
    return {"spec": body}


def test_default_is_the_newest_release_read():
    assert DEFAULT_OPERATOR_VERSION == RELEASES[-1] == max(READ, key=Version.parse)
    assert str(operator_for().version) == DEFAULT_OPERATOR_VERSION


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.1.0", Version(2, 1, 0)), ("v2.5", Version(2, 5)), ("2", Version(2))],
)
def test_versions(text, expected):
    assert operator_for(text).version == expected


@pytest.mark.parametrize(("text", "message"), [("x", "not a version"), ("1.1.27", "not modelled")])
def test_bad_operator_versions(text, message):
    with pytest.raises(UsageError, match=message):
        operator_for(text)


def test_a_newer_release_is_modelled_as_the_newest_with_a_note():
    assert operator_for("2.9.0").notes


@pytest.mark.parametrize(
    ("version", "below"),
    [("2.4.8", True), ("3.0.0", False), ("4.0.4", False), ("4.x", True), (None, True)],
)
def test_spark_version_comparison_is_the_operators(version, below):
    assert spark_version_below_3(version) is below


def test_with_a_template_the_crd_fields_still_replace_it_wholesale():
    # mutated-by-spark-operator is set only without a template, but nothing reads it.
    app = spec(driver={"template": template(POD, CTR), "podSecurityContext": {"runAsUser": 7}})
    view = role_view(app, "driver", ("spec",), operator_for())
    assert view.template_used
    assert view.pod.origin == "crd" and view.pod.value == {"runAsUser": 7}
    assert view.container.origin == "template"
    [replacement] = view.replacements
    assert replacement.level == "pod" and replacement.template_value == POD


def test_without_the_webhook_only_the_template_counts():
    app = spec(driver={"template": template(POD, CTR), "securityContext": {"runAsUser": 7}})
    view = role_view(app, "driver", ("spec",), operator_for(webhook=False))
    assert view.container.origin == "template" and view.container.value == CTR
    assert [i.path for i in view.ignored] == [("spec", "driver", "securityContext")]


def test_operator_2_0_has_no_template():
    app = spec(driver={"template": template(POD, CTR)})
    view = role_view(app, "driver", ("spec",), operator_for("2.0.2"))
    assert not view.template_used
    assert view.pod.origin == view.container.origin == "none"
    assert [i.path for i in view.ignored] == [("spec", "driver", "template")]


def test_a_template_with_spark_2_is_rejected():
    app = spec(driver={"template": template(POD, CTR)}, spark_version="2.4.8")
    view = role_view(app, "driver", ("spec",), operator_for("2.5.2"))
    assert not view.template_used
    assert "sparkVersion 3.0.0 or later" in view.ignored[0].message


def test_operator_2_0_applies_the_executor_context_only_with_the_drivers():
    app = spec(executor={"securityContext": CTR})
    old = role_view(app, "executor", ("spec",), operator_for("2.0.2"))
    assert old.container.origin == "none" and "fixed in 2.1.0" in old.ignored[0].message
    new = role_view(app, "executor", ("spec",), operator_for("2.1.0"))
    assert new.container.value == CTR and not new.ignored
    both = spec(driver={"securityContext": CTR}, executor={"securityContext": CTR})
    assert role_view(both, "executor", ("spec",), operator_for("2.0.2")).container.value == CTR


def test_before_2_3_executor_env_needs_driver_env():
    app = spec(executor={"env": [{"name": "A", "value": "1"}]})
    assert role_view(app, "executor", ("spec",), operator_for("2.2.1")).ignored
    assert not role_view(app, "executor", ("spec",), operator_for("2.3.0")).ignored


def test_security_from_manifest_reads_scheduled_applications():
    doc = {
        "kind": "ScheduledSparkApplication",
        "spec": {"template": spec(driver={"securityContext": CTR})},
    }
    roles = security_from_manifest(doc)
    assert roles["driver"].container.cap_drop == ("ALL",)


def rules(path, **kwargs):
    report = lint_files([path], operator=operator_for(**kwargs))
    return Counter(f.rule.id for f in report.findings)


def test_operator_python_example_lints_with_only_the_writable_root_warning():
    assert rules(EXAMPLES / "spark-pi-python.yaml") == {"writable-root-filesystem": 2}
    assert rules(EXAMPLES / "spark-pi-scheduled.yaml") == {"writable-root-filesystem": 2}
    assert rules(EXAMPLES / "spark-pi-emptydir.yaml") == {"writable-root-filesystem": 2}


def test_operator_python_example_without_the_webhook_loses_its_security():
    found = rules(EXAMPLES / "spark-pi-python.yaml", webhook=False)
    assert found["ignored-by-operator"] == 2
    assert found["seccomp-missing"] == 2 and found["allow-privilege-escalation"] == 2


def test_operator_pod_template_example_writes_container_fields_at_pod_level():
    found = rules(EXAMPLES / "spark-pi-pod-template.yaml")
    assert found == {
        "container-field-at-pod-level": 4,
        "allow-privilege-escalation": 2,
        "capabilities-not-dropped": 2,
        "writable-root-filesystem": 2,
    }
    old = rules(EXAMPLES / "spark-pi-pod-template.yaml", text="2.0.2")
    assert old["ignored-by-operator"] == 2 and old["seccomp-missing"] == 2
