"""The diagnoser seam, and its one real implementation: the complain run.

``Diagnoser`` is what ``run_check`` and the dry-run ask; ``ComplainDiagnoser`` reruns a
cell on a real backend with each confined container's filter in complain form, traced
with eBPF and read from the kernel log, and words what each role would have been denied.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from profiler.diagnosis.complain import (
    RUNTIME_DEFAULT_ARG_FILTERED,
    Decision,
    allow_list_decider,
    complain_profile,
    decide,
    runtime_default_complain_profile,
)
from profiler.diagnosis.findings import Findings, find_denials, merge_findings
from profiler.diagnosis.kernel_log import KernelLogWatcher
from profiler.diagnosis.reference import (
    find_runtime_default_reference,
    kept_capabilities,
    load_reference,
)
from profiler.diagnosis.wording import describe
from profiler.errors import ProfilerError
from profiler.runtime.interface import (
    Backend,
    ContainerRef,
    ResolvedRole,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.seccomp.profile import Profile, profile_from_dict

# Backends whose runs call RunObserver.started with the container's host pid, which the
# eBPF tracer needs to find the container's mount namespace.
TRACEABLE_BACKENDS = ("docker", "podman", "containerd", "local")


@dataclass(frozen=True)
class ComplainOutcome:
    """A complain run's result (None when none could be made) and its diagnosis lines."""

    result: RunResult | None
    lines: tuple[str, ...]
    findings: Findings | None = None


class Diagnoser(ABC):
    """Reruns a cell in complain mode and says what its profile would have denied."""

    def unavailable(self) -> str | None:
        """Why this diagnoser cannot run on this machine, or None."""
        return None

    @abstractmethod
    def complain_run(
        self, spec: RunSpec, run_dir: Path | None, *, failed: bool
    ) -> ComplainOutcome: ...

    def diagnose(self, spec: RunSpec, run_dir: Path | None) -> tuple[str, ...]:
        return self.complain_run(spec, run_dir, failed=True).lines


class ComplainDiagnoser(Diagnoser):
    """Complain runs on a real backend, traced with eBPF and read from the kernel log."""

    def __init__(self, backend: Backend, runtime_default: Path | None = None) -> None:
        self.backend = backend
        self.runtime_default = runtime_default

    def unavailable(self) -> str | None:
        from profiler.tracing.ebpf import EbpfTracer

        if self.backend.name not in TRACEABLE_BACKENDS:
            return (
                f"the {self.backend.name} backend does not report its containers' pids, "
                "so a complain run cannot be traced"
            )
        try:
            EbpfTracer(Path(".")).check_available()
        except ProfilerError as exc:
            return f"denial diagnosis needs the eBPF tracer: {exc.diagnostics()}"
        return None

    def complain_run(self, spec: RunSpec, run_dir: Path | None, *, failed: bool) -> ComplainOutcome:
        """The run again with each confined container's filter in complain form; what each
        role would have been denied. A pod run's lines name the pod they are about."""
        forms: dict[Role, _ComplainForm] = {}
        try:
            for role in spec.roles:
                settings = spec.settings_for(role)
                if settings.mode is not SecurityMode.UNCONFINED:
                    forms[role] = self._complain_form(settings)
        except ProfilerError as exc:
            return ComplainOutcome(None, (f"no diagnosis: {exc.diagnostics()}",))
        if not forms:
            return ComplainOutcome(None, ("no diagnosis: an unconfined run has no profile",))
        missing = self.unavailable()
        if missing:
            return ComplainOutcome(None, (f"no diagnosis: {missing}",))
        complain_spec = spec
        for role, form in forms.items():
            complain_spec = _with_role_profile(complain_spec, role, form)
        with contextlib.ExitStack() as stack:
            work = run_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            return self._traced_run(spec, complain_spec, work, run_dir, forms, failed)

    def _traced_run(
        self,
        spec: RunSpec,
        complain_spec: RunSpec,
        work: Path,
        run_dir: Path | None,
        forms: Mapping[Role, _ComplainForm],
        failed: bool,
    ) -> ComplainOutcome:
        from profiler.tracing.ebpf import EbpfTracer

        tracer = EbpfTracer(work / "trace")
        kernel_log = KernelLogWatcher()
        try:
            result = self.backend.run(complain_spec, run_dir, observer=_Both(tracer, kernel_log))
            recordings = {
                r.role: r for r in tracer.recordings(spec.workload.name, 1, spec.pod_security.value)
            }
            pids = {role: tracer.container_pids(role.value) for role in forms}
        except ProfilerError as exc:
            return ComplainOutcome(None, (f"no diagnosis: {exc.diagnostics()}",))
        finally:
            kernel_log.close()
        records = kernel_log.records()
        lines: list[str] = []
        all_findings: list[Findings] = []
        pod = spec.topology is Topology.POD
        for role, form in forms.items():
            recording = recordings.get(role.value)
            if recording is None:
                continue  # e.g. no executor pod: the script set its own master
            audit = [r for r in records if r.pid in pids[role]]
            findings = find_denials(
                recording.counts, form.decider, audit, audit_lost=kernel_log.lost()
            )
            all_findings.append(findings)
            role_lines = describe(findings, form.mode, failed=failed)
            prefix = f"{role.value} pod: " if pod else ""
            lines.extend(prefix + line for line in role_lines)
        if kernel_log.problem:
            lines.append(f"kernel audit records not read: {kernel_log.problem}")
        if lost := tracer.lost_events():
            lines.append(
                f"the eBPF tracer lost {lost} events in the complain run: calls of processes "
                "it did not see start may be missing above or credited to the wrong process"
            )
        if not result.succeeded:
            lines.append(
                "the complain run failed too "
                f"({'timed out' if result.timed_out else f'exit {result.exit_code}'}): "
                "something besides seccomp breaks this job"
            )
        merged = merge_findings(all_findings) if all_findings else None
        return ComplainOutcome(result, tuple(lines), merged)

    def _complain_form(self, settings: ResolvedRole) -> _ComplainForm:
        if settings.mode is SecurityMode.LOCALHOST:
            if settings.profile_json is None:
                raise ProfilerError("the localhost run had no profile")
            try:
                data = json.loads(settings.profile_json)
            except json.JSONDecodeError as exc:
                raise ProfilerError(f"the profile is not valid JSON: {exc.msg}") from exc
            label = settings.profile_label or "the profile"
            profile = profile_from_dict(data, label)
            return _ComplainForm(
                settings.mode,
                complain_profile(profile),
                lambda name: decide(profile, name),
                label,
            )
        if settings.mode is SecurityMode.RUNTIME_DEFAULT:
            path = find_runtime_default_reference(self.runtime_default)
            if path is None:
                raise ProfilerError(
                    "RuntimeDefault's allow list is not known here, so its denials cannot "
                    "be told apart",
                    "pass --runtime-default FILE (the engine's default profile, e.g. moby's "
                    "profiles/seccomp/default.json)",
                )
            reference = load_reference(path, kept_capabilities(settings.security))
            allowed = reference.allowed | RUNTIME_DEFAULT_ARG_FILTERED
            return _ComplainForm(
                settings.mode,
                runtime_default_complain_profile(allowed),
                allow_list_decider(reference.allowed),
                reference.name,
            )
        raise ProfilerError("an unconfined run has no profile to diagnose")


@dataclass(frozen=True)
class _ComplainForm:
    """A container's filter with its denials turned into logging, and how to judge a call."""

    mode: SecurityMode
    profile: Profile
    decider: Callable[[str], Decision]
    label: str


def _with_role_profile(spec: RunSpec, role: Role, form: _ComplainForm) -> RunSpec:
    text = form.profile.to_json()
    label = f"complain mode of {form.label}"
    if role is Role.ALL:
        return replace(spec, mode=SecurityMode.LOCALHOST, profile_json=text, profile_label=label)
    settings = spec.executor if role is Role.EXECUTOR else spec.driver
    settings = replace(
        settings, mode=SecurityMode.LOCALHOST, profile_json=text, profile_label=label
    )
    if role is Role.EXECUTOR:
        return replace(spec, executor=settings)
    return replace(spec, driver=settings)


class _Both(RunObserver):
    """Several observers of one run as one: started in order, finished in reverse."""

    def __init__(self, *observers: RunObserver) -> None:
        self.observers = observers

    def follow_process_tree(self) -> None:
        for observer in self.observers:
            observer.follow_process_tree()

    def before_start(self) -> None:
        for observer in self.observers:
            observer.before_start()

    def started(self, host_pid: int, container: ContainerRef) -> None:
        for observer in self.observers:
            observer.started(host_pid, container)

    def finished(self) -> None:
        for observer in reversed(self.observers):
            observer.finished()
