"""Linting workload manifests for seccomp and PSS "restricted" problems.

Every document is first checked against the API types (``models``): a field of the wrong
type, a duplicate key or a broken YAML stream is a finding with file, line and path, and
the value is taken out before the rest of the document is linted, so one bad value never
hides the others and never crashes the linter. Each workload is then reduced to pod views
(the pod security context that will take effect and each container's) and pure checks run
over the views. SparkApplications yield one view per role, built the way the operator
release given (``operator.role_view``) builds the pods; the places where settings are
written but ignored are checked on the raw manifest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from profiler.errors import UsageError
from profiler.k8s.install import LINT_IGNORE_ANNOTATION
from profiler.k8s.manifests import (
    YamlPath,
    YamlStream,
    display_name,
    line_of,
    parse_yaml,
    read_text,
    render_path,
)
from profiler.k8s.models import (
    DNS1035_LABEL_TEXT,
    describe_value,
    is_dns1035_label,
    validate_manifest,
    without_paths,
)
from profiler.k8s.operator import (
    ROLES,
    SPARK_CONTAINER,
    Operator,
    RoleView,
    operator_for,
    role_view,
    spark_container_index,
)
from profiler.k8s.paths import localhost_profile_problem
from profiler.k8s.rules import RULES_BY_ID, Rule, Severity
from profiler.seccomp.profile import load_profile

__all__ = ["Finding", "LintReport", "Unreadable", "lint_files", "lint_text", "render_path"]

CONTAINER_ONLY_FIELDS = (
    "allowPrivilegeEscalation",
    "capabilities",
    "privileged",
    "procMount",
    "readOnlyRootFilesystem",
)
POD_ONLY_FIELDS = (
    "fsGroup",
    "fsGroupChangePolicy",
    "supplementalGroups",
    "supplementalGroupsPolicy",
    "sysctls",
)
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
HOST_NAMESPACE_FIELDS = ("hostNetwork", "hostPID", "hostIPC")
POD_SPEC_PATHS: dict[str, YamlPath] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
SPARK_KINDS: dict[str, YamlPath] = {
    "SparkApplication": ("spec",),
    "ScheduledSparkApplication": ("spec", "template"),
}
# A SparkConnect's two pods, and the Spark container each is built around: the operator
# makes the server pod from spec.server.template itself (sparkconnect/reconciler.go
# mutateServerPod: the container named spark-kubernetes-driver, else the first), and Spark
# makes executor pods from spec.executor.template (podTemplateContainerName
# spark-kubernetes-executor, set by sparkconnect/options.go).
SPARK_CONNECT_PODS = (("server", "driver"), ("executor", "executor"))


@dataclass(frozen=True)
class Finding:
    rule: Rule
    file: str
    document: int  # 1-based index of the YAML document in its file
    resource: str  # Kind/name
    path: str  # YAML path, e.g. spec.driver.template.spec.securityContext
    message: str
    fix: str
    line: int | None = None

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "document": self.document,
            "resource": self.resource,
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Unreadable:
    """A file, or the rest of one, that could not be read: it was not (all) linted."""

    file: str
    problem: str  # e.g. "invalid YAML at line 6, column 5: ..." or "does not exist"

    def describe(self) -> str:
        return f"{self.file}: {self.problem}"


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Finding, ...]
    suppressed: tuple[Finding, ...] = ()
    documents: int = 0
    skipped: tuple[str, ...] = ()  # kinds of the documents the linter does not know
    unreadable: tuple[Unreadable, ...] = ()
    disabled: tuple[str, ...] = ()  # rule ids turned off for this run (--disable)

    def at_or_above(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity.rank >= severity.rank]

    def counts(self) -> dict[str, int]:
        return {s.value: sum(f.severity is s for f in self.findings) for s in Severity}


# ---------------------------------------------------------------------------------------
# Views: what the kubelet will apply


@dataclass
class Context:
    """A securityContext as it takes effect (``value``), and where it is or would be written."""

    value: dict[str, Any] | None
    path: YamlPath

    def get(self, key: str) -> Any:
        return self.value.get(key) if self.value else None


@dataclass
class ContainerView:
    name: str
    role: str  # "container", "Spark container", "sidecar", "init container"
    context: Context
    ports: list[tuple[dict[str, Any], YamlPath]] = field(default_factory=list)
    needs_context: bool = True  # a missing securityContext is a finding of its own


@dataclass
class PodView:
    label: str
    context: Context
    containers: list[ContainerView]
    host_fields: list[tuple[str, Any, YamlPath]] = field(default_factory=list)
    volumes: list[tuple[dict[str, Any], YamlPath]] = field(default_factory=list)


class _Sink:
    """Collects findings for one document, resolving YAML paths to line numbers."""

    def __init__(self, file: str, document: int, resource: str, node: yaml.Node | None) -> None:
        self.file, self.document, self.resource, self.node = file, document, resource, node
        self.findings: list[Finding] = []

    def add(
        self,
        rule_id: str,
        path: YamlPath,
        message: str,
        fix: str | None = None,
        line: int | None = None,
    ) -> None:
        rule = RULES_BY_ID[rule_id]
        self.findings.append(
            Finding(
                rule,
                self.file,
                self.document,
                self.resource,
                render_path(path),
                message,
                fix or rule.fix,
                line if line is not None else line_of(self.node, path),
            )
        )


# ---------------------------------------------------------------------------------------
# Entry points


def lint_files(
    paths: Iterable[Path],
    profiles_dir: Path | None = None,
    operator: Operator | None = None,
    disabled: frozenset[str] = frozenset(),
) -> LintReport:
    """Lint every document of every file (``-`` is standard input). A file that cannot be
    read (missing, not UTF-8, broken YAML) is reported in ``unreadable`` and the other files
    are linted all the same. Findings of the ``disabled`` rules are left out."""
    if profiles_dir is not None and not Path(profiles_dir).is_dir():
        raise UsageError(f"profiles directory {profiles_dir} does not exist")
    reports = []
    for path in paths:
        name = display_name(path)
        try:
            text = read_text(path)
        except UsageError as exc:
            reports.append(LintReport((), unreadable=(Unreadable(name, _after(exc, name)),)))
            continue
        reports.append(lint_text(text, name, profiles_dir, operator))
    return LintReport(
        tuple(f for r in reports for f in r.findings if f.rule.id not in disabled),
        tuple(f for r in reports for f in r.suppressed if f.rule.id not in disabled),
        sum(r.documents for r in reports),
        tuple(k for r in reports for k in r.skipped),
        tuple(u for r in reports for u in r.unreadable),
        tuple(sorted(disabled)),
    )


def _after(exc: UsageError, name: str) -> str:
    prefix = f"{name} "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


def lint_text(
    text: str,
    file: str = "<stdin>",
    profiles_dir: Path | None = None,
    operator: Operator | None = None,
) -> LintReport:
    return lint_stream(parse_yaml(text), file, profiles_dir, operator)


def lint_stream(
    stream: YamlStream,
    file: str,
    profiles_dir: Path | None = None,
    operator: Operator | None = None,
) -> LintReport:
    model = operator or operator_for()
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    skipped: list[str] = []
    documents = 0
    for document in stream.documents:
        doc_sink = _Sink(file, document.index, _resource_name(document.data), document.node)
        for duplicate in document.duplicates:
            doc_sink.add(
                "duplicate-key",
                duplicate.path,
                f"{duplicate.path[-1]} is written twice in one mapping (lines "
                f"{duplicate.first_line} and {duplicate.line}); kubectl rejects the document, "
                "and this lint read the second value",
                line=duplicate.line,
            )
        if _is_list(document.data):
            for problem in validate_manifest(document.data):
                doc_sink.add("invalid-field", problem.path, problem.describe())
        ignored = _ignored_rules(document.data)
        findings.extend(f for f in doc_sink.findings if f.rule.id not in ignored)
        suppressed.extend(f for f in doc_sink.findings if f.rule.id in ignored)
        for item, prefix in _expand_lists(document.data):
            documents += 1
            sink = _Sink(file, document.index, _resource_name(item), document.node)
            problems = validate_manifest(item)
            for problem in problems:
                sink.add("invalid-field", prefix + problem.path, problem.describe())
            readable = without_paths(item, [p.path for p in problems])
            sink.resource = _resource_name(readable)
            if not lint_manifest(readable, sink, profiles_dir, prefix, model):
                skipped.append(sink.resource.split("/")[0])
            ignored = _ignored_rules(readable)
            for finding in sink.findings:
                (suppressed if finding.rule.id in ignored else findings).append(finding)
    unreadable: tuple[Unreadable, ...] = ()
    if stream.problem is not None:
        findings.append(
            Finding(
                RULES_BY_ID["invalid-yaml"],
                file,
                _broken_document(stream),
                f"document {_broken_document(stream)}",
                "",
                stream.problem.describe(),
                RULES_BY_ID["invalid-yaml"].fix,
                stream.problem.line,
            )
        )
        unreadable = (Unreadable(file, stream.problem.describe()),)
    return LintReport(tuple(findings), tuple(suppressed), documents, tuple(skipped), unreadable)


def _broken_document(stream: YamlStream) -> int:
    line = stream.problem.line if stream.problem else None
    if line is None or not stream.documents:
        return len(stream.documents) + 1
    before = [d.index for d in stream.documents if d.node.start_mark.line + 1 <= line]
    return max(before, default=0) + 1


def lint_manifest(
    doc: Any,
    sink: _Sink,
    profiles_dir: Path | None = None,
    prefix: YamlPath = (),
    operator: Operator | None = None,
) -> bool:
    """Add the findings of one manifest to ``sink``; False when its kind is not linted.

    ``doc`` must have passed ``models.validate_manifest`` (or had its bad values removed).
    """
    if not isinstance(doc, dict):
        return False
    kind = doc.get("kind")
    if not isinstance(kind, str):
        return False
    if kind in SPARK_KINDS:
        model = operator or operator_for()
        base = prefix + SPARK_KINDS[kind]
        app_spec = _dict(_get(doc, SPARK_KINDS[kind]))
        if kind == "SparkApplication":
            _check_app_name(doc, prefix, sink, model)
        views = _spark_views(app_spec, base, sink, model)
        for index, volume in enumerate(_list(app_spec.get("volumes"))):
            if isinstance(volume, dict):
                _check_volume(volume, base + ("volumes", index), sink)
    elif kind == "SparkConnect":
        model = operator or operator_for()
        if not model.has_spark_connect:
            sink.add(
                "ignored-by-operator",
                prefix + ("kind",),
                f"{model.name} has no SparkConnect resource (its CRD ships from 2.3.0): "
                "the API server rejects the document",
                "upgrade the operator to 2.3.0 or later, or lint with the --operator-version "
                "the cluster runs",
            )
        views = _spark_connect_views(_dict(doc.get("spec")), prefix + ("spec",), sink)
    elif kind in POD_SPEC_PATHS:
        pod_path = prefix + POD_SPEC_PATHS[kind]
        views = [_pod_view(_dict(_get(doc, POD_SPEC_PATHS[kind])), pod_path, "pod", sink)]
    else:
        return False
    for view in views:
        _check_pod(view, sink, profiles_dir)
    return True


def _check_app_name(doc: dict[str, Any], prefix: YamlPath, sink: _Sink, operator: Operator) -> None:
    name = _dict(doc.get("metadata")).get("name")
    if operator.wants_dns1035_name and isinstance(name, str) and not is_dns1035_label(name):
        sink.add(
            "invalid-field",
            prefix + ("metadata", "name"),
            f"metadata.name is {describe_value(name)}; {operator.name}'s validating webhook "
            f"rejects it: it must be {DNS1035_LABEL_TEXT} (sparkapplication_validator.go "
            "validateName)",
            "rename the SparkApplication, e.g. spark-pi-python",
        )


# ---------------------------------------------------------------------------------------
# Building views


def _pod_view(spec: dict[str, Any], path: YamlPath, label: str, sink: _Sink) -> PodView:
    context = Context(_dict_or_none(spec.get("securityContext")), path + ("securityContext",))
    containers: list[ContainerView] = []
    for key, role in (("initContainers", "init container"), ("containers", "container")):
        for index, container in enumerate(_list(spec.get(key))):
            if isinstance(container, dict):
                containers.append(_container_view(container, path + (key, index), role))
    _check_misplaced_pod_fields(context, [c.context.path for c in containers], sink)
    for view in containers:
        _check_misplaced_container_fields(view.context, context.path, sink)
    return PodView(
        label,
        context,
        containers,
        [(name, spec.get(name), path + (name,)) for name in HOST_NAMESPACE_FIELDS],
        [(v, path + ("volumes", i)) for i, v in enumerate(_list(spec.get("volumes")))],
    )


def _container_view(container: dict[str, Any], path: YamlPath, role: str) -> ContainerView:
    return ContainerView(
        str(container.get("name") or "?"),
        role,
        Context(_dict_or_none(container.get("securityContext")), path + ("securityContext",)),
        _ports(container, path),
    )


def _ports(container: dict[str, Any], path: YamlPath) -> list[tuple[dict[str, Any], YamlPath]]:
    return [
        (port, path + ("ports", i))
        for i, port in enumerate(_list(container.get("ports")))
        if isinstance(port, dict)
    ]


def _spark_views(
    app_spec: dict[str, Any], base: YamlPath, sink: _Sink, operator: Operator
) -> list[PodView]:
    views = []
    for role in ROLES:
        view = role_view(app_spec, role, base, operator)
        for item in view.ignored:
            sink.add("ignored-by-operator", item.path, item.message, item.fix)
        for replacement in view.replacements:
            _report_replacement(replacement, role, operator, sink)
        views.append(_spark_pod_view(view, sink))
    return views


def _spark_connect_views(spec: dict[str, Any], base: YamlPath, sink: _Sink) -> list[PodView]:
    """The server pod and an executor pod of a SparkConnect: each is its template's pod
    spec, with its Spark container (the operator adds one without a securityContext when
    the template has none)."""
    views = []
    for key, role in SPARK_CONNECT_PODS:
        spec_path = base + (key, "template", "spec")
        template_spec = _dict(_dict(_dict(spec.get(key)).get("template")).get("spec"))
        view = _pod_view(template_spec, spec_path, f"Spark Connect {key} pod", sink)
        index = spark_container_index(template_spec, role)
        spark_path = spec_path + ("containers", index if index is not None else 0)
        if index is None:
            context = Context(None, spark_path + ("securityContext",))
            view.containers.append(ContainerView(SPARK_CONTAINER[role], "", context))
        for container in view.containers:
            if container.context.path == spark_path + ("securityContext",):
                # As for a SparkApplication's Spark container: each missing setting is
                # named, rather than the securityContext as a whole.
                container.role = f"Spark Connect {key} container"
                container.needs_context = False
        views.append(view)
    return views


def _report_replacement(replacement: Any, role: str, operator: Operator, sink: _Sink) -> None:
    crd, template = render_path(replacement.crd_path), render_path(replacement.template_path)
    function = (
        "addPodSecurityContext" if replacement.level == "pod" else "addContainerSecurityContext"
    )
    what = "pod's" if replacement.level == "pod" else "Spark container's"
    lost = (
        f"; {template} ({', '.join(sorted(replacement.template_value))}) never takes effect"
        if replacement.template_value
        else "; the template sets none there"
    )
    sink.add(
        "crd-security-with-template",
        replacement.crd_path,
        f"{operator.name}'s webhook replaces the {role} {what} securityContext with {crd} "
        f"wholesale even though the {role} has a template (sparkpod_defaulter.go {function}: "
        f"the webhook mutates every pod labelled launched-by-spark-operator){lost}",
        f"move the settings of {crd} into {template} and delete {crd}: the operator labels "
        f"templated pods as not to be mutated (submission.go {role}ConfOption), so keep "
        "security settings in the template only",
    )


def _spark_pod_view(view: RoleView, sink: _Sink) -> PodView:
    role, role_spec = view.role, view.role_spec
    spec_path = view.template_spec_path
    template_spec = view.template_spec
    containers = _list(template_spec.get("containers"))
    spark_index = view.spark_container_index
    spark_path = spec_path + ("containers", spark_index) if spark_index is not None else None
    pod_ctx = Context(view.pod.value, view.pod.path)
    spark_ctx = Context(view.container.value, view.container.path)
    spark_view = ContainerView(
        view.container_name,
        f"Spark {role} container",
        spark_ctx,
        _ports(view.spark_container, spark_path) if spark_path is not None else [],
        needs_context=False,
    )
    others: list[ContainerView] = []
    for index, container in enumerate(containers):
        if index != spark_index and isinstance(container, dict):
            others.append(_container_view(container, spec_path + ("containers", index), "sidecar"))
    for index, container in enumerate(_list(template_spec.get("initContainers"))):
        if isinstance(container, dict):
            path = spec_path + ("initContainers", index)
            others.append(_container_view(container, path, "init container"))
    if view.webhook_applies:
        for key, kind in (("initContainers", "init container"), ("sidecars", "sidecar")):
            for index, container in enumerate(_list(role_spec.get(key))):
                if isinstance(container, dict):
                    path = view.role_path + (key, index)
                    others.append(_container_view(container, path, kind))

    # Written but misplaced, whether or not the operator lets it through.
    crd_pod = _dict_or_none(role_spec.get("podSecurityContext"))
    crd_ctr = _dict_or_none(role_spec.get("securityContext"))
    crd_pod_path = view.role_path + ("podSecurityContext",)
    crd_ctr_path = view.role_path + ("securityContext",)
    template_pod = _dict_or_none(template_spec.get("securityContext"))
    template_pod_path = spec_path + ("securityContext",)
    template_ctr_path = (spark_path or spec_path + ("containers", 0)) + ("securityContext",)
    if crd_pod is not None:
        _check_misplaced_pod_fields(Context(crd_pod, crd_pod_path), [crd_ctr_path], sink)
    if template_pod is not None:
        _check_misplaced_pod_fields(
            Context(template_pod, template_pod_path), [template_ctr_path], sink
        )
    written = [Context(crd_ctr, crd_ctr_path)]
    template_ctr = _dict_or_none(view.spark_container.get("securityContext"))
    written.append(Context(template_ctr, template_ctr_path))
    for written_ctx in written:
        if written_ctx.value is not None:
            target = crd_pod_path if written_ctx.path == crd_ctr_path else template_pod_path
            _check_misplaced_container_fields(written_ctx, target, sink)
    for other in others:
        if other.context.value is not None:
            _check_misplaced_container_fields(other.context, pod_ctx.path, sink)

    host_fields = [
        (name, template_spec.get(name), spec_path + (name,)) for name in HOST_NAMESPACE_FIELDS
    ]
    if view.webhook_applies:
        host_fields.append(
            ("hostNetwork", role_spec.get("hostNetwork"), view.role_path + ("hostNetwork",))
        )
    volumes = [
        (v, spec_path + ("volumes", i)) for i, v in enumerate(_list(template_spec.get("volumes")))
    ]
    return PodView(f"{role} pod", pod_ctx, [spark_view, *others], host_fields, volumes)


# ---------------------------------------------------------------------------------------
# Checks


def _check_misplaced_pod_fields(
    context: Context, container_contexts: list[YamlPath], sink: _Sink
) -> None:
    for name in CONTAINER_ONLY_FIELDS:
        if context.value is not None and name in context.value:
            if container_contexts:
                targets = " and ".join(render_path(p + (name,)) for p in container_contexts)
            else:
                targets = "each container's securityContext." + name
            sink.add(
                "container-field-at-pod-level",
                context.path + (name,),
                f"{name} is a container-level field; in the pod-level securityContext "
                "it is silently ignored",
                f"move {name} to {targets}",
            )


def _check_misplaced_container_fields(context: Context, pod_context: YamlPath, sink: _Sink) -> None:
    for name in POD_ONLY_FIELDS:
        if context.value is not None and name in context.value:
            sink.add(
                "pod-field-at-container-level",
                context.path + (name,),
                f"{name} is a pod-level field; in a container securityContext it is "
                "silently ignored",
                f"move {name} to {render_path(pod_context + (name,))}",
            )


def _check_pod(view: PodView, sink: _Sink, profiles_dir: Path | None) -> None:
    for name, value, path in view.host_fields:
        if value is True:
            sink.add(
                "host-namespaces",
                path,
                f"{name}: true shares the host's namespace with the {view.label}",
            )
    for volume, path in view.volumes:
        if isinstance(volume, dict):
            _check_volume(volume, path, sink)
    _check_seccomp(view, sink, profiles_dir)
    _check_users(view, sink)
    for container in view.containers:
        _check_container(view, container, sink)


def _check_volume(volume: dict[str, Any], path: YamlPath, sink: _Sink) -> None:
    name = volume.get("name", "?")
    for source in sorted(set(volume) - {"name"}):
        if source == "hostPath":
            host = _dict(volume["hostPath"]).get("path", "?")
            sink.add(
                "host-path-volume", path + (source,), f"volume {name!r} mounts {host} from the node"
            )
        elif source not in ALLOWED_VOLUME_TYPES:
            sink.add(
                "volume-type-not-allowed", path + (source,), f"volume {name!r} is of type {source}"
            )


def _check_seccomp(view: PodView, sink: _Sink, profiles_dir: Path | None) -> None:
    pod_profile = view.context.get("seccompProfile")
    if pod_profile is None:
        uncovered = [c for c in view.containers if c.context.get("seccompProfile") is None]
        if uncovered:
            names = ", ".join(f"{c.role} {c.name!r}" for c in uncovered)
            sink.add(
                "seccomp-missing",
                view.context.path + ("seccompProfile",),
                f"the {view.label} sets no seccompProfile and neither does {names}",
            )
    else:
        path = view.context.path + ("seccompProfile",)
        _check_profile(pod_profile, path, view.label, sink, profiles_dir)
        if _dict(pod_profile).get("type") == "Localhost" and not _allows_pause(
            _dict(pod_profile).get("localhostProfile"), profiles_dir
        ):
            sink.add(
                "seccomp-localhost-at-pod-level",
                path,
                f"the {view.label}'s Localhost profile confines its sandbox's pause too, and "
                "pause(2) is not known to be allowed",
            )
    for container in view.containers:
        own = container.context.get("seccompProfile")
        if own is not None:
            where = f"{container.role} {container.name!r}"
            _check_profile(
                own, container.context.path + ("seccompProfile",), where, sink, profiles_dir
            )


def _check_profile(
    raw: Any, path: YamlPath, where: str, sink: _Sink, profiles_dir: Path | None
) -> None:
    profile = _dict(raw)
    kind = profile.get("type")
    if kind == "Unconfined":
        sink.add("seccomp-unconfined", path + ("type",), f"the {where} runs without seccomp")
    elif kind == "RuntimeDefault":
        return
    elif kind == "Localhost":
        localhost = profile.get("localhostProfile")
        if localhost is None:
            sink.add("seccomp-localhost-no-profile", path, f"the {where} names no profile file")
            return
        problem = localhost_profile_problem(localhost)
        if problem:
            sink.add(
                "seccomp-localhost-path",
                path + ("localhostProfile",),
                f"localhostProfile {localhost!r} {problem}",
            )
        elif profiles_dir is not None and not _profile_exists(profiles_dir, str(localhost)):
            sink.add(
                "seccomp-profile-not-found",
                path + ("localhostProfile",),
                f"{localhost!r} is neither {profiles_dir}/{localhost} nor "
                f"{profiles_dir}/{PurePosixPath(str(localhost)).name}",
            )
    else:
        sink.add("seccomp-unknown-type", path + ("type",), f"unknown seccompProfile type {kind!r}")


def _allows_pause(localhost: Any, profiles_dir: Path | None) -> bool:
    """Whether the profile a pod-level Localhost names is known to allow pause(2): only when
    it is among the given profiles and readable."""
    if profiles_dir is None or not isinstance(localhost, str):
        return False
    for candidate in (
        Path(profiles_dir) / localhost,
        Path(profiles_dir) / PurePosixPath(localhost).name,
    ):
        if candidate.is_file():
            try:
                return "pause" in load_profile(candidate).allowed()
            except UsageError:
                return False
    return False


def _profile_exists(profiles_dir: Path, localhost: str) -> bool:
    """The directory may mirror <kubelet-root>/seccomp or hold the files flat."""
    base = Path(profiles_dir)
    return (base / localhost).is_file() or (base / PurePosixPath(localhost).name).is_file()


def _check_users(view: PodView, sink: _Sink) -> None:
    pod = view.context
    not_root = [c for c in view.containers if _effective(c, pod, "runAsNonRoot") is not True]
    if not_root:
        if pod.get("runAsNonRoot") is not True:
            names = ", ".join(f"{c.role} {c.name!r}" for c in not_root)
            sink.add(
                "run-as-non-root-missing",
                pod.path + ("runAsNonRoot",),
                f"runAsNonRoot is not true for the {view.label} ({names})",
            )
        else:
            for c in not_root:
                sink.add(
                    "run-as-non-root-missing",
                    c.context.path + ("runAsNonRoot",),
                    f"{c.role} {c.name!r} sets runAsNonRoot to false",
                    "remove runAsNonRoot: false from the container",
                )
    if _is_int(pod.get("runAsUser")) and pod.get("runAsUser") == 0:
        sink.add("run-as-root", pod.path + ("runAsUser",), f"the {view.label} runs as uid 0")
    for c in view.containers:
        if _is_int(c.context.get("runAsUser")) and c.context.get("runAsUser") == 0:
            sink.add(
                "run-as-root", c.context.path + ("runAsUser",), f"{c.role} {c.name!r} runs as uid 0"
            )
    # runAsNonRoot with no numeric uid: the kubelet cannot verify a named USER.
    if pod.get("runAsNonRoot") is True and not _is_int(pod.get("runAsUser")):
        lacking = [c for c in view.containers if not _is_int(c.context.get("runAsUser"))]
        if lacking:
            sink.add(
                "run-as-non-root-without-uid",
                pod.path + ("runAsNonRoot",),
                f"the {view.label} sets runAsNonRoot but no numeric runAsUser; an image with "
                "`USER spark` fails with CreateContainerConfigError",
                f"add runAsUser: 185 and runAsGroup: 185 to {render_path(pod.path)}",
            )
    for c in view.containers:
        if c.context.get("runAsNonRoot") is True and _effective(c, pod, "runAsUser") is None:
            if pod.get("runAsNonRoot") is True and not _is_int(pod.get("runAsUser")):
                continue  # already reported at pod level
            sink.add(
                "run-as-non-root-without-uid",
                c.context.path + ("runAsNonRoot",),
                f"{c.role} {c.name!r} sets runAsNonRoot but no numeric runAsUser is set",
                f"add runAsUser: 185 to {render_path(c.context.path)} or {render_path(pod.path)}",
            )


def _check_container(view: PodView, c: ContainerView, sink: _Sink) -> None:
    ctx = c.context
    who = f"{c.role} {c.name!r} of the {view.label}"
    for port, path in c.ports:
        if port.get("hostPort"):
            sink.add(
                "host-ports", path + ("hostPort",), f"{who} binds host port {port['hostPort']}"
            )
    if ctx.value is None and c.needs_context:
        sink.add("container-without-security-context", ctx.path, f"{who} has no securityContext")
        return
    if ctx.get("privileged") is True:
        sink.add("privileged", ctx.path + ("privileged",), f"{who} is privileged")
    if ctx.get("allowPrivilegeEscalation") is not False:
        sink.add(
            "allow-privilege-escalation",
            ctx.path + ("allowPrivilegeEscalation",),
            f"{who} does not set allowPrivilegeEscalation: false",
            f"set allowPrivilegeEscalation: false in {render_path(ctx.path)}",
        )
    capabilities = _dict(ctx.get("capabilities"))
    added = [
        str(a) for a in _list(capabilities.get("add")) if str(a) not in ALLOWED_ADDED_CAPABILITIES
    ]
    if added:
        sink.add(
            "capabilities-added",
            ctx.path + ("capabilities", "add"),
            f"{who} adds {', '.join(added)}",
        )
    if "ALL" not in [str(d) for d in _list(capabilities.get("drop"))]:
        sink.add(
            "capabilities-not-dropped",
            ctx.path + ("capabilities", "drop"),
            f"{who} does not drop ALL capabilities",
            f"set capabilities: {{drop: [ALL]}} in {render_path(ctx.path)}",
        )
    if ctx.get("readOnlyRootFilesystem") is not True:
        sink.add(
            "writable-root-filesystem",
            ctx.path + ("readOnlyRootFilesystem",),
            f"{who} has a writable root filesystem",
        )


# ---------------------------------------------------------------------------------------
# Helpers


def _effective(c: ContainerView, pod: Context, key: str) -> Any:
    own = c.context.get(key)
    return own if own is not None else pod.get(key)


def _ignored_rules(doc: Any) -> set[str]:
    annotations = _dict(_dict(_dict(doc).get("metadata")).get("annotations"))
    raw = annotations.get(LINT_IGNORE_ANNOTATION)
    if not isinstance(raw, str):
        return set()
    return {part.strip() for part in raw.split(",") if part.strip()}


def _is_list(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "List"


def _expand_lists(doc: Any) -> list[tuple[Any, YamlPath]]:
    """A `kind: List` (kubectl get -o yaml) counts as its items."""
    if _is_list(doc):
        items = doc.get("items")
        return [(item, ("items", i)) for i, item in enumerate(_list(items))]
    return [(doc, ())]


def _resource_name(doc: Any) -> str:
    if not isinstance(doc, dict):
        return type(doc).__name__
    kind = doc.get("kind")
    name = _dict(doc.get("metadata")).get("name")
    kind_text = kind if isinstance(kind, str) else "?"
    name_text = name if isinstance(name, str) else "?"
    return f"{kind_text}/{name_text}"


def _get(doc: Any, path: YamlPath) -> Any:
    for part in path:
        if isinstance(doc, dict) and isinstance(part, str):
            doc = doc.get(part)
        elif isinstance(doc, list) and isinstance(part, int) and part < len(doc):
            doc = doc[part]
        else:
            return None
    return doc


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
