"""`k8s harden`, the pure half: a user's SparkApplication, edited into its hardened twin.

Each SparkApplication (or ScheduledSparkApplication's ``spec.template``) gets, per role, what
the operator's own guidance recommends and PSS "restricted" demands: a ``seccompProfile``
on the Spark container (``Localhost`` pointing at the role's recorded profile, or
``RuntimeDefault``) with ``RuntimeDefault`` at pod level, where the sandbox's pause gets it,
``runAsNonRoot`` with a numeric ``runAsUser``, and on the Spark container
``allowPrivilegeEscalation: false``, ``capabilities: drop: [ALL]`` and
``readOnlyRootFilesystem: true`` with an emptyDir wherever Spark writes. Where those go
follows the operator release (``operator``): the role's pod ``template`` when the release and
the Spark version have templates, else the CRD's ``podSecurityContext`` / ``securityContext``
/ ``volumeMounts``, which only the operator's webhook copies into the pods. In template style
the CRD's security fields are moved into the template, because the webhook would replace
the template's contexts with them wholesale.

Every other field of the user's stays as written: the manifest is edited in place with
ruamel.yaml's round-trip mode, which keeps key order, comments and quoting (PyYAML, which the
rest of the tool reads with, drops comments). A container other than Spark's (sidecars, init
containers) gets ``RuntimeDefault`` at container level, since the role's profile was
recorded from Spark's processes only. The same input gives the same bytes.

The file names of the node profiles follow from the application's name alone
(``<name>-driver.json``, ``<name>-executor.json``), so the manifest can be written before
the profiles exist and ``k8s install`` puts them where the manifest points.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from profiler.errors import UsageError
from profiler.k8s import install, paths
from profiler.k8s.lint import CONTAINER_ONLY_FIELDS, POD_ONLY_FIELDS
from profiler.k8s.manifests import Manifest, parse_yaml, render_path
from profiler.k8s.models import validate_manifest
from profiler.k8s.operator import (
    ROLES,
    SPARK_CONTAINER,
    Operator,
    operator_for,
    spark_container_index,
    spark_version_below_3,
)
from profiler.k8s.sparkapp import POD_SECCOMP_PROFILE, Seccomp, Style
from profiler.k8s.spo import SpoApi
from profiler.k8s.translate import SPARK_KINDS
from profiler.runtime.interface import SPARK_UID, WRITABLE_PATHS

# Capabilities PSS "restricted" lets a container add back.
ALLOWED_ADDED_CAPABILITIES = ("NET_BIND_SERVICE",)
LOCAL_DIR_PREFIX = "spark-local-dir-"


@dataclass(frozen=True)
class HardenOptions:
    operator: Operator = field(default_factory=operator_for)
    seccomp: Seccomp = Seccomp.LOCALHOST
    style: Style | None = None  # None: the template where operator and Spark allow it
    profile_dir: str = paths.DEFAULT_PROFILE_DIR
    spo: bool = False  # profiles installed by the Security Profiles Operator
    uid: int = SPARK_UID  # runAsUser when the manifest sets none (or root)


@dataclass(frozen=True)
class HardenedApp:
    """One application, before and after."""

    kind: str
    namespace: str
    name: str
    source: str
    style: Style
    original: str  # the document as read (round-tripped: byte-identical for plain YAML)
    text: str  # the hardened document
    profiles: dict[str, str]  # role -> localhostProfile ({} with RuntimeDefault)
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"

    def diff(self, after_name: str | None = None) -> str:
        """A unified diff from the document as read to the hardened one."""
        lines = difflib.unified_diff(
            self.original.splitlines(keepends=True),
            self.text.splitlines(keepends=True),
            fromfile=self.source,
            tofile=after_name or f"{self.name}.yaml",
        )
        return "".join(lines)


def profile_file_name(app_name: str, role: str) -> str:
    """The node file of a role's profile: ``<name>-<role>.json``."""
    return paths.node_file_name(f"{app_name}-{role}.json")


def localhost_profiles(app_name: str, options: HardenOptions) -> dict[str, str]:
    """role -> the ``localhostProfile`` value the hardened manifest points at."""
    if options.seccomp is Seccomp.RUNTIME_DEFAULT:
        return {}
    directory = paths.SPO_PROFILE_DIR if options.spo else options.profile_dir
    return {
        role: paths.localhost_profile(
            paths.node_file_name(profile_file_name(app_name, role), spo=options.spo), directory
        )
        for role in ROLES
    }


def seccomp_tree(app: HardenedApp, role_profiles: Mapping[str, str]) -> dict[str, str]:
    """What goes under <kubelet-root>/seccomp for one application: its ``localhostProfile``
    paths, each with the role's profile text. Empty with RuntimeDefault."""
    missing = [role for role in app.profiles if role not in role_profiles]
    if missing:
        raise ValueError(f"no profile for the {', '.join(missing)} of {app.label}")
    return {app.profiles[role]: role_profiles[role] for role in sorted(app.profiles)}


def install_manifests(
    tree: Mapping[str, str],
    options: HardenOptions,
    *,
    spo_api: SpoApi = SpoApi.V1,
    namespace: str = install.DEFAULT_NAMESPACE,
    kubelet_root: str = paths.DEFAULT_KUBELET_ROOT,
) -> tuple[list[Manifest], tuple[str, ...]]:
    """The installer of a seccomp tree (``k8s install``'s DaemonSet and ConfigMap, or SPO
    SeccompProfiles with ``options.spo``) and its notes."""
    node_profiles = [
        install.NodeProfile(PurePosixPath(path).name, text) for path, text in sorted(tree.items())
    ]
    if options.spo:
        result = install.build_spo_profiles(node_profiles, spo_api)
        return result.manifests, result.notes
    manifests = install.build_installer(
        node_profiles,
        namespace=namespace,
        directory=options.profile_dir,
        kubelet_root=kubelet_root,
    )
    return manifests, ()


def harden_text(text: str, source: str, options: HardenOptions) -> tuple[HardenedApp, ...]:
    """Every Spark application of one YAML file, hardened; other documents are left out."""
    stream = parse_yaml(text)
    if stream.problem is not None:
        raise UsageError(f"{source}: {stream.problem.describe()}", "fix the YAML and run again")
    plain = [d for d in stream.documents]
    for document in plain:
        if document.duplicates:
            dup = document.duplicates[0]
            raise UsageError(
                f"{source}:{dup.line}: {render_path(dup.path)} is written twice "
                f"(also on line {dup.first_line}); kubectl rejects the document",
                "remove one of the two keys",
            )
    yaml_rt = _round_trip(text)
    try:
        edited = [d for d in yaml_rt.load_all(text) if d is not None]
    except YAMLError as exc:
        raise UsageError(f"{source}: invalid YAML: {exc}", "fix the YAML and run again") from None
    if len(edited) != len(plain):
        raise UsageError(f"{source}: the documents could not be read alike twice")
    apps: list[HardenedApp] = []
    for data, document in zip(edited, plain, strict=True):
        if not isinstance(document.data, dict) or document.data.get("kind") not in SPARK_KINDS:
            continue
        problems = validate_manifest(document.data)
        if problems:
            raise UsageError(
                f"{source}: {problems[0].describe()}",
                "fix the manifest (`spark-seccomp k8s lint` lists every problem)",
            )
        apps.append(_harden_document(data, yaml_rt, source, options))
    if not apps:
        raise UsageError(
            f"{source}: no SparkApplication or ScheduledSparkApplication found",
            "pass the application's manifest",
        )
    return tuple(apps)


# ---------------------------------------------------------------------------------------
# One application


def _harden_document(
    doc: CommentedMap, yaml_rt: YAML, source: str, options: HardenOptions
) -> HardenedApp:
    original = _dump(yaml_rt, doc)
    kind = str(doc["kind"])
    meta = doc.get("metadata") or {}
    name = str(meta.get("name"))
    namespace = str(meta.get("namespace") or "default")
    app_spec: CommentedMap = doc["spec"] if kind == "SparkApplication" else doc["spec"]["template"]
    base = SPARK_KINDS[kind]
    style = resolve_style(options, app_spec.get("sparkVersion"))
    profiles = localhost_profiles(name, options)
    notes: list[str] = []
    for role in ROLES:
        seccomp = _seccomp_profile(profiles.get(role))
        role_path = (*base, role)
        if style is Style.TEMPLATE:
            _harden_template_role(app_spec, role, role_path, seccomp, options, notes)
        else:
            _harden_fields_role(app_spec, role, role_path, seccomp, options, notes)
    text = _dump(yaml_rt, doc)
    plain = yaml.safe_load(text)
    problems = validate_manifest(plain)
    if problems:  # a safety net: every input was validated before
        raise UsageError(
            f"{source}: the hardened {kind} {name!r} would not be valid: {problems[0].describe()}"
        )
    return HardenedApp(kind, namespace, name, source, style, original, text, profiles, tuple(notes))


def resolve_style(options: HardenOptions, spark_version: object) -> Style:
    """The template where the operator release and the Spark version have pod templates."""
    operator = options.operator
    why_not = None
    if not operator.has_template:
        why_not = f"{operator.name} has no pod template field (it came in 2.1.0)"
    elif spark_version_below_3(spark_version):
        why_not = f"Spark {spark_version} has no pod templates (they came in Spark 3.0.0)"
    style = options.style or (Style.TEMPLATE if why_not is None else Style.FIELDS)
    if style is Style.TEMPLATE and why_not is not None:
        raise UsageError(f"--style template cannot work: {why_not}", "use --style fields")
    if style is Style.FIELDS and not operator.webhook:
        raise UsageError(
            "the CRD's security fields need the operator's webhook: only the webhook copies "
            "them into the pods",
            "use --style template (operator 2.1.0 and later, Spark 3.0.0 and later)",
        )
    return style


def _harden_template_role(
    app_spec: CommentedMap,
    role: str,
    role_path: tuple[str, ...],
    seccomp: CommentedMap,
    options: HardenOptions,
    notes: list[str],
) -> None:
    role_spec = _map(app_spec, role)
    where = render_path(role_path)
    template_spec = _map(_map(role_spec, "template"), "spec")
    spec_where = f"{where}.template.spec"
    pod_context = _map(template_spec, "securityContext")
    containers = _seq(template_spec, "containers")
    index = spark_container_index(template_spec, role)
    if index is None:
        containers.append(CommentedMap([("name", SPARK_CONTAINER[role])]))
        index = len(containers) - 1
    spark = containers[index]
    container_context = _map(spark, "securityContext")
    # The operator's webhook would replace the template's contexts with the CRD's wholesale:
    # their settings move into the template, where they keep working.
    for key, target, target_where in (
        ("podSecurityContext", pod_context, f"{spec_where}.securityContext"),
        ("securityContext", container_context, f"{spec_where}.containers[{index}].securityContext"),
    ):
        moved = role_spec.pop(key, None)
        if isinstance(moved, dict) and moved:
            for name, value in moved.items():
                target[name] = value
            notes.append(
                f"{where}.{key} moved into {target_where}: the operator's webhook would "
                "replace the template's security context with it wholesale"
            )
    _put_fields_in_place(pod_context, container_context, spec_where, notes)
    _harden_pod_context(pod_context, options)
    _harden_spark_context(container_context, seccomp, options, f"{where} container", notes)
    taken_paths = _mount_paths(spark.get("volumeMounts"))
    if options.operator.webhook:
        taken_paths |= _mount_paths(role_spec.get("volumeMounts"))
    taken_names = _volume_names(template_spec.get("volumes")) | _volume_names(
        app_spec.get("volumes")
    )
    missing = [(n, p) for n, p in writable_mounts() if p not in taken_paths]
    if missing:
        volumes = _seq(template_spec, "volumes")
        mounts = _seq(spark, "volumeMounts")
        for volume_name, path in missing:
            volume_name = _unique(volume_name, taken_names)
            taken_names.add(volume_name)
            volumes.append(_empty_dir(volume_name))
            mounts.append(CommentedMap([("name", volume_name), ("mountPath", path)]))
    others = [
        (c, f"{spec_where}.containers[{i}]")
        for i, c in enumerate(containers)
        if i != index and isinstance(c, CommentedMap)
    ]
    for i, container in enumerate(_list(template_spec.get("initContainers"))):
        if isinstance(container, CommentedMap):
            others.append((container, f"{spec_where}.initContainers[{i}]"))
    others += _crd_containers(role_spec, where, options)
    for container, container_where in others:
        _harden_other_container(container, container_where, notes)


def _harden_fields_role(
    app_spec: CommentedMap,
    role: str,
    role_path: tuple[str, ...],
    seccomp: CommentedMap,
    options: HardenOptions,
    notes: list[str],
) -> None:
    role_spec = _map(app_spec, role)
    where = render_path(role_path)
    if isinstance(role_spec.get("template"), dict):
        notes.append(
            f"{where}.template is left as written: {options.operator.name} with this "
            "sparkVersion does not use it; the CRD's fields carry the settings"
        )
    pod_context = _map(role_spec, "podSecurityContext")
    container_context = _map(role_spec, "securityContext")
    _put_fields_in_place(pod_context, container_context, where, notes)
    _harden_pod_context(pod_context, options)
    _harden_spark_context(container_context, seccomp, options, f"{where} container", notes)
    taken_paths = _mount_paths(role_spec.get("volumeMounts"))
    taken_names = _volume_names(app_spec.get("volumes"))
    missing = [(n, p) for n, p in writable_mounts() if p not in taken_paths]
    if missing:
        volumes = _seq(app_spec, "volumes")
        mounts = _seq(role_spec, "volumeMounts")
        existing = {v.get("name"): v for v in volumes if isinstance(v, dict)}
        for volume_name, path in missing:
            ours = existing.get(volume_name)
            if ours is None or dict(ours) != dict(_empty_dir(volume_name)):
                # Not our own emptyDir of the other role: a name of its own.
                volume_name = _unique(volume_name, taken_names)
                taken_names.add(volume_name)
                volume = _empty_dir(volume_name)
                volumes.append(volume)
                existing[volume_name] = volume
            mounts.append(CommentedMap([("name", volume_name), ("mountPath", path)]))
    for container, container_where in _crd_containers(role_spec, where, options):
        _harden_other_container(container, container_where, notes)


def writable_mounts() -> list[tuple[str, str]]:
    """(volume name, mount path) of each emptyDir a read-only Spark container needs. Spark
    mounts its local dir (spark-local-dir-1) itself."""
    return [(path.strip("/").replace("/", "-"), path) for path in WRITABLE_PATHS]


# ---------------------------------------------------------------------------------------
# Security contexts


def _seccomp_profile(localhost: str | None) -> CommentedMap:
    if localhost is None:
        return CommentedMap([("type", "RuntimeDefault")])
    return CommentedMap([("type", "Localhost"), ("localhostProfile", localhost)])


def _put_fields_in_place(
    pod_context: CommentedMap, container_context: CommentedMap, where: str, notes: list[str]
) -> None:
    """A container-only field in the pod's context, or a pod-only one in the container's, is
    silently ignored there: it moves where it takes effect (unless set there already)."""
    for source, target, names, level in (
        (pod_context, container_context, CONTAINER_ONLY_FIELDS, "the Spark container's"),
        (container_context, pod_context, POD_ONLY_FIELDS, "the pod's"),
    ):
        for name in names:
            if name in source:
                value = source.pop(name)
                if name not in target:
                    target[name] = value
                notes.append(f"{where}: {name} moved into {level} securityContext, where it counts")


def _harden_pod_context(context: CommentedMap, options: HardenOptions) -> None:
    _set(context, "runAsNonRoot", True)
    if not _is_uid(context.get("runAsUser")) or context.get("runAsUser") == 0:
        context["runAsUser"] = options.uid
    if not _is_uid(context.get("runAsGroup")):
        context["runAsGroup"] = options.uid
    # The role's profile goes on the Spark container; the pod's own is RuntimeDefault,
    # because the kubelet gives the pod-level profile to the sandbox's pause as well
    # (see profiler.k8s.sparkapp.POD_SECCOMP_PROFILE).
    _set_seccomp(context, CommentedMap(POD_SECCOMP_PROFILE.items()))


def _harden_spark_context(
    context: CommentedMap,
    seccomp: CommentedMap,
    options: HardenOptions,
    where: str,
    notes: list[str],
) -> None:
    _set(context, "allowPrivilegeEscalation", False)
    _drop_all(context, where, notes)
    _set(context, "readOnlyRootFilesystem", True)
    if context.get("privileged") is True:
        context["privileged"] = False
        notes.append(f"{where}: privileged: true turned off (it disables every other setting)")
    # Container-level values win over the pod's: where the user wrote them, they are
    # hardened too instead of being left to undo the pod's.
    if "runAsNonRoot" in context:
        _set(context, "runAsNonRoot", True)
    if "runAsUser" in context and (not _is_uid(context["runAsUser"]) or context["runAsUser"] == 0):
        context["runAsUser"] = options.uid
    _set_seccomp(context, seccomp)


def _harden_other_container(container: CommentedMap, where: str, notes: list[str]) -> None:
    """A sidecar or init container: PSS "restricted" settings, and RuntimeDefault at container
    level, since the role's recorded profile knows only Spark's processes."""
    context = _map(container, "securityContext")
    if "seccompProfile" not in context:
        context["seccompProfile"] = CommentedMap([("type", "RuntimeDefault")])
        name = container.get("name", "?")
        notes.append(
            f"{where} ({name}): seccompProfile RuntimeDefault at container level: the role's "
            "profile was recorded from Spark's processes only"
        )
    _set(context, "allowPrivilegeEscalation", False)
    _drop_all(context, where, notes)
    if context.get("privileged") is True:
        context["privileged"] = False
        notes.append(f"{where}: privileged: true turned off")


def _drop_all(context: CommentedMap, where: str, notes: list[str]) -> None:
    capabilities = _map(context, "capabilities")
    drop = capabilities.get("drop")
    if not (isinstance(drop, list) and "ALL" in drop):
        capabilities["drop"] = CommentedSeq(["ALL"])
    added = capabilities.get("add")
    if isinstance(added, list):
        kept = [c for c in added if c in ALLOWED_ADDED_CAPABILITIES]
        removed = [str(c) for c in added if c not in ALLOWED_ADDED_CAPABILITIES]
        if removed:
            notes.append(
                f"{where}: capabilities.add {', '.join(removed)} removed (PSS restricted "
                "allows NET_BIND_SERVICE only)"
            )
            if kept:
                capabilities["add"] = CommentedSeq(kept)
            else:
                del capabilities["add"]


def _set_seccomp(context: CommentedMap, seccomp: CommentedMap) -> None:
    current = context.get("seccompProfile")
    if not (isinstance(current, dict) and dict(current) == dict(seccomp)):
        context["seccompProfile"] = CommentedMap(seccomp.items())


# ---------------------------------------------------------------------------------------
# Helpers on the round-trip tree


def _crd_containers(
    role_spec: CommentedMap, where: str, options: HardenOptions
) -> list[tuple[CommentedMap, str]]:
    if not options.operator.webhook:
        return []
    found = []
    for key in ("sidecars", "initContainers"):
        for i, container in enumerate(_list(role_spec.get(key))):
            if isinstance(container, CommentedMap):
                found.append((container, f"{where}.{key}[{i}]"))
    return found


def _set(mapping: CommentedMap, key: str, value: Any) -> None:
    """Set a value unless it is there already (an unchanged key keeps its formatting)."""
    if mapping.get(key) != value or type(mapping.get(key)) is not type(value):
        mapping[key] = value


def _map(parent: CommentedMap, key: str) -> CommentedMap:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = CommentedMap()
        parent[key] = value
    return value


def _seq(parent: CommentedMap, key: str) -> CommentedSeq:
    value = parent.get(key)
    if not isinstance(value, list):
        value = CommentedSeq()
        parent[key] = value
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mount_paths(mounts: Any) -> set[str]:
    return {str(m.get("mountPath")) for m in _list(mounts) if isinstance(m, dict)}


def _volume_names(volumes: Any) -> set[str]:
    return {str(v.get("name")) for v in _list(volumes) if isinstance(v, dict)}


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    candidate = f"spark-seccomp-{name}"
    index = 2
    while candidate in taken:
        candidate = f"spark-seccomp-{name}-{index}"
        index += 1
    return candidate


def _empty_dir(name: str) -> CommentedMap:
    return CommentedMap([("name", name), ("emptyDir", CommentedMap())])


def _is_uid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------
# Round-trip YAML


def _round_trip(text: str) -> YAML:
    """A round-trip reader and writer that writes lists and mappings indented as ``text``."""
    yaml_rt = YAML(typ="rt")
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096  # never re-wrap a long value
    mapping, offset = _indentation(text)
    yaml_rt.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml_rt


def _indentation(text: str) -> tuple[int, int]:
    """(mapping indent, offset of a list's dash under its key), as the file writes them."""
    nested = re.search(r"^( *)[^\s#-][^:\n]*:[ \t]*\n\1( +)[^\s#-]", text, re.M)
    listed = re.search(r"^( *)[^\s#-][^:\n]*:[ \t]*\n( *)- ", text, re.M)
    mapping = len(nested.group(2)) if nested else 2
    offset = max(0, len(listed.group(2)) - len(listed.group(1))) if listed else 0
    return mapping, offset


def _dump(yaml_rt: YAML, doc: CommentedMap) -> str:
    out = io.StringIO()
    yaml_rt.dump(doc, out)
    return out.getvalue()
