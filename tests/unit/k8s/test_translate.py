import pytest
import yaml

from profiler.errors import UsageError
from profiler.k8s.translate import RoleSecurity, SeccompSetting, security_from_manifest

from .conftest import K8S_FIXTURES


def app(driver, executor=None, **spec):
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": {"name": "a"},
        "spec": {"sparkVersion": "3.5.7", "driver": driver, "executor": executor or {}, **spec},
    }


TEMPLATE = {
    "spec": {
        "securityContext": {
            "runAsUser": 185,
            "runAsGroup": 185,
            "seccompProfile": {"type": "Localhost", "localhostProfile": "t/driver.json"},
        },
        "containers": [
            {"name": "sidecar", "securityContext": {"privileged": True}},
            {
                "name": "spark-kubernetes-driver",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
                    "readOnlyRootFilesystem": True,
                },
                "volumeMounts": [
                    {"name": "tmp", "mountPath": "/tmp"},
                    {"name": "conf", "mountPath": "/conf"},
                ],
            },
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "conf", "configMap": {"name": "c"}}],
    }
}


def test_template_only():
    roles = security_from_manifest(app({"template": TEMPLATE}))
    driver = roles["driver"]
    assert isinstance(driver, RoleSecurity)
    assert driver.seccomp == SeccompSetting("Localhost", "t/driver.json")
    c = driver.container
    assert (c.user, c.group) == (185, 185)
    assert c.cap_drop == ("ALL",) and c.cap_add == ("NET_BIND_SERVICE",)
    assert c.no_new_privileges and c.read_only_root
    assert not c.privileged  # the sidecar's privileged is not the Spark container's
    assert c.writable_paths == ("/tmp",)  # configMap mounts are not writable
    assert (driver.pod_context_source, driver.container_context_source) == ("template", "template")
    # The executor sets nothing: engine defaults, seccomp unset.
    executor = roles["executor"]
    assert executor.seccomp == SeccompSetting()
    assert executor.container.user is None and not executor.container.no_new_privileges


def test_crd_fields_replace_the_template_wholesale():
    driver = {
        "template": TEMPLATE,
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {"runAsUser": 1000},
        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
    }
    roles = security_from_manifest(
        app(driver, volumes=[{"name": "scratch", "emptyDir": {"medium": "Memory"}}])
    )
    d = roles["driver"]
    assert d.seccomp == SeccompSetting("RuntimeDefault")
    # Nothing of the template's contexts survives: not runAsGroup, not the capabilities.
    assert d.container.user == 1000 and d.container.group is None
    assert d.container.cap_drop == () and not d.container.no_new_privileges
    assert not d.container.read_only_root
    # Mounts are added, not replaced.
    assert d.container.writable_paths == ("/tmp", "/scratch")
    assert (d.pod_context_source, d.container_context_source) == ("crd", "crd")


def test_container_seccomp_wins_over_pod_seccomp():
    driver = {
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {
            "seccompProfile": {"type": "Localhost", "localhostProfile": "x/y.json"}
        },
    }
    assert security_from_manifest(app(driver))["driver"].seccomp == SeccompSetting(
        "Localhost", "x/y.json"
    )


def test_the_operator_names_the_template_container_not_spark_conf():
    # submission.go driverPodTemplateOption sets podTemplateContainerName after sparkConf.
    template = {
        "spec": {
            "containers": [
                {"name": "first", "securityContext": {"runAsUser": 1}},
                {"name": "mine", "securityContext": {"runAsUser": 2}},
                {"name": "spark-kubernetes-driver", "securityContext": {"runAsUser": 3}},
            ]
        }
    }
    conf = {"spark.kubernetes.driver.podTemplateContainerName": "mine"}
    roles = security_from_manifest(app({"template": template}, sparkConf=conf))
    assert roles["driver"].container.user == 3
    del template["spec"]["containers"][2]
    roles = security_from_manifest(app({"template": template}, sparkConf=conf))
    assert roles["driver"].container.user == 1  # Spark's fallback: the first container


def test_misplaced_pod_level_field_is_ignored_as_kubernetes_does():
    doc = yaml.safe_load((K8S_FIXTURES / "container-field-at-pod-level.yaml").read_text())
    driver = security_from_manifest(doc)["driver"]
    assert not driver.container.no_new_privileges
    assert driver.container.cap_drop == ()


@pytest.mark.parametrize("doc", [{"kind": "Pod"}, [], None])
def test_not_a_sparkapplication(doc):
    with pytest.raises(UsageError):
        security_from_manifest(doc)
