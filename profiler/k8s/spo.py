"""The Security Profiles Operator's resources: SeccompProfile and ProfileRecording.

The models are written from SPO's API types (kubernetes-sigs/security-profiles-operator,
tag v1.0.0, 3452bfbe): api/seccompprofile/v1/seccompprofile_types.go (the storage version
since v1.0.0; v1beta1 is still served with the same spec), api/profilebase/v1 (``state``),
api/profilerecording/v1/profilerecording_types.go, and for SPO 0.x (v0.10.1, 22c94863)
api/profilerecording/v1alpha1 whose enum values are lower case. SeccompProfile is
cluster-scoped; SPO installs ``<name>.json`` under ``<kubelet-root>/seccomp/operator/``
(``GetProfilePath``). A recording with ``mergeStrategy: Containers`` yields one
``<recording>-<container>`` profile labelled ``spo.x-k8s.io/recording-id`` and
``spo.x-k8s.io/container-id`` (internal/pkg/daemon/profilerecorder ``createProfileName``,
``profileLabels``); the recording name must be a DNS-1123 label for that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from profiler.errors import UsageError
from profiler.formats.seccomp import ARG_OPS
from profiler.k8s.manifests import Manifest, YamlPath, line_of, parse_yaml, read_text
from profiler.k8s.models import (
    Dns1123Label,
    Dns1123Subdomain,
    FieldProblem,
    LabelKey,
    LabelValue,
    Str,
    validate_model,
)
from profiler.seccomp.profile import ACTIONS, ArgCondition, Profile, SyscallRule

GROUP = "security-profiles-operator.x-k8s.io"
LABEL_RECORDING = "spo.x-k8s.io/recording-id"
LABEL_CONTAINER = "spo.x-k8s.io/container-id"
LABEL_PARTIAL = "spo.x-k8s.io/partial"
NAMESPACE_RECORDING_LABEL = "spo.x-k8s.io/enable-recording"


class SpoApi(str, enum.Enum):
    """Which SPO generation to write for: 1.x (v1 everywhere) or 0.x."""

    V1 = "v1"
    V1BETA1 = "v1beta1"

    @property
    def seccomp_profile(self) -> str:
        return f"{GROUP}/{self.value}"

    @property
    def profile_recording(self) -> str:
        return f"{GROUP}/v1" if self is SpoApi.V1 else f"{GROUP}/v1alpha1"


ARCHES = (
    "SCMP_ARCH_NATIVE",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
)
FLAGS = (
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
)


def _one_of(values: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in values:
            raise PydanticCustomError("enum", f"must be one of {', '.join(values)}")
        return value

    return AfterValidator(check)


Action = Annotated[str, Field(strict=True), _one_of(ACTIONS)]
Op = Annotated[str, Field(strict=True), _one_of(ARG_OPS)]
Arch = Annotated[str, Field(strict=True), _one_of(ARCHES)]
Flag = Annotated[str, Field(strict=True), _one_of(FLAGS)]
Int32 = Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
Int64 = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Meta(_Strict):
    name: Dns1123Subdomain
    namespace: Dns1123Label | None = None
    labels: dict[LabelKey, LabelValue] | None = None
    annotations: dict[Str, Str] | None = None


class SpoArg(_Strict):
    index: Annotated[int, Field(strict=True, ge=0, le=5)]
    value: Int64 | None = None
    valueTwo: Int64 | None = None
    op: Op


class SpoSyscall(_Strict):
    names: Annotated[list[Str], Field(min_length=1)]
    action: Action
    errnoRet: Int32 | None = None
    args: Annotated[list[SpoArg], Field(max_length=6)] | None = None


class SeccompProfileSpec(_Strict):
    state: Literal["Enabled", "Disabled"] | None = None
    baseProfileName: Str | None = None
    defaultAction: Action
    architectures: list[Arch] | None = None
    listenerPath: Str | None = None
    listenerMetadata: Str | None = None
    syscalls: list[SpoSyscall] | None = None
    flags: list[Flag] | None = None


class SeccompProfileResource(_Strict):
    apiVersion: Literal[
        "security-profiles-operator.x-k8s.io/v1", "security-profiles-operator.x-k8s.io/v1beta1"
    ]
    kind: Literal["SeccompProfile"]
    metadata: _Meta
    spec: SeccompProfileSpec


class _LabelSelectorRequirement(_Strict):
    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[LabelValue] | None = None


class _LabelSelector(_Strict):
    matchLabels: dict[LabelKey, LabelValue] | None = None
    matchExpressions: list[_LabelSelectorRequirement] | None = None


class ProfileRecordingSpecV1(_Strict):
    kind: Literal["SeccompProfile", "SelinuxProfile", "AppArmorProfile"]
    recorder: Literal["Bpf", "Logs"]
    mergeStrategy: Literal["None", "Containers"] | None = None
    podSelector: _LabelSelector
    containers: list[Str] | None = None
    disableProfileAfterRecording: bool | None = None


class ProfileRecordingSpecV1Alpha1(_Strict):
    kind: Literal["SeccompProfile", "SelinuxProfile", "ApparmorProfile"]
    recorder: Literal["bpf", "logs"]
    mergeStrategy: Literal["none", "containers"]
    podSelector: _LabelSelector
    containers: list[Str] | None = None
    disableProfileAfterRecording: bool | None = None


class _RecordingMeta(_Meta):
    # The recording's name becomes a label value of the profiles it merges.
    name: Dns1123Label


class ProfileRecordingV1(_Strict):
    apiVersion: Literal["security-profiles-operator.x-k8s.io/v1"]
    kind: Literal["ProfileRecording"]
    metadata: _RecordingMeta
    spec: ProfileRecordingSpecV1


class ProfileRecordingV1Alpha1(_Strict):
    apiVersion: Literal["security-profiles-operator.x-k8s.io/v1alpha1"]
    kind: Literal["ProfileRecording"]
    metadata: _RecordingMeta
    spec: ProfileRecordingSpecV1Alpha1


def check_generated(doc: Manifest) -> None:
    """A generated SPO resource must validate; a failure here is the tool's bug or bad input
    that slipped through, and is reported like bad input."""
    kind = doc.get("kind")
    model: type[BaseModel]
    if kind == "SeccompProfile":
        model = SeccompProfileResource
    elif doc.get("apiVersion") == f"{GROUP}/v1":
        model = ProfileRecordingV1
    else:
        model = ProfileRecordingV1Alpha1
    problems = validate_model(model, doc)
    if problems:
        name = doc.get("metadata", {}).get("name")
        raise UsageError(
            f"the {kind} {name!r} would not be valid: {problems[0].describe()}",
            "fix the input named in the message",
        )


# ---------------------------------------------------------------------------------------
# Writing


def seccomp_profile_resource(
    name: str, profile: Profile, labels: dict[str, str], api: SpoApi = SpoApi.V1
) -> tuple[Manifest, tuple[str, ...]]:
    """One SeccompProfile for ``profile``, and notes on what SPO's spec cannot carry."""
    body = profile.to_dict()
    notes: list[str] = []
    if "defaultErrnoRet" in body:
        # The SeccompProfile spec has no such field; runtimes ignore it anyway
        # (see DESIGN.md), so per-rule errnoRet values carry the meaning.
        del body["defaultErrnoRet"]
        notes.append(f"{name}: defaultErrnoRet dropped (not in SeccompProfile)")
    manifest: Manifest = {
        "apiVersion": api.seccomp_profile,
        "kind": "SeccompProfile",
        "metadata": {"name": name, "labels": dict(labels)},
        "spec": body,
    }
    check_generated(manifest)
    return manifest, tuple(notes)


# ---------------------------------------------------------------------------------------
# Reading what SPO recorded


@dataclass(frozen=True)
class ImportedProfile:
    """One SeccompProfile read from a file, as the project's profile model."""

    name: str
    source: str  # file:line
    profile: Profile
    recording: str | None  # spo.x-k8s.io/recording-id
    container: str | None  # spo.x-k8s.io/container-id
    partial: bool
    base_profile: str | None

    @property
    def workload(self) -> str:
        """How the summary names where the calls came from."""
        if self.recording and self.container:
            return f"spo:{self.recording}/{self.container}"
        return f"spo:{self.name}"


def read_seccomp_profiles(path: Path) -> list[ImportedProfile]:
    """Every SeccompProfile in a YAML file (single objects, several documents, ``kind: List``).

    Anything else in the file, or a SeccompProfile that breaks SPO's schema, is a usage
    error naming the file, line and field: an import must not silently drop a profile.
    """
    stream = parse_yaml(read_text(path))
    if stream.problem is not None:
        raise UsageError(f"{path}: {stream.problem.describe()}", "fix the YAML and run again")
    found: list[ImportedProfile] = []
    for document in stream.documents:
        data = document.data
        if document.duplicates:
            dup = document.duplicates[0]
            raise UsageError(
                f"{path}:{dup.line}: {'.'.join(map(str, dup.path))} is written twice",
                "remove one of the two keys",
            )
        items: list[tuple[Any, YamlPath]]
        if isinstance(data, dict) and data.get("kind") in ("List", "SeccompProfileList"):
            raw_items = data.get("items")
            if not isinstance(raw_items, list):
                raise UsageError(
                    f"{path}:{line_of(document.node, ('items',))}: items of a List must be a list"
                )
            items = [(item, ("items", i)) for i, item in enumerate(raw_items)]
        else:
            items = [(data, ())]
        for item, prefix in items:
            where = f"{path}:{line_of(document.node, prefix)}"
            if not isinstance(item, dict) or item.get("kind") != "SeccompProfile":
                kind = item.get("kind") if isinstance(item, dict) else type(item).__name__
                raise UsageError(
                    f"{where}: expected a SeccompProfile, found {kind!r}",
                    "export the profiles with `kubectl get seccompprofiles -o yaml`",
                )
            problems = validate_model(SeccompProfileResource, item)
            if problems:
                raise _bad_field(path, document.node, prefix, problems[0])
            found.append(_imported(item, f"{path}:{line_of(document.node, prefix)}"))
    if not found:
        raise UsageError(f"{path} holds no SeccompProfile", "pass `kubectl get sp -o yaml` output")
    return found


def _bad_field(path: Path, node: Any, prefix: YamlPath, problem: FieldProblem) -> UsageError:
    line = line_of(node, prefix + problem.path)
    return UsageError(
        f"{path}:{line}: {problem.describe()}",
        "fix the SeccompProfile (its schema is SPO's api/seccompprofile/v1)",
    )


def _imported(item: dict[str, Any], source: str) -> ImportedProfile:
    meta = item["metadata"]
    labels = meta.get("labels") or {}
    spec = item["spec"]
    rules = []
    for raw in spec.get("syscalls") or []:
        args = tuple(
            ArgCondition(a["index"], a.get("value") or 0, a["op"], a.get("valueTwo") or 0)
            for a in raw.get("args") or []
        )
        rules.append(
            SyscallRule(tuple(sorted(set(raw["names"]))), raw["action"], raw.get("errnoRet"), args)
        )
    profile = Profile(
        spec["defaultAction"],
        tuple(rules),
        None,
        tuple(spec.get("architectures") or ()),
        tuple(spec.get("flags") or ()),
    )
    return ImportedProfile(
        name=meta["name"],
        source=source,
        profile=profile,
        recording=labels.get(LABEL_RECORDING),
        container=labels.get(LABEL_CONTAINER),
        partial=labels.get(LABEL_PARTIAL) == "true",
        base_profile=spec.get("baseProfileName") or None,
    )


# ---------------------------------------------------------------------------------------
# Into the project's model: recordings, then one profile with its summary


def as_recordings(imported: list[ImportedProfile]) -> tuple[list[Any], tuple[str, ...]]:
    """Each SPO profile as one ``Recording`` of its workload (``spo:<recording>/<container>``),
    so it derives and merges like a local run: its allowed names are the calls "seen",
    the container is the process role, and the call counts are unknown (0)."""
    from profiler.seccomp.arch import canonical_arch, native_arch
    from profiler.tracing.interface import Recording

    recordings = []
    notes: list[str] = []
    runs: dict[str, int] = {}
    for item in sorted(imported, key=lambda i: (i.workload, i.name)):
        profile = item.profile
        if profile.default_action in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG"):
            raise UsageError(
                f"{item.source}: SeccompProfile {item.name} has defaultAction "
                f"{profile.default_action}: it allows everything, so it records nothing",
                "import the profiles SPO recorded (defaultAction SCMP_ACT_ERRNO)",
            )
        arches = [a for a in profile.architectures if a != "SCMP_ARCH_NATIVE"]
        arch = canonical_arch(arches[0]) if arches else native_arch()
        if not arches:
            notes.append(f"{item.name}: no architectures; taken as this machine's ({arch})")
        if any(r.args for r in profile.rules if r.action == "SCMP_ACT_ALLOW"):
            notes.append(f"{item.name}: argument conditions are not kept; the names are")
        if item.base_profile:
            notes.append(
                f"{item.name}: baseProfileName {item.base_profile} is not imported; SPO adds "
                "its calls on the node"
            )
        if item.partial:
            notes.append(f"{item.name}: a partial (per-pod) profile; counted as one run")
        role = f"pod {item.container}" if item.container else f"profile {item.name}"
        index = runs.get(item.workload, 0)
        runs[item.workload] = index + 1
        recordings.append(
            Recording(
                workload=item.workload,
                run_index=index,
                tracer="spo",
                arch=arch,
                pod_security="cluster",
                counts={name: {role: 0} for name in sorted(profile.allowed())},
            )
        )
    return recordings, tuple(notes)


@dataclass(frozen=True)
class ImportResult:
    profile: Profile
    summary: Any  # seccomp.generate.Summary, or None when a local profile had none
    imported: tuple[ImportedProfile, ...]
    notes: tuple[str, ...]


def import_profiles(
    files: list[Path], local: list[Path] | None = None, *, errno: str = "enosys"
) -> ImportResult:
    """SPO's recorded SeccompProfiles, merged with local recordings and profiles.

    SPO profiles and local recordings (``recording.json`` files or run folders) are derived
    together, as ``spark-seccomp record`` derives (same review of risky calls, same ENOSYS
    fallbacks, same architectures); local profiles (with their ``NAME.summary.json`` when
    present) are then merged in as ``profile merge`` does, summaries included.
    """
    from profiler.record import load_recordings
    from profiler.seccomp.compare import merge_profiles, merge_summaries
    from profiler.seccomp.generate import derive_profile, load_summary, summary_path_for
    from profiler.seccomp.profile import load_profile

    if not files:
        raise UsageError("nothing to import", "name one or more files of SeccompProfiles")
    imported = [item for path in files for item in read_seccomp_profiles(Path(path))]
    recordings, notes_t = as_recordings(imported)
    notes = list(notes_t)
    recording_paths: list[Path] = []
    profile_paths: list[Path] = []
    for path in local or []:
        path = Path(path)
        if path.is_dir() or path.name == "recording.json":
            recording_paths.append(path)
        elif path.is_file():
            profile_paths.append(path)
        else:
            raise UsageError(
                f"{path} does not exist", "give profiles, recording.json files or run folders"
            )
    if recording_paths:
        recordings.extend(load_recordings(recording_paths))
    profile, summary = derive_profile(recordings, errno=errno)
    for held in summary.held_back:
        notes.append(f"held back: {held.name} ({held.reason})")
    if profile_paths:
        profiles = [load_profile(p) for p in profile_paths]
        profile = merge_profiles([profile, *profiles])
        summaries = []
        for path in profile_paths:
            beside = summary_path_for(path)
            if beside.is_file():
                summaries.append(load_summary(beside))
            else:
                notes.append(f"no summary beside {path}: the merged summary is left out")
        merged = (
            merge_summaries([summary, *summaries]) if len(summaries) == len(profile_paths) else None
        )
        return ImportResult(profile, merged, tuple(imported), tuple(notes))
    return ImportResult(profile, summary, tuple(imported), tuple(notes))
