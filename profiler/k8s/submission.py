"""The Spark conf the operator hands spark-submit, in its order, later settings winning (as
spark-submit's ``--conf`` does).

The mapping is the operator's, from internal/controller/sparkapplication/submission.go
(``buildSparkSubmitArgs`` and the option functions it lists, at the modelled release).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from profiler.k8s.operator import (
    LABEL_APP_NAME,
    LABEL_LAUNCHED_BY,
    ROLES,
    SPARK_CONTAINER,
    Operator,
    RoleView,
    Version,
    role_view,
    spark_version_below_3,
)
from profiler.k8s.volumes import LOCAL_DIR_PREFIX

SPARK_VOLUME_TYPES = ("emptyDir", "hostPath", "persistentVolumeClaim", "nfs")


def spark_conf(
    manifest: dict[str, Any],
    spec: dict[str, Any],
    operator: Operator,
    views: Mapping[str, RoleView] | None = None,
) -> dict[str, str]:
    """The ``--conf`` settings spark-submit gets, later ones winning (submission.go,
    ``buildSparkSubmitArgs``: namespace, image, pythonVersion, memoryOverheadFactor,
    sparkConf, hadoopConf, pod templates, driver pod name, driverConfOption, driverEnv,
    driver volumes, executorConfOption, executorEnv, executor volumes, node selector,
    dynamic allocation). The operator's own pod template file paths and the submission id
    are left out: they name files and values that only exist in the operator's pod."""
    conf: dict[str, str] = {}
    meta = manifest.get("metadata") or {}
    name = str(meta.get("name"))
    namespace = meta.get("namespace") or "default"
    conf["spark.kubernetes.namespace"] = namespace
    if spec.get("image"):
        conf["spark.kubernetes.container.image"] = spec["image"]
    if spec.get("imagePullPolicy"):
        conf["spark.kubernetes.container.image.pullPolicy"] = spec["imagePullPolicy"]
    if spec.get("pythonVersion"):
        conf["spark.kubernetes.pyspark.pythonVersion"] = spec["pythonVersion"]
    if spec.get("memoryOverheadFactor"):
        conf["spark.kubernetes.memoryOverheadFactor"] = spec["memoryOverheadFactor"]
    conf["spark.kubernetes.submission.waitAppCompletion"] = "false"
    for key, value in (spec.get("sparkConf") or {}).items():
        if key != "spark.kubernetes.driver.pod.name":
            conf[key] = value
    for key, value in (spec.get("hadoopConf") or {}).items():
        conf[f"spark.hadoop.{key}"] = value
    models = views or {role: role_view(spec, role, ("spec",), operator) for role in ROLES}
    for role in ROLES:
        role_spec = spec.get(role) or {}
        if operator.has_template and (
            models[role].template_used or operator.version >= Version(2, 4)
        ):
            # driverPodTemplateOption / executorPodTemplateOption (always from 2.4.0).
            conf[f"spark.kubernetes.{role}.podTemplateContainerName"] = SPARK_CONTAINER[role]
        if role == "driver":
            pod_name = (
                role_spec.get("podName")
                or (spec.get("sparkConf") or {}).get("spark.kubernetes.driver.pod.name")
                or f"{name}-driver"
            )
            conf["spark.kubernetes.driver.pod.name"] = pod_name
        _role_conf(conf, manifest, spec, role, role_spec, operator)
    for key, value in (spec.get("nodeSelector") or {}).items():
        conf[f"spark.kubernetes.node.selector.{key}"] = value
    dynamic = spec.get("dynamicAllocation") or {}
    if dynamic.get("enabled"):
        conf["spark.dynamicAllocation.enabled"] = "true"
        for key in ("initialExecutors", "minExecutors", "maxExecutors"):
            if dynamic.get(key) is not None:
                conf[f"spark.dynamicAllocation.{key}"] = str(dynamic[key])
        tracking = dynamic.get("shuffleTrackingEnabled", True)
        conf["spark.dynamicAllocation.shuffleTracking.enabled"] = str(bool(tracking)).lower()
    return conf


def _role_conf(
    conf: dict[str, str],
    manifest: dict[str, Any],
    spec: dict[str, Any],
    role: str,
    role_spec: dict[str, Any],
    operator: Operator,
) -> None:
    """driverConfOption / executorConfOption, then the role's env and volume options."""
    k8s = f"spark.kubernetes.{role}"
    labels = f"{k8s}.label."
    meta = manifest.get("metadata") or {}
    conf[labels + LABEL_APP_NAME] = str(meta.get("name"))
    conf[labels + LABEL_LAUNCHED_BY] = "true"
    if operator.has_template and (
        spark_version_below_3(spec.get("sparkVersion")) or role_spec.get("template") is None
    ):
        conf[labels + "sparkoperator.k8s.io/mutated-by-spark-operator"] = "true"
    if role == "executor" and role_spec.get("instances") is not None:
        conf["spark.executor.instances"] = str(role_spec["instances"])
    image = role_spec.get("image") or spec.get("image")
    if image:
        conf[f"{k8s}.container.image"] = image
    if role_spec.get("cores") is not None:
        conf[f"spark.{role}.cores"] = str(role_spec["cores"])
    if role_spec.get("coreRequest") is not None:
        conf[f"{k8s}.request.cores"] = role_spec["coreRequest"]
    if role_spec.get("coreLimit") is not None:
        conf[f"{k8s}.limit.cores"] = role_spec["coreLimit"]
    if role_spec.get("memory") is not None:
        conf[f"spark.{role}.memory"] = role_spec["memory"]
    if role_spec.get("memoryOverhead") is not None:
        conf[f"spark.{role}.memoryOverhead"] = role_spec["memoryOverhead"]
    if role_spec.get("serviceAccount") is not None:
        conf[f"spark.kubernetes.authenticate.{role}.serviceAccountName"] = role_spec[
            "serviceAccount"
        ]
    if role == "executor" and role_spec.get("deleteOnTermination") is not None:
        value = str(role_spec["deleteOnTermination"]).lower()
        conf["spark.kubernetes.executor.deleteOnTermination"] = value
    for key, value in (meta.get("labels") or {}).items():
        if not key.startswith("kueue.x-k8s.io/"):
            conf[labels + key] = value
    for key, value in (role_spec.get("labels") or {}).items():
        conf[labels + key] = value
    for key, value in (role_spec.get("annotations") or {}).items():
        conf[f"{k8s}.annotation.{key}"] = value
    if role == "driver":
        for key, value in (role_spec.get("serviceLabels") or {}).items():
            conf[f"{k8s}.service.label.{key}"] = value
        for key, value in (role_spec.get("serviceAnnotations") or {}).items():
            conf[f"{k8s}.service.annotation.{key}"] = value
    for key, ref in (role_spec.get("envSecretKeyRefs") or {}).items():
        conf[f"{k8s}.secretKeyRef.{key}"] = f"{ref.get('name')}:{ref.get('key')}"
    if role_spec.get("javaOptions") is not None:
        conf[f"spark.{role}.extraJavaOptions"] = role_spec["javaOptions"]
    if role == "driver" and role_spec.get("kubernetesMaster") is not None:
        conf["spark.kubernetes.driver.master"] = role_spec["kubernetesMaster"]
    env_prefix = "spark.kubernetes.driverEnv." if role == "driver" else "spark.executorEnv."
    for key, value in (role_spec.get("envVars") or {}).items():
        conf[env_prefix + key] = value
    for secret in role_spec.get("secrets") or []:
        if isinstance(secret, dict) and secret.get("name"):
            conf[f"{k8s}.secrets.{secret['name']}"] = str(secret.get("path", ""))
    _local_volume_conf(conf, spec, role, role_spec)


def _local_volume_conf(
    conf: dict[str, str], spec: dict[str, Any], role: str, role_spec: dict[str, Any]
) -> None:
    """driverVolumeMountsOption: spark-local-dir-* volumes go to Spark as conf."""
    volumes = {
        v["name"]: v
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and str(v.get("name", "")).startswith(LOCAL_DIR_PREFIX)
    }
    prefix = f"spark.kubernetes.{role}.volumes"
    for mount in role_spec.get("volumeMounts") or []:
        name = mount.get("name", "")
        if not name.startswith(LOCAL_DIR_PREFIX) or name not in volumes:
            continue
        volume = volumes[name]
        kind = next((t for t in SPARK_VOLUME_TYPES if volume.get(t) is not None), None)
        if kind is None:
            continue  # the operator fails the submission: "unsupported volume type"
        base = f"{prefix}.{kind}.{name}"
        if mount.get("mountPath"):
            conf[f"{base}.mount.path"] = mount["mountPath"]
        if mount.get("subPath"):
            conf[f"{base}.mount.subPath"] = mount["subPath"]
        if mount.get("readOnly"):
            conf[f"{base}.mount.readOnly"] = "true"
        source = volume[kind] or {}
        if kind == "emptyDir":
            if source.get("sizeLimit") is not None:
                conf[f"{base}.options.sizeLimit"] = str(source["sizeLimit"])
            if source.get("medium"):
                conf[f"{base}.options.medium"] = source["medium"]
        elif kind == "hostPath":
            conf[f"{base}.options.path"] = str(source.get("path", ""))
            if source.get("type"):
                conf[f"{base}.options.type"] = source["type"]
        elif kind == "persistentVolumeClaim":
            conf[f"{base}.options.claimName"] = str(source.get("claimName", ""))
        elif kind == "nfs":
            conf[f"{base}.options.path"] = str(source.get("path", ""))
            conf[f"{base}.options.server"] = str(source.get("server", ""))
