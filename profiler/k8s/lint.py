"""Linting workload manifests for seccomp and PSS "restricted" problems.

Each workload is reduced to pod views (the pod security context that will take effect and
each container's), then pure checks run over the views. SparkApplications yield one view
per role, built the way the operator's webhook merges template and CRD fields; the places
where settings are written but ignored (misplaced fields, overridden templates) are checked
on the raw manifest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from profiler.errors import UsageError
from profiler.k8s.install import LINT_IGNORE_ANNOTATION
from profiler.k8s.manifests import read_text, yaml_problem
from profiler.k8s.paths import localhost_profile_problem
from profiler.k8s.rules import RULES_BY_ID, Rule, Severity
from profiler.k8s.translate import SPARK_CONTAINER_NAMES, TEMPLATE_CONTAINER_CONF

YamlPath = tuple[str | int, ...]

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


def render_path(path: YamlPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
class LintReport:
    findings: tuple[Finding, ...]
    suppressed: tuple[Finding, ...] = ()
    documents: int = 0
    skipped: tuple[str, ...] = ()  # kinds of the documents the linter does not know

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

    def add(self, rule_id: str, path: YamlPath, message: str, fix: str | None = None) -> None:
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
                _line_of(self.node, path),
            )
        )


# ---------------------------------------------------------------------------------------
# Entry points


def lint_files(paths: Iterable[Path], profiles_dir: Path | None = None) -> LintReport:
    """Lint every document of every file; unreadable files and bad YAML are usage errors."""
    if profiles_dir is not None and not Path(profiles_dir).is_dir():
        raise UsageError(f"profiles directory {profiles_dir} does not exist")
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    skipped: list[str] = []
    documents = 0
    for path in paths:
        report = lint_text(read_text(path), str(path), profiles_dir)
        findings += report.findings
        suppressed += report.suppressed
        skipped += report.skipped
        documents += report.documents
    return LintReport(tuple(findings), tuple(suppressed), documents, tuple(skipped))


def lint_text(text: str, file: str = "<stdin>", profiles_dir: Path | None = None) -> LintReport:
    try:
        data = list(yaml.safe_load_all(text))
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise UsageError(f"{file}: {yaml_problem(exc)}", "fix the YAML and run again") from None
    findings: list[Finding] = []
    suppressed: list[Finding] = []
    skipped: list[str] = []
    documents = 0
    for index, (doc, node) in enumerate(zip(data, nodes, strict=True), start=1):
        if doc is None:
            continue
        for item, item_node, prefix in _expand_lists(doc, node):
            documents += 1
            sink = _Sink(file, index, _resource_name(item), item_node)
            if not lint_manifest(item, sink, profiles_dir, prefix):
                skipped.append(sink.resource.split("/")[0])
            ignored = _ignored_rules(item)
            for finding in sink.findings:
                (suppressed if finding.rule.id in ignored else findings).append(finding)
    return LintReport(tuple(findings), tuple(suppressed), documents, tuple(skipped))


def lint_manifest(
    doc: Any, sink: _Sink, profiles_dir: Path | None = None, prefix: YamlPath = ()
) -> bool:
    """Add the findings of one manifest to ``sink``; False when its kind is not linted."""
    if not isinstance(doc, dict):
        return False
    kind = doc.get("kind")
    if kind in SPARK_KINDS:
        base = prefix + SPARK_KINDS[kind]
        app_spec = _dict(_get(doc, SPARK_KINDS[kind]))
        views = _spark_views(app_spec, base, sink)
        for index, volume in enumerate(app_spec.get("volumes") or []):
            if isinstance(volume, dict):
                _check_volume(volume, base + ("volumes", index), sink)
    elif kind in POD_SPEC_PATHS:
        pod_path = prefix + POD_SPEC_PATHS[kind]
        views = [_pod_view(_dict(_get(doc, POD_SPEC_PATHS[kind])), pod_path, "pod", sink)]
    else:
        return False
    for view in views:
        _check_pod(view, sink, profiles_dir)
    return True


# ---------------------------------------------------------------------------------------
# Building views


def _pod_view(spec: dict[str, Any], path: YamlPath, label: str, sink: _Sink) -> PodView:
    raw_ctx = spec.get("securityContext")
    context = Context(_dict_or_none(raw_ctx), path + ("securityContext",))
    containers: list[ContainerView] = []
    for key, role in (("initContainers", "init container"), ("containers", "container")):
        for index, container in enumerate(spec.get(key) or []):
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
        [(v, path + ("volumes", i)) for i, v in enumerate(spec.get("volumes") or [])],
    )


def _container_view(container: dict[str, Any], path: YamlPath, role: str) -> ContainerView:
    ports = [
        (port, path + ("ports", i))
        for i, port in enumerate(container.get("ports") or [])
        if isinstance(port, dict)
    ]
    return ContainerView(
        str(container.get("name", "?")),
        role,
        Context(_dict_or_none(container.get("securityContext")), path + ("securityContext",)),
        ports,
    )


def _spark_views(app_spec: dict[str, Any], base: YamlPath, sink: _Sink) -> list[PodView]:
    views = []
    for role in ("driver", "executor"):
        role_path = base + (role,)
        role_spec = _dict(app_spec.get(role))
        template = role_spec.get("template")
        template_spec = _dict(_dict(template).get("spec"))
        spec_path = role_path + ("template", "spec")
        containers = [c for c in template_spec.get("containers") or [] if isinstance(c, dict)]
        spark_index = _spark_container_index(containers, app_spec, role)

        crd_pod = _dict_or_none(role_spec.get("podSecurityContext"))
        template_pod = _dict_or_none(template_spec.get("securityContext"))
        crd_pod_ctx = Context(crd_pod, role_path + ("podSecurityContext",))
        template_pod_ctx = Context(template_pod, spec_path + ("securityContext",))
        if crd_pod is not None:
            pod_ctx = crd_pod_ctx
        elif template_pod is not None or isinstance(template, dict):
            pod_ctx = template_pod_ctx
        else:
            pod_ctx = crd_pod_ctx

        crd_ctr = _dict_or_none(role_spec.get("securityContext"))
        crd_ctr_ctx = Context(crd_ctr, role_path + ("securityContext",))
        spark_path = spec_path + ("containers", spark_index) if spark_index is not None else None
        template_ctr = containers[spark_index] if spark_index is not None else {}
        template_ctr_ctx = Context(
            _dict_or_none(template_ctr.get("securityContext")),
            (spark_path or spec_path + ("containers", 0)) + ("securityContext",),
        )
        use_crd_ctr = crd_ctr is not None or spark_path is None
        spark_ctx = crd_ctr_ctx if use_crd_ctr else template_ctr_ctx

        container_names = SPARK_CONTAINER_NAMES[role][0]
        spark_view = ContainerView(
            str(template_ctr.get("name", container_names)),
            f"Spark {role} container",
            spark_ctx,
            [(p, spark_path + ("ports", i)) for i, p in enumerate(template_ctr.get("ports") or [])]
            if spark_path
            else [],
            needs_context=False,
        )
        others: list[ContainerView] = []
        for index, container in enumerate(containers):
            if index != spark_index:
                others.append(
                    _container_view(container, spec_path + ("containers", index), "sidecar")
                )
        for key, kind in (("initContainers", "init container"), ("sidecars", "sidecar")):
            for index, container in enumerate(template_spec.get(key) or []):
                if key == "initContainers" and isinstance(container, dict):
                    others.append(_container_view(container, spec_path + (key, index), kind))
            for index, container in enumerate(role_spec.get(key) or []):
                if isinstance(container, dict):
                    others.append(_container_view(container, role_path + (key, index), kind))

        # Written but ignored: misplaced fields and template contexts the CRD replaces.
        if crd_pod is not None:
            _check_misplaced_pod_fields(crd_pod_ctx, [crd_ctr_ctx.path], sink)
        if template_pod is not None:
            _check_misplaced_pod_fields(template_pod_ctx, [spark_ctx.path], sink)
        for written in (crd_ctr_ctx, template_ctr_ctx, *[o.context for o in others]):
            if written.value is not None:
                pod_target = crd_pod_ctx.path if written is crd_ctr_ctx else pod_ctx.path
                _check_misplaced_container_fields(written, pod_target, sink)
        if crd_pod is not None and template_pod is not None:
            sink.add(
                "template-overridden-by-crd",
                template_pod_ctx.path,
                f"the {role} template's pod securityContext is replaced wholesale by "
                f"{render_path(crd_pod_ctx.path)}; none of its settings take effect",
                f"move the settings you need into {render_path(crd_pod_ctx.path)} "
                "or drop podSecurityContext",
            )
        if crd_ctr is not None and template_ctr_ctx.value is not None and spark_path is not None:
            sink.add(
                "template-overridden-by-crd",
                template_ctr_ctx.path,
                f"the {role} template's Spark container securityContext is replaced wholesale "
                f"by {render_path(crd_ctr_ctx.path)}; none of its settings take effect",
                f"move the settings you need into {render_path(crd_ctr_ctx.path)} "
                "or drop securityContext",
            )

        host_fields = [
            (name, template_spec.get(name), spec_path + (name,)) for name in HOST_NAMESPACE_FIELDS
        ]
        host_fields.append(
            ("hostNetwork", role_spec.get("hostNetwork"), role_path + ("hostNetwork",))
        )
        volumes = [
            (v, spec_path + ("volumes", i))
            for i, v in enumerate(template_spec.get("volumes") or [])
        ]
        views.append(PodView(f"{role} pod", pod_ctx, [spark_view, *others], host_fields, volumes))
    return views


def _spark_container_index(
    containers: list[dict[str, Any]], app_spec: dict[str, Any], role: str
) -> int | None:
    if not containers:
        return None
    wanted = _dict(app_spec.get("sparkConf")).get(TEMPLATE_CONTAINER_CONF.format(role=role))
    names = (wanted,) if wanted else SPARK_CONTAINER_NAMES[role]
    for index, container in enumerate(containers):
        if container.get("name") in names:
            return index
    return 0


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
        _check_profile(
            pod_profile, view.context.path + ("seccompProfile",), view.label, sink, profiles_dir
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
        str(a) for a in capabilities.get("add") or [] if str(a) not in ALLOWED_ADDED_CAPABILITIES
    ]
    if added:
        sink.add(
            "capabilities-added",
            ctx.path + ("capabilities", "add"),
            f"{who} adds {', '.join(added)}",
        )
    if "ALL" not in [str(d) for d in capabilities.get("drop") or []]:
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
    return {part.strip() for part in str(raw).split(",") if part.strip()} if raw else set()


def _expand_lists(doc: Any, node: yaml.Node) -> list[tuple[Any, yaml.Node | None, YamlPath]]:
    """A `kind: List` (kubectl get -o yaml) counts as its items."""
    if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        return [(item, node, ("items", i)) for i, item in enumerate(doc["items"])]
    return [(doc, node, ())]


def _resource_name(doc: Any) -> str:
    if not isinstance(doc, dict):
        return type(doc).__name__
    name = _dict(doc.get("metadata")).get("name", "?")
    return f"{doc.get('kind', '?')}/{name}"


def _line_of(node: yaml.Node | None, path: YamlPath) -> int | None:
    """The line of the deepest node of ``path`` that exists in the document."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in path:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if child is not None:
                key = next(k for k, v in node.value if v is child)
                line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
            if child is not None:
                line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
