"""The lint rules as data: id, severity, what is wrong, and the generic fix; and the
fixed sets a lint run is configured with (--fail-on, --disable)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from profiler.errors import UsageError
from profiler.vocabulary import Choice


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class FailOn(Choice):
    """The lowest severity that fails a lint run (exit 1), or never."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"

    @property
    def severity(self) -> Severity | None:
        return None if self is FailOn.NEVER else Severity(self.value)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    fix: str
    pss: bool = False  # PSS "restricted" (or baseline) rejects the pod


_E, _W = Severity.ERROR, Severity.WARNING

RULES: tuple[Rule, ...] = (
    Rule(
        "invalid-yaml",
        _E,
        "The file is not valid YAML from this point on: nothing after it could be linted",
        "fix the YAML at the line given; the documents before it were linted",
    ),
    Rule(
        "duplicate-key",
        _E,
        "A key written twice in one mapping: kubectl rejects the document, other tools keep "
        "one of the two values",
        "remove one of the two keys",
    ),
    Rule(
        "invalid-field",
        _E,
        "A field of the wrong type or with a value the API server rejects",
        "give the field a value of the expected type (see the message)",
    ),
    Rule(
        "seccomp-missing",
        _E,
        "No seccomp profile: the pod runs Unconfined on most clusters",
        "set securityContext.seccompProfile: type RuntimeDefault at pod level, and type "
        "Localhost with a localhostProfile on the Spark container for a recorded profile",
        pss=True,
    ),
    Rule(
        "seccomp-unconfined",
        _E,
        "seccompProfile type Unconfined turns seccomp off",
        "use type Localhost with a recorded profile, or RuntimeDefault",
        pss=True,
    ),
    Rule(
        "seccomp-unknown-type",
        _E,
        "seccompProfile type is not Localhost, RuntimeDefault or Unconfined",
        "use type Localhost or RuntimeDefault (the names are case-sensitive)",
    ),
    Rule(
        "seccomp-localhost-no-profile",
        _E,
        "seccompProfile type Localhost without localhostProfile",
        "add localhostProfile: <dir>/<file>.json, relative to <kubelet-root>/seccomp",
    ),
    Rule(
        "seccomp-localhost-path",
        _E,
        "localhostProfile is absolute or climbs with '..'",
        "use a descending path relative to <kubelet-root>/seccomp, e.g. spark-seccomp/driver.json",
    ),
    Rule(
        "seccomp-profile-not-found",
        _E,
        "The referenced Localhost profile is not among the given profiles",
        "install the profile (spark-seccomp k8s install) or fix the localhostProfile; a missing "
        "file makes the pod fail with CreateContainerError",
    ),
    Rule(
        "seccomp-localhost-at-pod-level",
        _W,
        "A pod-level Localhost profile confines the pod's sandbox too: the kubelet gives it to "
        "the pause container, and Kubernetes' pause loops on pause(2), so a profile that "
        "refuses pause leaves it spinning on a CPU for the pod's lifetime",
        "put the Localhost profile in the Spark container's securityContext and set "
        "RuntimeDefault at pod level (or allow pause in the profile)",
    ),
    Rule(
        "container-field-at-pod-level",
        _E,
        "A container-only field in a pod-level securityContext is silently ignored",
        "move the field into each container's securityContext",
    ),
    Rule(
        "pod-field-at-container-level",
        _E,
        "A pod-only field in a container securityContext is silently ignored",
        "move the field into the pod-level securityContext",
    ),
    Rule(
        "crd-security-with-template",
        _W,
        "A CRD security field beside a pod template: the operator's webhook replaces the "
        "template's security context with it wholesale",
        "keep security settings in the template only: move podSecurityContext into "
        "template.spec.securityContext and securityContext into the Spark container's",
    ),
    Rule(
        "ignored-by-operator",
        _E,
        "A setting the Spark Operator (at the given version) drops, ignores or rejects",
        "move the setting where this operator version applies it (see the message)",
    ),
    Rule(
        "run-as-non-root-without-uid",
        _E,
        "runAsNonRoot without a numeric runAsUser: the kubelet refuses images with a named USER",
        "set runAsUser (and runAsGroup) to the image's uid, 185 for Spark images",
    ),
    Rule(
        "run-as-non-root-missing",
        _E,
        "runAsNonRoot is not true for every container",
        "set runAsNonRoot: true in the pod-level securityContext",
        pss=True,
    ),
    Rule(
        "run-as-root",
        _E,
        "runAsUser 0 runs the container as root",
        "set runAsUser to a non-zero uid, 185 for Spark images",
        pss=True,
    ),
    Rule(
        "container-without-security-context",
        _E,
        "A sidecar, init or plain container has no securityContext",
        "give it securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, "
        "readOnlyRootFilesystem: true}",
        pss=True,
    ),
    Rule(
        "allow-privilege-escalation",
        _E,
        "allowPrivilegeEscalation is not false",
        "set allowPrivilegeEscalation: false in the container's securityContext",
        pss=True,
    ),
    Rule(
        "privileged",
        _E,
        "A privileged container",
        "remove privileged: true",
        pss=True,
    ),
    Rule(
        "capabilities-added",
        _E,
        "Capabilities added beyond NET_BIND_SERVICE",
        "remove them from capabilities.add",
        pss=True,
    ),
    Rule(
        "capabilities-not-dropped",
        _E,
        "capabilities.drop does not include ALL",
        "set capabilities: {drop: [ALL]} in the container's securityContext",
        pss=True,
    ),
    Rule(
        "host-namespaces",
        _E,
        "hostNetwork, hostPID or hostIPC shares a host namespace",
        "remove it or set it to false",
        pss=True,
    ),
    Rule(
        "host-path-volume",
        _E,
        "A hostPath volume",
        "use an emptyDir, configMap, secret or persistentVolumeClaim volume instead",
        pss=True,
    ),
    Rule(
        "volume-type-not-allowed",
        _E,
        "A volume type PSS restricted does not allow",
        "use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected "
        "or secret",
        pss=True,
    ),
    Rule(
        "host-ports",
        _E,
        "A container port bound on the host",
        "remove hostPort; expose the port with a Service",
        pss=True,
    ),
    Rule(
        "writable-root-filesystem",
        _W,
        "The root filesystem is writable",
        "set readOnlyRootFilesystem: true and mount emptyDir volumes where the process writes "
        "(/tmp, the Spark local dirs, the home directory)",
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def parse_rule_ids(values: Iterable[str]) -> frozenset[str]:
    """Rule ids given as ``RULE[,RULE]`` (each value may hold several): unknown ones are a
    usage error that lists the known ones."""
    ids = {part.strip() for value in values for part in value.split(",") if part.strip()}
    unknown = sorted(ids - set(RULES_BY_ID))
    if unknown:
        raise UsageError(
            f"unknown lint rule {', '.join(map(repr, unknown))}",
            f"choose from {', '.join(r.id for r in RULES)} (see `k8s lint --list-rules`)",
        )
    return frozenset(ids)
