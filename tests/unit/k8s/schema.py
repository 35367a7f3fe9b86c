"""Checks of emitted manifests against Kubernetes' own schemas (kubernetes-validate) and,
for the SparkApplication itself, against the operator's v1beta2 CRD.

The CRD (kubeflow/spark-operator, charts/spark-operator-chart/crds/
sparkoperator.k8s.io_sparkapplications.yaml, and api/v1beta2/sparkapplication_types.go)
is 800 kB of YAML; rather than vendor it, the facts used here were checked by hand
against it: the required spec fields, the enums, and the driver/executor field names.
Every core type embedded in the CRD (PodSecurityContext, SecurityContext, Volume,
VolumeMount, Container, PodTemplateSpec) is checked with the Kubernetes schema itself.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate

K8S_VERSION = kubernetes_validate.latest_version()

SPARKAPP_REQUIRED = {"driver", "executor", "mainApplicationFile", "sparkVersion", "type"}
SPARKAPP_SPEC_FIELDS = SPARKAPP_REQUIRED | {
    "arguments",
    "batchScheduler",
    "batchSchedulerOptions",
    "deps",
    "driverIngressOptions",
    "dynamicAllocation",
    "failureRetries",
    "hadoopConf",
    "hadoopConfigMap",
    "image",
    "imagePullPolicy",
    "imagePullSecrets",
    "mainClass",
    "memoryOverheadFactor",
    "mode",
    "monitoring",
    "nodeSelector",
    "proxyUser",
    "pythonVersion",
    "restartPolicy",
    "retryInterval",
    "sparkConf",
    "sparkConfigMap",
    "sparkUIOptions",
    "timeToLiveSeconds",
    "volumes",
}
SPARK_POD_FIELDS = {
    "affinity",
    "annotations",
    "configMaps",
    "coreLimit",
    "cores",
    "dnsConfig",
    "env",
    "envFrom",
    "envSecretKeyRefs",
    "envVars",
    "gpu",
    "hostAliases",
    "hostNetwork",
    "image",
    "initContainers",
    "labels",
    "memory",
    "memoryOverhead",
    "nodeSelector",
    "podSecurityContext",
    "schedulerName",
    "secrets",
    "securityContext",
    "serviceAccount",
    "shareProcessNamespace",
    "sidecars",
    "template",
    "terminationGracePeriodSeconds",
    "tolerations",
    "volumeMounts",
}
DRIVER_FIELDS = SPARK_POD_FIELDS | {
    "coreRequest",
    "javaOptions",
    "kubernetesMaster",
    "lifecycle",
    "podName",
    "ports",
    "priorityClassName",
    "serviceAnnotations",
    "serviceLabels",
}
EXECUTOR_FIELDS = SPARK_POD_FIELDS | {
    "coreRequest",
    "deleteOnTermination",
    "instances",
    "javaOptions",
    "lifecycle",
    "ports",
    "priorityClassName",
}


def validate_core(doc: dict[str, Any]) -> None:
    """Raises kubernetes_validate.ValidationError when ``doc`` breaks the strict schema."""
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def validate_pod_template(template: dict[str, Any]) -> None:
    """A PodTemplateSpec, checked as the `template` of a core v1 PodTemplate."""
    validate_core(
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
    )


def check_sparkapp(doc: dict[str, Any]) -> None:
    """The SparkApplication's own shape (CRD facts) and every embedded core type."""
    assert doc["apiVersion"] == "sparkoperator.k8s.io/v1beta2"
    assert doc["kind"] == "SparkApplication"
    assert isinstance(doc["metadata"]["name"], str)
    spec = doc["spec"]
    assert set(spec) >= SPARKAPP_REQUIRED, SPARKAPP_REQUIRED - set(spec)
    assert set(spec) <= SPARKAPP_SPEC_FIELDS, set(spec) - SPARKAPP_SPEC_FIELDS
    assert spec["type"] in {"Java", "Python", "Scala", "R"}
    assert spec.get("mode", "cluster") in {"cluster", "client", "in-cluster-client"}
    assert spec.get("restartPolicy", {}).get("type", "Never") in {"Never", "Always", "OnFailure"}
    assert isinstance(spec["sparkVersion"], str)
    assert isinstance(spec["mainApplicationFile"], str)
    for role, allowed in (("driver", DRIVER_FIELDS), ("executor", EXECUTOR_FIELDS)):
        body = spec[role]
        assert set(body) <= allowed, set(body) - allowed
        assert isinstance(body.get("cores", 1), int) and body.get("cores", 1) >= 1
        assert isinstance(body.get("memory", ""), str)
        assert all(isinstance(v, str) for v in body.get("labels", {}).values())
        if role == "executor":
            assert body.get("instances", 1) >= 1
        if "template" in body:
            validate_pod_template(body["template"])
        # The CRD embeds core types: check them inside a Pod built from them.
        container = {"name": f"spark-{role}", "image": spec.get("image", "x")}
        if "securityContext" in body:
            container["securityContext"] = body["securityContext"]
        if "volumeMounts" in body:
            container["volumeMounts"] = body["volumeMounts"]
        pod_spec: dict[str, Any] = {"containers": [container]}
        if "podSecurityContext" in body:
            pod_spec["securityContext"] = body["podSecurityContext"]
        if "volumes" in spec:
            pod_spec["volumes"] = spec["volumes"]
        validate_core(
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec}
        )
