"""`k8s harden`'s pure half: the user's manifest edited into its hardened twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from profiler.errors import UsageError
from profiler.k8s.harden import (
    HardenOptions,
    harden_text,
    install_manifests,
    localhost_profiles,
    seccomp_tree,
)
from profiler.k8s.lint import lint_text
from profiler.k8s.operator import operator_for
from profiler.k8s.sparkapp import Seccomp, Style
from profiler.k8s.translate import security_from_manifest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "k8s"
EXAMPLES = FIXTURES / "operator-examples"
OPERATOR_FIXTURES = sorted(EXAMPLES.glob("*.yaml")) + [FIXTURES / "plan" / "two-apps.yaml"]
WRITABLE = {"/tmp", "/home/spark", "/opt/spark/work", "/opt/spark/work-dir"}

COMMENTED = """\
# The nightly ETL job.
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: etl   # owned by the data team
  namespace: jobs
spec:
  type: Java
  mode: cluster
  image: "spark-seccomp/spark:3.5.9"
  mainClass: com.example.Etl
  mainApplicationFile: local:///opt/app/etl.jar
  arguments: ["--day", '2024-01-01']
  sparkVersion: 3.5.9
  sparkConf:
    spark.sql.shuffle.partitions: "8"
  driver:
    cores: 1
    memory: 512m
  executor:
    instances: 2
    memory: 512m
"""


def _harden(text: str, **options: object) -> list:
    return list(harden_text(text, "app.yaml", HardenOptions(**options)))  # type: ignore[arg-type]


def test_every_users_field_comment_and_quote_survives_and_only_settings_are_added() -> None:
    (app,) = _harden(COMMENTED)
    assert app.original == COMMENTED  # the round trip alone changes nothing
    diff = app.diff()
    removed = [line for line in diff.splitlines() if line.startswith("-") and line[:3] != "---"]
    assert removed == []  # nothing of the user's is taken away here
    for kept in (
        "# The nightly ETL job.",
        "# owned by the data team",
        '"spark-seccomp/spark:3.5.9"',
        "'2024-01-01'",
        'spark.sql.shuffle.partitions: "8"',
    ):
        assert kept in app.text
    assert app.label == "jobs/etl" and app.style is Style.TEMPLATE
    assert app.profiles == {
        "driver": "spark-seccomp/etl-driver.json",
        "executor": "spark-seccomp/etl-executor.json",
    }


@pytest.mark.parametrize("source", OPERATOR_FIXTURES, ids=lambda p: p.name)
def test_each_roles_pods_get_the_recommended_settings_and_lint_clean(source: Path) -> None:
    for app in harden_text(source.read_text(), str(source), HardenOptions()):
        report = lint_text(app.text, app.name)
        assert not report.findings, [f.rule.id for f in report.findings]
        security = security_from_manifest(yaml.safe_load(app.text))
        for role, settings in security.items():
            assert settings.seccomp.type == "Localhost"
            assert settings.seccomp.localhost_profile == app.profiles[role]
            c = settings.container
            assert (c.user, c.group) == (185, 185)
            assert c.no_new_privileges and c.read_only_root and c.cap_drop == ("ALL",)
            assert set(c.writable_paths) >= WRITABLE
            # the template carries it, not the CRD fields the webhook would apply instead
            assert (settings.pod_context_source, settings.container_context_source) == (
                "template",
                "template",
            )


@pytest.mark.parametrize("operator", ["2.0.2", None], ids=["crd-fields", "template"])
def test_the_roles_profile_goes_on_the_spark_container_and_the_pod_gets_runtime_default(
    operator: str | None,
) -> None:
    """The kubelet gives a pod-level profile to the sandbox's pause too: a Localhost one
    recorded from Spark refuses pause(2), and Kubernetes' pause then spins on a CPU."""
    options = {} if operator is None else {"operator": operator_for(operator)}
    (app,) = _harden((EXAMPLES / "spark-pi.yaml").read_text(), **options)
    spec = yaml.safe_load(app.text)["spec"]
    for role in ("driver", "executor"):
        if operator is None:
            pod_spec = spec[role]["template"]["spec"]
            pod, container = (
                pod_spec["securityContext"],
                pod_spec["containers"][0]["securityContext"],
            )
        else:
            pod, container = spec[role]["podSecurityContext"], spec[role]["securityContext"]
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["seccompProfile"] == {
            "type": "Localhost",
            "localhostProfile": app.profiles[role],
        }


@pytest.mark.parametrize("source", OPERATOR_FIXTURES, ids=lambda p: p.name)
def test_hardening_twice_changes_nothing_more_and_gives_the_same_bytes(source: Path) -> None:
    first = harden_text(source.read_text(), str(source), HardenOptions())
    again = harden_text(source.read_text(), str(source), HardenOptions())
    assert [a.text for a in first] == [a.text for a in again]
    for app in first:
        (twice,) = harden_text(app.text, "hardened.yaml", HardenOptions())
        assert twice.text == app.text and twice.diff() == ""


def test_the_crd_security_fields_move_into_the_template_instead_of_replacing_it() -> None:
    (app,) = _harden((EXAMPLES / "spark-pi.yaml").read_text())
    spec = yaml.safe_load(app.text)["spec"]
    for role in ("driver", "executor"):
        assert "securityContext" not in spec[role] and "podSecurityContext" not in spec[role]
        container = spec[role]["template"]["spec"]["containers"][0]
        assert container["name"] == f"spark-kubernetes-{role}"
        # what the user had is kept, hardened
        assert container["securityContext"]["runAsGroup"] == 185
    assert any("moved into spec.driver.template" in n for n in app.notes)


def test_an_older_operator_gets_the_crd_fields_and_spark_volumes() -> None:
    old = operator_for("2.0.2")
    (app,) = _harden((EXAMPLES / "spark-pi.yaml").read_text(), operator=old)
    assert app.style is Style.FIELDS
    data = yaml.safe_load(app.text)
    assert "template" not in data["spec"]["driver"]
    assert not lint_text(app.text, app.name, operator=old).findings
    for role, settings in security_from_manifest(data, old).items():
        assert settings.seccomp.localhost_profile == app.profiles[role]
        assert set(settings.container.writable_paths) >= WRITABLE
    # one emptyDir per path in spec.volumes, shared by both roles
    names = [v["name"] for v in data["spec"]["volumes"]]
    assert len(names) == len(set(names)) == 4


def test_runtime_default_needs_no_node_profiles() -> None:
    (app,) = _harden(COMMENTED, seccomp=Seccomp.RUNTIME_DEFAULT)
    assert app.profiles == {}
    for settings in security_from_manifest(yaml.safe_load(app.text)).values():
        assert settings.seccomp.type == "RuntimeDefault"
    assert seccomp_tree(app, {}) == {}


def test_root_users_added_capabilities_and_privileged_are_taken_away_with_notes() -> None:
    text = COMMENTED.replace(
        "  driver:\n    cores: 1\n",
        "  driver:\n    cores: 1\n    template:\n      spec:\n        securityContext:\n"
        "          runAsUser: 0\n          allowPrivilegeEscalation: true\n"
        "        containers:\n        - name: spark-kubernetes-driver\n"
        "          securityContext:\n            privileged: true\n"
        "            capabilities:\n              add: [NET_ADMIN, NET_BIND_SERVICE]\n"
        "        - name: logs\n          image: busybox\n",
    )
    (app,) = _harden(text)
    template = yaml.safe_load(app.text)["spec"]["driver"]["template"]["spec"]
    assert template["securityContext"]["runAsUser"] == 185
    assert "allowPrivilegeEscalation" not in template["securityContext"]
    spark, sidecar = template["containers"]
    assert spark["securityContext"]["privileged"] is False
    assert spark["securityContext"]["allowPrivilegeEscalation"] is False
    assert spark["securityContext"]["capabilities"] == {
        "add": ["NET_BIND_SERVICE"],
        "drop": ["ALL"],
    }
    # the sidecar was not recorded: RuntimeDefault for it, at container level
    assert sidecar["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    # only the sidecar's writable root is left to its owner (a warning, not a PSS rule)
    findings = lint_text(app.text, app.name).findings
    assert [f.rule.id for f in findings] == ["writable-root-filesystem"]
    assert "containers[1]" in findings[0].path
    joined = "\n".join(app.notes)
    assert "NET_ADMIN removed" in joined and "privileged" in joined and "(logs)" in joined


def test_volumes_already_mounted_at_a_path_or_named_alike_are_respected() -> None:
    text = COMMENTED.replace(
        "  executor:\n",
        "  executor:\n    template:\n      spec:\n        containers:\n"
        "        - name: spark-kubernetes-executor\n          volumeMounts:\n"
        "          - {name: scratch, mountPath: /tmp}\n"
        "        volumes:\n        - {name: scratch, emptyDir: {medium: Memory}}\n"
        "        - {name: home-spark, configMap: {name: settings}}\n",
    )
    (app,) = _harden(text)
    spec = yaml.safe_load(app.text)["spec"]["executor"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["/tmp"] == "scratch"  # the user's own
    assert mounts["/home/spark"] == "spark-seccomp-home-spark"  # home-spark is taken
    assert len({v["name"] for v in spec["volumes"]}) == len(spec["volumes"])


def test_seccomp_tree_and_installer_match_the_localhost_paths() -> None:
    (app,) = _harden(COMMENTED)
    profiles = {"driver": '{"defaultAction": "SCMP_ACT_ERRNO"}', "executor": "{}"}
    tree = seccomp_tree(app, profiles)
    assert tree == {
        "spark-seccomp/etl-driver.json": profiles["driver"],
        "spark-seccomp/etl-executor.json": profiles["executor"],
    }
    real = json.dumps(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
        }
    )
    tree = {path: real for path in tree}
    manifests, _ = install_manifests(tree, HardenOptions())
    config_map = next(m for m in manifests if m["kind"] == "ConfigMap")
    assert sorted(config_map["data"]) == ["etl-driver.json", "etl-executor.json"]
    spo = HardenOptions(spo=True)
    (spo_app,) = _harden(COMMENTED, spo=True)
    assert spo_app.profiles["driver"] == "operator/etl-driver.json"
    resources, _ = install_manifests(
        seccomp_tree(spo_app, dict.fromkeys(("driver", "executor"), real)), spo
    )
    assert sorted(r["metadata"]["name"] for r in resources) == ["etl-driver", "etl-executor"]


def test_bad_input_is_a_usage_error_naming_the_file() -> None:
    with pytest.raises(UsageError, match="no SparkApplication"):
        _harden("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(UsageError, match="written twice"):
        _harden(COMMENTED + "kind: SparkApplication\n")
    with pytest.raises(UsageError, match="spec.driver.cores"):
        _harden(COMMENTED.replace("    cores: 1\n", "    cores: lots\n"))
    with pytest.raises(UsageError, match="--style template cannot work"):
        _harden(COMMENTED, style=Style.TEMPLATE, operator=operator_for("2.0.2"))


def test_the_profile_paths_follow_the_name_and_the_installer() -> None:
    assert localhost_profiles("etl", HardenOptions(profile_dir="team/spark")) == {
        "driver": "team/spark/etl-driver.json",
        "executor": "team/spark/etl-executor.json",
    }
