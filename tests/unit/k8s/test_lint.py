import json
from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.k8s.formats import summary, to_json, to_text
from profiler.k8s.lint import lint_files, lint_text
from profiler.k8s.operator import operator_for
from profiler.k8s.rules import RULES, RULES_BY_ID, Severity, parse_rule_ids
from profiler.k8s.sarif import to_sarif

from .conftest import K8S_FIXTURES

# Each fixture breaks one rule; a few cannot help breaking a second one as well.
EXPECTED = {
    "allow-privilege-escalation.yaml": {"allow-privilege-escalation"},
    "capabilities-added.yaml": {"capabilities-added"},
    "capabilities-not-dropped.yaml": {"capabilities-not-dropped"},
    # The fields meant for the container are missing there too.
    "container-field-at-pod-level.yaml": {
        "container-field-at-pod-level",
        "allow-privilege-escalation",
        "capabilities-not-dropped",
    },
    "container-without-security-context.yaml": {"container-without-security-context"},
    "host-namespaces.yaml": {"host-namespaces"},
    "host-namespaces-sparkapp.yaml": {"host-namespaces"},
    "host-path-volume.yaml": {"host-path-volume"},
    "host-ports.yaml": {"host-ports"},
    "pod-field-at-container-level.yaml": {"pod-field-at-container-level"},
    "privileged.yaml": {"privileged"},
    "run-as-non-root-missing.yaml": {"run-as-non-root-missing"},
    "run-as-non-root-without-uid.yaml": {"run-as-non-root-without-uid"},
    "run-as-root.yaml": {"run-as-root"},
    "seccomp-localhost-no-profile.yaml": {"seccomp-localhost-no-profile"},
    "seccomp-localhost-path.yaml": {"seccomp-localhost-path"},
    "seccomp-localhost-at-pod-level.yaml": {"seccomp-localhost-at-pod-level"},
    "seccomp-missing.yaml": {"seccomp-missing"},
    "seccomp-profile-not-found.yaml": {"seccomp-profile-not-found"},
    "seccomp-unconfined.yaml": {"seccomp-unconfined"},
    "seccomp-unknown-type.yaml": {"seccomp-unknown-type"},
    "crd-security-with-template.yaml": {"crd-security-with-template"},
    "ignored-by-operator.yaml": {"ignored-by-operator"},
    "invalid-field.yaml": {"invalid-field"},
    "duplicate-key.yaml": {"duplicate-key"},
    "invalid-yaml.yaml": {"invalid-yaml"},
    "volume-type-not-allowed.yaml": {"volume-type-not-allowed"},
    "writable-root-filesystem.yaml": {"writable-root-filesystem"},
    # Shaped like the operator's own spark-connect example: container-only fields at pod
    # level in both templates, so the Spark containers lack them.
    "spark-connect-pod-level-fields.yaml": {
        "container-field-at-pod-level",
        "allow-privilege-escalation",
        "capabilities-not-dropped",
        "writable-root-filesystem",
    },
    "clean.yaml": set(),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_breaks_its_rule(name, profiles):
    report = lint_files([K8S_FIXTURES / name], profiles["driver"].parent)
    assert {f.rule.id for f in report.findings} == EXPECTED[name]


def test_every_rule_has_a_fixture():
    covered = set().union(*EXPECTED.values())
    assert covered == set(RULES_BY_ID)
    assert sorted(p.name for p in K8S_FIXTURES.glob("*.yaml")) == sorted(EXPECTED)


def test_every_finding_has_a_path_a_line_and_a_fix(profiles):
    report = lint_files(sorted(K8S_FIXTURES.glob("*.yaml")), profiles["driver"].parent)
    assert report.findings
    for f in report.findings:
        assert f.line and f.line > 1
        assert f.path.startswith("spec.") or f.rule.id == "invalid-yaml"
        assert f.fix and f.message
        assert f.severity in Severity


def test_pod_level_allow_privilege_escalation_says_where_it_belongs():
    report = lint_files([K8S_FIXTURES / "container-field-at-pod-level.yaml"])
    [finding] = [
        f
        for f in report.findings
        if f.rule.id == "container-field-at-pod-level"
        and f.path.endswith("allowPrivilegeEscalation")
    ]
    assert finding.path == "spec.driver.template.spec.securityContext.allowPrivilegeEscalation"
    assert finding.line == 21
    assert "silently ignored" in finding.message
    assert finding.fix == (
        "move allowPrivilegeEscalation to "
        "spec.driver.template.spec.containers[0].securityContext.allowPrivilegeEscalation"
    )


def test_crd_pod_security_context_field_belongs_in_crd_security_context():
    text = """
kind: SparkApplication
metadata: {name: a}
spec:
  driver:
    podSecurityContext: {readOnlyRootFilesystem: true}
  executor: {}
"""
    findings = lint_text(text).findings
    [f] = [f for f in findings if f.rule.id == "container-field-at-pod-level"]
    assert f.path == "spec.driver.podSecurityContext.readOnlyRootFilesystem"
    assert "spec.driver.securityContext.readOnlyRootFilesystem" in f.fix


def test_seccomp_missing_names_the_uncovered_containers():
    [f] = [
        f
        for f in lint_files([K8S_FIXTURES / "seccomp-missing.yaml"]).findings
        if f.rule.id == "seccomp-missing"
    ]
    assert f.path == "spec.securityContext.seccompProfile"
    assert "container 'app'" in f.message


def test_both_bad_localhost_paths_are_found():
    report = lint_files([K8S_FIXTURES / "seccomp-localhost-path.yaml"])
    messages = sorted(f.message for f in report.findings)
    assert "is absolute" in messages[0] or "is absolute" in messages[1]
    assert any("'..'" in m for m in messages)


def test_profiles_dir_may_mirror_the_kubelet_seccomp_root(tmp_path: Path):
    (tmp_path / "spark-seccomp").mkdir()
    for role in ("driver", "executor"):
        (tmp_path / "spark-seccomp" / f"{role}.json").write_text("{}")
    report = lint_files([K8S_FIXTURES / "clean.yaml"], tmp_path)
    assert report.findings == ()
    report = lint_files([K8S_FIXTURES / "seccomp-profile-not-found.yaml"], tmp_path)
    assert [f.rule.id for f in report.findings] == ["seccomp-profile-not-found"]


def test_multi_document_and_list_files_count_every_resource():
    report = lint_files([K8S_FIXTURES / "clean.yaml"])
    assert report.documents == 4


def test_other_kinds_are_skipped_not_failed():
    report = lint_text("kind: ConfigMap\nmetadata: {name: c}\n---\n---\nkind: Service\n")
    assert report.findings == () and report.skipped == ("ConfigMap", "Service")
    assert "not linted (ConfigMap, Service)" in summary(report)


def test_annotation_suppresses_named_rules_only():
    text = (
        (K8S_FIXTURES / "privileged.yaml")
        .read_text()
        .replace(
            "  name: privileged\n",
            "  name: privileged\n  annotations:\n    spark-seccomp.io/lint-ignore: privileged\n",
        )
    )
    report = lint_text(text)
    assert report.findings == ()
    assert [f.rule.id for f in report.suppressed] == ["privileged"]


@pytest.mark.parametrize(
    ("text", "line"),
    [("kind: Pod\nspec: {a: [\n", 3), ("a: b\n  c: d\n", 2), ("key: value\n- item\n", 2)],
)
def test_bad_yaml_is_a_finding_and_unreadable(text, line):
    report = lint_text(text, "bad.yaml")
    [finding] = report.findings
    assert finding.rule.id == "invalid-yaml" and finding.line == line
    assert finding.message.startswith(f"invalid YAML at line {line}")
    [unreadable] = report.unreadable
    assert unreadable.describe().startswith(f"bad.yaml: invalid YAML at line {line}")


def test_documents_before_broken_yaml_are_linted():
    report = lint_files([K8S_FIXTURES / "invalid-yaml.yaml"])
    assert report.documents == 1
    assert [f.resource for f in report.findings] == ["document 2"]


def test_missing_file_is_unreadable_and_the_others_are_linted(tmp_path: Path):
    report = lint_files([tmp_path / "nope.yaml", K8S_FIXTURES / "privileged.yaml"])
    assert [u.describe() for u in report.unreadable] == [
        f"{tmp_path / 'nope.yaml'}: does not exist"
    ]
    assert [f.rule.id for f in report.findings] == ["privileged"]
    with pytest.raises(UsageError, match="profiles directory"):
        lint_files([K8S_FIXTURES / "clean.yaml"], tmp_path / "nope")


def test_text_and_json_output():
    report = lint_files([K8S_FIXTURES / "privileged.yaml"])
    text = to_text(report)
    assert text.splitlines()[0] == (
        f"{K8S_FIXTURES / 'privileged.yaml'}:20: error [privileged] Pod/privileged "
        "spec.containers[0].securityContext.privileged"
    )
    assert "    fix: remove privileged: true" in text
    data = json.loads(to_json(report))
    assert data["summary"]["error"] == 1
    assert data["findings"][0]["rule"] == "privileged"
    assert to_json(report) == to_json(lint_files([K8S_FIXTURES / "privileged.yaml"]))


def test_sarif_output():
    report = lint_files(
        [K8S_FIXTURES / "privileged.yaml", K8S_FIXTURES / "crd-security-with-template.yaml"]
    )
    log = json.loads(to_sarif(report))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    levels = {r["defaultConfiguration"]["level"] for r in rules}
    assert levels <= {"error", "warning", "note"}
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "warning"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        [location] = result["locations"]
        assert location["physicalLocation"]["region"]["startLine"] >= 1
        assert location["physicalLocation"]["artifactLocation"]["uri"].endswith(".yaml")
        assert ":spec." in location["logicalLocations"][0]["fullyQualifiedName"]
        assert "Fix:" in result["message"]["text"]


def test_at_or_above():
    report = lint_files([K8S_FIXTURES / "writable-root-filesystem.yaml"])
    assert report.at_or_above(Severity.ERROR) == []
    assert len(report.at_or_above(Severity.WARNING)) == 1


def test_spark_connect_findings_name_the_server_and_executor_pods():
    report = lint_files([K8S_FIXTURES / "spark-connect-pod-level-fields.yaml"])
    moved = [f for f in report.findings if f.rule.id == "container-field-at-pod-level"]
    assert [(f.path, f.line) for f in moved] == [
        ("spec.server.template.spec.securityContext.allowPrivilegeEscalation", 31),
        ("spec.server.template.spec.securityContext.capabilities", 32),
        ("spec.executor.template.spec.securityContext.allowPrivilegeEscalation", 49),
        ("spec.executor.template.spec.securityContext.capabilities", 50),
    ]
    assert moved[0].fix == (
        "move allowPrivilegeEscalation to "
        "spec.server.template.spec.containers[0].securityContext.allowPrivilegeEscalation"
    )
    escalation = [f for f in report.findings if f.rule.id == "allow-privilege-escalation"]
    assert [f.message for f in escalation] == [
        "Spark Connect server container 'spark-kubernetes-driver' of the Spark Connect "
        "server pod does not set allowPrivilegeEscalation: false",
        "Spark Connect executor container 'spark-kubernetes-executor' of the Spark Connect "
        "executor pod does not set allowPrivilegeEscalation: false",
    ]
    assert report.skipped == ()


def test_spark_connect_without_templates_gets_the_operators_bare_container():
    text = """
apiVersion: sparkoperator.k8s.io/v1alpha1
kind: SparkConnect
metadata: {name: bare}
spec:
  sparkVersion: 4.0.1
  image: spark:4.0.1
  server: {}
  executor: {instances: 1}
"""
    report = lint_text(text, "bare.yaml")
    by_rule = {}
    for f in report.findings:
        by_rule.setdefault(f.rule.id, []).append(f.path)
    assert by_rule["seccomp-missing"] == [
        "spec.server.template.spec.securityContext.seccompProfile",
        "spec.executor.template.spec.securityContext.seccompProfile",
    ]
    assert by_rule["allow-privilege-escalation"] == [
        "spec.server.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.executor.template.spec.containers[0].securityContext.allowPrivilegeEscalation",
    ]
    assert "container-without-security-context" not in by_rule


def test_spark_connect_takes_the_container_named_for_its_role():
    text = """
apiVersion: sparkoperator.k8s.io/v1alpha1
kind: SparkConnect
metadata: {name: sidecar-first}
spec:
  sparkVersion: 4.0.1
  server:
    template:
      spec:
        securityContext:
          runAsNonRoot: true
          runAsUser: 185
          seccompProfile: {type: RuntimeDefault}
        containers:
        - name: log-shipper
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
            readOnlyRootFilesystem: true
        - name: spark-kubernetes-driver
  executor: {}
"""
    report = lint_text(text, "sidecar.yaml")
    server = [f for f in report.findings if ".server." in f.path]
    assert {f.path for f in server} == {
        "spec.server.template.spec.containers[1].securityContext.allowPrivilegeEscalation",
        "spec.server.template.spec.containers[1].securityContext.capabilities.drop",
        "spec.server.template.spec.containers[1].securityContext.readOnlyRootFilesystem",
    }


def test_spark_connect_before_operator_2_3_has_no_crd():
    fixture = K8S_FIXTURES / "clean.yaml"
    report = lint_files([fixture], operator=operator_for("2.2.0"))
    assert [(f.rule.id, f.resource, f.path) for f in report.findings] == [
        ("ignored-by-operator", "SparkConnect/good-connect", "kind")
    ]
    assert lint_files([fixture], operator=operator_for("2.3.0")).findings == ()


def test_spark_connect_fields_of_the_wrong_type_are_findings():
    text = """
apiVersion: sparkoperator.k8s.io/v1alpha1
kind: SparkConnect
metadata: {name: typed}
spec:
  sparkVersion: four
  server: {cores: 0}
  executor: {instances: -1}
"""
    invalid = [f for f in lint_text(text).findings if f.rule.id == "invalid-field"]
    assert {f.path for f in invalid} == {
        "spec.sparkVersion",
        "spec.server.cores",
        "spec.executor.instances",
    }


def test_disabled_rules_are_left_out_and_named_in_the_summary():
    fixture = K8S_FIXTURES / "spark-connect-pod-level-fields.yaml"
    report = lint_files(
        [fixture], disabled=frozenset({"writable-root-filesystem", "capabilities-not-dropped"})
    )
    assert {f.rule.id for f in report.findings} == {
        "container-field-at-pod-level",
        "allow-privilege-escalation",
    }
    assert summary(report) == (
        "6 finding(s) (6 error) in 1 document(s); rules off for this run: "
        "capabilities-not-dropped, writable-root-filesystem"
    )
    assert json.loads(to_json(report))["summary"]["disabled"] == [
        "capabilities-not-dropped",
        "writable-root-filesystem",
    ]


def test_parse_rule_ids_takes_commas_and_repeats_and_rejects_unknown_ids():
    assert parse_rule_ids(["privileged, host-ports", "run-as-root"]) == {
        "privileged",
        "host-ports",
        "run-as-root",
    }
    with pytest.raises(UsageError) as info:
        parse_rule_ids(["privileged,no-such-rule"])
    assert info.value.message == "unknown lint rule 'no-such-rule'"
    assert "invalid-yaml, duplicate-key" in info.value.diagnostics()
