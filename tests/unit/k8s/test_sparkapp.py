from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from profiler.errors import UsageError
from profiler.k8s import paths
from profiler.k8s.lint import lint_text
from profiler.k8s.manifests import render
from profiler.k8s.operator import operator_for
from profiler.k8s.sparkapp import (
    Seccomp,
    SparkAppSpec,
    Style,
    build_sparkapp,
    check_spec,
    default_image,
)
from profiler.k8s.translate import security_from_manifest
from profiler.runtime.interface import SPARK_UID

from .schema import check_sparkapp, validate_core

DRIVER = paths.localhost_profile("driver.json")
EXECUTOR = paths.localhost_profile("executor.json")


def spec(**overrides):
    values = dict(
        name="job",
        image="spark-seccomp/spark:3.5.7",
        main_application_file="local:///opt/app/job.py",
        spark_version="3.5.7",
        namespace="spark-jobs",
        driver_profile=DRIVER,
        executor_profile=EXECUTOR,
    )
    values.update(overrides)
    return SparkAppSpec(**values)


VARIANTS = [
    pytest.param(dict(style=Style.TEMPLATE), id="template-localhost"),
    pytest.param(dict(style=Style.FIELDS), id="fields-localhost"),
    pytest.param(
        dict(
            style=Style.TEMPLATE,
            seccomp=Seccomp.RUNTIME_DEFAULT,
            driver_profile=None,
            executor_profile=None,
        ),
        id="template-runtime-default",
    ),
    pytest.param(
        dict(
            style=Style.FIELDS,
            seccomp=Seccomp.RUNTIME_DEFAULT,
            driver_profile=None,
            executor_profile=None,
        ),
        id="fields-runtime-default",
    ),
]


@pytest.mark.parametrize("overrides", VARIANTS)
def test_output_validates_against_the_schemas(overrides):
    doc = build_sparkapp(spec(**overrides))
    check_sparkapp(doc)


@pytest.mark.parametrize("overrides", VARIANTS)
def test_output_lints_clean(overrides, profiles):
    text = render([build_sparkapp(spec(**overrides))])
    report = lint_text(text, "app.yaml", profiles["driver"].parent)
    assert report.findings == ()
    assert report.suppressed == ()


@pytest.mark.parametrize("overrides", VARIANTS)
def test_output_is_deterministic_and_round_trips(overrides):
    first = render([build_sparkapp(spec(**overrides))])
    assert first == render([build_sparkapp(spec(**overrides))])
    assert yaml.safe_load(first) == build_sparkapp(spec(**overrides))


@pytest.mark.parametrize("style", list(Style))
def test_pods_are_restricted_and_use_the_right_profile(style):
    roles = security_from_manifest(build_sparkapp(spec(style=style)))
    for role, profile in (("driver", DRIVER), ("executor", EXECUTOR)):
        security = roles[role]
        assert security.seccomp.type == "Localhost"
        assert security.seccomp.localhost_profile == profile
        c = security.container
        assert (c.user, c.group) == (SPARK_UID, SPARK_UID)
        assert c.cap_drop == ("ALL",) and c.cap_add == ()
        assert c.no_new_privileges and c.read_only_root and not c.privileged
        assert set(c.writable_paths) == {
            "/tmp",
            "/home/spark",
            "/opt/spark/work",
            "/opt/spark/work-dir",
            "/var/data/spark-local-dir-1",
        }


def test_template_style_uses_only_templates_and_fields_style_only_fields():
    template = build_sparkapp(spec(style=Style.TEMPLATE))["spec"]
    fields = build_sparkapp(spec(style=Style.FIELDS))["spec"]
    for role in ("driver", "executor"):
        assert "template" in template[role]
        assert not {"podSecurityContext", "securityContext"} & set(template[role])
        assert "template" not in fields[role]
        assert {"podSecurityContext", "securityContext", "volumeMounts"} <= set(fields[role])
    assert "volumes" not in template and "volumes" in fields


def test_spark_container_keeps_sparks_default_name():
    # The operator's webhook finds the Spark container by these names.
    app = build_sparkapp(spec())["spec"]
    assert app["driver"]["template"]["spec"]["containers"][0]["name"] == "spark-kubernetes-driver"
    assert (
        app["executor"]["template"]["spec"]["containers"][0]["name"] == "spark-kubernetes-executor"
    )


@pytest.mark.parametrize("style", [Style.TEMPLATE, Style.FIELDS])
def test_the_roles_profile_is_on_the_spark_container_and_the_pod_is_runtime_default(style):
    # The kubelet gives the pod-level profile to the sandbox's pause too, which a Spark
    # profile would leave spinning on a refused pause(2).
    app = build_sparkapp(spec(style=style))["spec"]
    for role, profile in (("driver", DRIVER), ("executor", EXECUTOR)):
        if style is Style.TEMPLATE:
            pod_spec = app[role]["template"]["spec"]
            pod, container = (
                pod_spec["securityContext"],
                pod_spec["containers"][0]["securityContext"],
            )
        else:
            pod, container = app[role]["podSecurityContext"], app[role]["securityContext"]
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["seccompProfile"] == {"type": "Localhost", "localhostProfile": profile}


def test_runtime_default_has_no_localhost_profile():
    app = build_sparkapp(spec(seccomp=Seccomp.RUNTIME_DEFAULT, driver_profile=None))
    pod = app["spec"]["driver"]["template"]["spec"]["securityContext"]
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}


def test_localhost_without_profile_is_a_usage_error():
    with pytest.raises(UsageError, match="no seccomp profile for the executor"):
        build_sparkapp(spec(executor_profile=None))


def test_schema_check_catches_a_broken_template():
    doc = build_sparkapp(spec())
    doc["spec"]["driver"]["template"]["spec"]["securityContext"]["runAsUser"] = "185"
    with pytest.raises(kubernetes_validate.ValidationError):
        check_sparkapp(doc)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_core(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "bogus": 1}]},
            }
        )


def test_schema_check_catches_an_unknown_crd_field():
    doc = build_sparkapp(spec())
    doc["spec"]["driver"]["allowPrivilegeEscalation"] = False
    with pytest.raises(AssertionError):
        check_sparkapp(doc)


def test_rendered_yaml_starts_each_document(tmp_path: Path):
    text = render([build_sparkapp(spec()), build_sparkapp(spec(name="other"))])
    assert text.startswith("---\n") and text.count("\n---\n") == 1
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(text)] == ["job", "other"]


@pytest.mark.parametrize("version", ["4.0.1", "4.1.0", "3.5.7"])
def test_spark_versions_and_their_images(version):
    doc = build_sparkapp(spec(spark_version=version, image=default_image(version)))
    check_sparkapp(doc)
    assert doc["spec"]["sparkVersion"] == version
    assert doc["spec"]["image"] == f"spark-seccomp/spark:{version}"


@pytest.mark.parametrize(
    ("operator", "spark", "style"),
    [
        ("2.5.2", "4.0.1", Style.TEMPLATE),
        ("2.1.0", "3.5.7", Style.TEMPLATE),
        ("2.0.2", "3.5.7", Style.FIELDS),  # no template field before 2.1.0
        ("2.5.2", "2.4.8", Style.FIELDS),  # no pod templates before Spark 3
    ],
)
def test_default_style_follows_operator_and_spark(operator, spark, style):
    doc = build_sparkapp(spec(spark_version=spark, operator=operator_for(operator)))
    driver = doc["spec"]["driver"]
    assert ("template" in driver) is (style is Style.TEMPLATE)
    check_sparkapp(doc)
    # Built as the operator will read it: the security settings take effect.
    security = security_from_manifest(doc, operator_for(operator))
    assert security["executor"].seccomp.type == "Localhost"
    assert security["executor"].container.cap_drop == ("ALL",)
    assert lint_text(render([doc]), "app.yaml", operator=operator_for(operator)).findings == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (dict(style=Style.TEMPLATE, operator=operator_for("2.0.2")), "no pod template field"),
        (dict(style=Style.TEMPLATE, spark_version="2.4.8"), "no pod templates"),
        (dict(style=Style.FIELDS, operator=operator_for(webhook=False)), "needs the operator's"),
        (dict(name="Bad Name!"), "--name 'Bad Name!' is not a valid name"),
        (dict(name="9lives"), "DNS-1035"),
        (dict(namespace="Spark Jobs"), "not a valid namespace"),
        (dict(executor_instances=99999999999999999999), "--executors 99999999999999999999"),
        (dict(executor_instances=0), "out of range"),
        (dict(spark_version="4.x"), "not a Spark version"),
        (dict(spark_version="4.0"), "not a Spark version"),
        (dict(image=""), "not an image reference"),
        (dict(main_application_file=" "), "--main"),
        (dict(service_account="Spark SA"), "--service-account"),
    ],
)
def test_bad_input_is_refused_before_anything_is_built(overrides, message):
    with pytest.raises(UsageError, match=message):
        build_sparkapp(spec(**overrides))


def test_a_mismatched_image_tag_is_a_warning():
    notes = check_spec(spec(image="spark-seccomp/spark:3.5.7", spark_version="4.0.1"))
    assert any(n.startswith("warning:") and "tagged 3.5.7" in n for n in notes)
