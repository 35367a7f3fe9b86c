"""Recording a SparkApplication's profiles on a cluster with the Security Profiles Operator.

``build_recording`` writes a ProfileRecording (SPO's current API, see ``spo``) that selects
the application's driver and executor pods by the labels Spark and the Spark Operator put
on them (``spark-role``, ``sparkoperator.k8s.io/app-name``) plus one label of the user's
choosing, which the SparkApplication must carry on both roles (``spec.driver.labels``,
``spec.executor.labels``: the operator turns them into ``spark.kubernetes.*.label.*``,
submission.go ``driverConfOption``). With ``mergeStrategy: Containers`` SPO merges the
per-pod recordings into one profile per container: ``<recording>-spark-kubernetes-driver``
and ``<recording>-spark-kubernetes-executor``. SPO records only in namespaces labelled
``spo.x-k8s.io/enable-recording``; its webhook adds the recording annotations itself, so
the application needs no annotations.

Not run on a cluster here: the shapes come from SPO's API types and documentation.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.manifests import Manifest
from profiler.k8s.models import (
    check_name,
    label_key_problem,
    label_value_problem,
    require_valid,
    validate_manifest,
)
from profiler.k8s.operator import (
    LABEL_APP_NAME,
    LABEL_SPARK_ROLE,
    ROLES,
    Operator,
    operator_for,
    role_view,
)
from profiler.k8s.spo import NAMESPACE_RECORDING_LABEL, SpoApi, check_generated
from profiler.k8s.translate import app_spec_of

DEFAULT_LABEL_KEY = "spark-seccomp.io/record"
# SPO's memory optimisation (spod enableMemoryOptimization) only watches pods labelled so.
POD_RECORDING_LABEL = "spo.x-k8s.io/enable-recording"


class Recorder(str, enum.Enum):
    BPF = "bpf"
    LOGS = "logs"

    def api_value(self, api: SpoApi) -> str:
        return self.value.capitalize() if api is SpoApi.V1 else self.value


@dataclass(frozen=True)
class RecordingPlan:
    recording: Manifest  # the ProfileRecording
    app: Manifest  # the SparkApplication, with the labels it needs
    pod_labels: tuple[tuple[str, str], ...]  # added to spec.driver/executor.labels
    namespace: str
    profiles: tuple[str, ...]  # the SeccompProfiles SPO will write once merged
    notes: tuple[str, ...]


def parse_label(text: str | None, default_value: str) -> tuple[str, str]:
    """``key=value`` (or just ``key``) for the selecting label, checked as Kubernetes does."""
    if text is None:
        return DEFAULT_LABEL_KEY, default_value
    key, sep, value = text.partition("=")
    value = value if sep else default_value
    problem = label_key_problem(key) or label_value_problem(value)
    if problem:
        raise UsageError(f"--label {text!r} is not a label: {problem}", "e.g. --label team=data")
    return key, value


def build_recording(
    manifest: Any,
    *,
    name: str | None = None,
    recorder: Recorder = Recorder.BPF,
    label: str | None = None,
    api: SpoApi = SpoApi.V1,
    operator: Operator | None = None,
    source: str = "the manifest",
) -> RecordingPlan:
    """The ProfileRecording for ``manifest`` and the SparkApplication that it records."""
    model = operator or operator_for()
    problems = validate_manifest(manifest)
    if problems:
        raise UsageError(
            f"{source}: {problems[0].describe()}",
            "fix the manifest (`spark-seccomp k8s lint` lists every problem)",
        )
    spec, base = app_spec_of(manifest)
    kind = manifest["kind"]
    meta = manifest.get("metadata") or {}
    app_name = meta.get("name")
    if not isinstance(app_name, str):
        raise UsageError(f"{source}: the {kind} has no metadata.name")
    recording_name = check_name(name or app_name[:63].rstrip("-"), "--name")
    if len(recording_name) > 63 or "." in recording_name:
        # profileLabels: the recording name is a label value of every merged profile.
        raise UsageError(
            f"--name {recording_name!r} must be a DNS-1123 label (SPO labels the profiles with it)",
            "use at most 63 lower-case letters, digits and '-'",
        )
    namespace = meta.get("namespace") or "default"
    key, value = parse_label(label, recording_name)
    notes: list[str] = []
    if "namespace" not in meta:
        notes.append("the manifest names no namespace: the recording is for namespace default")

    selector: dict[str, Any] = {"matchLabels": {key: value}}
    if kind == "SparkApplication":
        # The operator labels every pod with the application's name (driverConfOption).
        selector["matchLabels"][LABEL_APP_NAME] = app_name
    else:
        notes.append(
            "a ScheduledSparkApplication names each run <name>-<time>: the pods are selected "
            f"by {key}={value} and spark-role only"
        )
    selector["matchLabels"] = dict(sorted(selector["matchLabels"].items()))
    selector["matchExpressions"] = [
        {"key": LABEL_SPARK_ROLE, "operator": "In", "values": list(ROLES)}
    ]
    containers = []
    for role in ROLES:
        view = role_view(spec, role, base, model)
        if view.container_name not in containers:
            containers.append(view.container_name)
        if view.container.get("privileged") is True:
            notes.append(f"the {role} container is privileged: SPO records nothing for it")
        if recorder is Recorder.LOGS and view.container.origin == "crd":
            notes.append(
                f"recorder logs sets the {role} container's seccompProfile to SPO's "
                "log-enricher profile, and the Spark Operator's webhook replaces that "
                f"container's securityContext with spec.{role}.securityContext: which one "
                "wins depends on the webhooks' order; record with --recorder bpf, or keep "
                "security in the template"
            )

    recording: Manifest = {
        "apiVersion": api.profile_recording,
        "kind": "ProfileRecording",
        "metadata": {"name": recording_name, "namespace": namespace},
        "spec": {
            "kind": "SeccompProfile",
            "recorder": recorder.api_value(api),
            "mergeStrategy": "Containers" if api is SpoApi.V1 else "containers",
            "podSelector": selector,
            "containers": sorted(containers),
        },
    }
    check_generated(recording)

    pod_labels = ((key, value), (POD_RECORDING_LABEL, "true"))
    app = copy.deepcopy(manifest)
    app_spec, _ = app_spec_of(app)
    for role in ROLES:
        role_spec = app_spec.setdefault(role, {})
        labels = dict(role_spec.get("labels") or {})
        for label_key, label_value in pod_labels:
            labels[label_key] = label_value
        role_spec["labels"] = labels
    require_valid(app)
    notes.append(
        f"label the namespace first: kubectl label namespace {namespace} "
        f"{NAMESPACE_RECORDING_LABEL}=true"
    )
    # SPOD (api/spod/v1 SPODEnricherConfig; 0.x had the switches at the top of spec).
    where = "spec.enricher" if api is SpoApi.V1 else "spec"
    if recorder is Recorder.BPF:
        notes.append(f"the bpf recorder must be on: spod {where}.enableBpfRecorder: true")
    else:
        notes.append(
            f"the logs recorder needs the log enricher: spod {where}.enableLogEnricher: true"
        )
    profiles = tuple(f"{recording_name}-{c}" for c in sorted(containers))
    return RecordingPlan(recording, app, pod_labels, namespace, profiles, tuple(notes))
