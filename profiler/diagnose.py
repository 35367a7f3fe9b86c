"""Denial diagnosis: which syscalls a profile denied a workload, and in which process.

A job that fails under a profile but passes unconfined is rerun under the *complain*
form of the same profile: every deny becomes SCMP_ACT_LOG, allow rules (argument
conditions included) stay, so the job runs through and nothing it asks for is refused.
Two sources say what would have been denied:

- the eBPF tracer counts every syscall of the container's filtered tasks in a BPF map,
  per process role. Counting is in-kernel, so no event is dropped; the would-be denials
  are the recorded names the *original* profile does not allow. eBPF sees no arguments,
  so a name allowed only with argument conditions is reported as "check args".
- the kernel's seccomp audit records (``audit: type=1326 ... pid= comm= syscall=``) for
  the container's pids, read from /dev/kmsg. They show a call only when the complain
  filter really logged it, which settles argument-conditional rules; but printk rate
  limiting drops them, so the rate limit is lifted for the run and restored afterwards,
  and any loss the kernel admits to is reported.

Calls a profile answers with ENOSYS on purpose (clone3, statx...: libc falls back) keep
that answer in complain mode, so the run takes the same fallback paths as the real one.
"""

from __future__ import annotations

import contextlib
import enum
import errno as errno_codes
import json
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyseccomp

from profiler.errors import ProfilerError
from profiler.runtime.interface import (
    Backend,
    ContainerRef,
    ContainerSecurity,
    ResolvedRole,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.seccomp import arch as arch_lib
from profiler.seccomp.generate import ENOSYS_FALLBACKS
from profiler.seccomp.profile import Profile, SyscallRule, profile_from_dict
from profiler.seccomp.risky import RISKY
from profiler.seccomp.runtime_default import RuntimeDefaultReference

COMPLAIN = "SCMP_ACT_LOG"
_ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")
MAX_LISTED = 3  # denials named one per line; the rest are summed up in one line
PRINTK_RATELIMIT = Path("/proc/sys/kernel/printk_ratelimit")
KMSG = Path("/dev/kmsg")

# What a user can change instead of allowing a call, where there is a well-known knob.
WORKAROUNDS: Mapping[str, str] = {
    "clone3": "deny it with errnoRet 38 (ENOSYS) so glibc falls back to clone",
    "mbind": "set -XX:-UseNUMA",
    "get_mempolicy": "set -XX:-UseNUMA",
    "set_mempolicy": "set -XX:-UseNUMA",
    "perf_event_open": "turn off the profiler agent that uses it",
    "io_uring_setup": "turn off io_uring in the library that uses it",
}


class Decision(str, enum.Enum):
    """What a profile does with one syscall name (arguments unknown)."""

    ALLOWED = "allowed"
    CONDITIONAL = "allowed with conditions"  # depends on arguments eBPF cannot see
    FALLBACK = "ENOSYS fallback"  # denied with ENOSYS on purpose; libc falls back
    DENIED = "denied"


# -- the complain profile ---------------------------------------------------------------


def complain_profile(profile: Profile) -> Profile:
    """The same profile with every deny turned into SCMP_ACT_LOG.

    Allow and log rules stay as they are, argument conditions included. ERRNO rules
    answering ENOSYS keep that answer for the calls libc falls back from
    (``ENOSYS_FALLBACKS``), so the complain run follows the enforced run's code paths;
    any other ENOSYS name in such a rule (an explicit-errno profile lists every denied
    call that way) is logged like any other deny.
    """
    rules: list[SyscallRule] = []
    for rule in profile.rules:
        if rule.action in _ALLOWING:
            rules.append(rule)
            continue
        keep: tuple[str, ...] = ()
        if rule.action == "SCMP_ACT_ERRNO" and rule.errno_ret == errno_codes.ENOSYS:
            keep = tuple(n for n in rule.names if n in ENOSYS_FALLBACKS)
        logged = tuple(n for n in rule.names if n not in keep)
        if keep:
            rules.append(SyscallRule(keep, rule.action, rule.errno_ret, rule.args))
        if logged:
            rules.append(SyscallRule(logged, COMPLAIN, None, rule.args))
    return Profile(COMPLAIN, tuple(rules), None, profile.architectures, profile.flags)


def runtime_default_complain_profile(allowed: Iterable[str]) -> Profile:
    """Complain form of a RuntimeDefault reference: its allow list, everything else logged.

    Runtimes answer clone3 (and friends) with ENOSYS so libc falls back; that stays."""
    allowed = frozenset(allowed)
    rules = [SyscallRule(tuple(sorted(allowed)), "SCMP_ACT_ALLOW")]
    fallbacks = tuple(n for n in ENOSYS_FALLBACKS if n not in allowed)
    if fallbacks:
        rules.append(SyscallRule(fallbacks, "SCMP_ACT_ERRNO", errno_ret=errno_codes.ENOSYS))
    return Profile(COMPLAIN, tuple(rules))


# -- what a profile does with a name ----------------------------------------------------


def decide(profile: Profile, name: str) -> Decision:
    """Conservative: a rule without arguments decides; argument-checked allow rules make
    the call "allowed with conditions"; otherwise the default action decides. A default
    errno is never taken as ENOSYS: some engines drop ``defaultErrnoRet`` (Docker 20.10)."""
    plain = [r for r in profile.rules if name in r.names and not r.args]
    checked = [r for r in profile.rules if name in r.names and r.args]
    if any(r.action in _ALLOWING for r in plain):
        return Decision.ALLOWED
    for rule in plain:
        if (
            rule.action == "SCMP_ACT_ERRNO"
            and rule.errno_ret == errno_codes.ENOSYS
            and name in ENOSYS_FALLBACKS
        ):
            return Decision.FALLBACK
    if plain:
        return Decision.DENIED
    if any(r.action in _ALLOWING for r in checked):
        return Decision.CONDITIONAL
    return Decision.ALLOWED if profile.default_action in _ALLOWING else Decision.DENIED


# Calls RuntimeDefault (Docker's and containerd's default.json) allows only with certain
# arguments. A probed reference, made with invalid arguments, lists them as blocked; the
# complain run lets them through and the diagnosis says "check args" instead of "denied".
RUNTIME_DEFAULT_ARG_FILTERED = frozenset({"clone", "personality", "socket"})


def allow_list_decider(allowed: frozenset[str]) -> Callable[[str], Decision]:
    """Decisions of a RuntimeDefault reference (names only; see
    ``RUNTIME_DEFAULT_ARG_FILTERED``)."""

    def decide_name(name: str) -> Decision:
        if name in allowed:
            return Decision.ALLOWED
        if name in RUNTIME_DEFAULT_ARG_FILTERED:
            return Decision.CONDITIONAL
        return Decision.FALLBACK if name in ENOSYS_FALLBACKS else Decision.DENIED

    return decide_name


# -- kernel audit records ---------------------------------------------------------------

_AUDIT = re.compile(r"type=1326\b")
_FIELD = re.compile(r'\b(pid|comm|syscall|arch)=("[^"]*"|\S+)')
_LOST = re.compile(r"callbacks suppressed|audit_lost=|audit_backlog=")


@dataclass(frozen=True)
class AuditRecord:
    """One ``type=1326`` seccomp record: a call a filter logged (or killed)."""

    pid: int
    comm: str
    syscall: int
    arch: str | None  # libseccomp arch name, None when unknown

    @property
    def name(self) -> str | None:
        arch = self.arch or arch_lib.native_arch()
        return arch_lib.syscall_name(self.syscall, arch)


def parse_audit_line(line: str) -> AuditRecord | None:
    """A seccomp audit record from a kernel log line (dmesg or /dev/kmsg form), or None."""
    if not _AUDIT.search(line):
        return None
    fields = {m[1]: m[2] for m in _FIELD.finditer(line)}
    if "pid" not in fields or "syscall" not in fields:
        return None
    try:
        pid, number = int(fields["pid"]), int(fields["syscall"])
    except ValueError:
        return None
    return AuditRecord(pid, _comm(fields.get("comm", "")), number, _audit_arch(fields.get("arch")))


def records_lost(lines: Iterable[str]) -> bool:
    """Whether the kernel says it dropped log records (rate limit or audit backlog)."""
    return any(_LOST.search(line) for line in lines)


def _comm(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    # The kernel hex-encodes names with spaces or quotes in them.
    try:
        return bytes.fromhex(raw).decode(errors="replace")
    except ValueError:
        return raw


def _audit_arch(raw: str | None) -> str | None:
    """libseccomp's arch tokens are the kernel's AUDIT_ARCH_* values."""
    if not raw:
        return None
    try:
        token = int(raw, 16)
    except ValueError:
        return None
    for attr in dir(pyseccomp.Arch):
        if attr.isupper() and attr != "NATIVE" and getattr(pyseccomp.Arch, attr) == token:
            return attr.lower()
    return None


# -- findings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeniedSyscall:
    """A call the profile would have denied, with who made it and how often."""

    name: str
    count: int
    roles: Mapping[str, int]  # process role (or audit comm) -> calls
    source: str = "ebpf"  # "ebpf", "audit" (seen only in the kernel log) or "args"


@dataclass(frozen=True)
class Findings:
    denied: tuple[DeniedSyscall, ...]  # most-called first
    conditional: tuple[DeniedSyscall, ...] = ()  # allowed with argument checks: unknown
    fallbacks: tuple[DeniedSyscall, ...] = ()  # ENOSYS on purpose
    audit_records: int = 0
    audit_lost: bool = False
    notes: tuple[str, ...] = field(default=())


def find_denials(
    counts: Mapping[str, Mapping[str, int]],
    decider: Callable[[str], Decision],
    audit: Iterable[AuditRecord] = (),
    *,
    audit_lost: bool = False,
) -> Findings:
    """Would-be denials from a complain run's per-role counts and its audit records."""
    records = list(audit)
    audit_by_name: dict[str, Counter[str]] = {}
    for record in records:
        name = record.name or f"syscall {record.syscall}"
        audit_by_name.setdefault(name, Counter())[record.comm] += 1
    denied: list[DeniedSyscall] = []
    conditional: list[DeniedSyscall] = []
    fallbacks: list[DeniedSyscall] = []
    for name, roles in counts.items():
        decision = decider(name)
        total = sum(roles.values())
        if decision is Decision.DENIED:
            denied.append(DeniedSyscall(name, total, dict(roles)))
        elif decision is Decision.FALLBACK:
            fallbacks.append(DeniedSyscall(name, total, dict(roles)))
        elif decision is Decision.CONDITIONAL:
            if name in audit_by_name:
                # The complain filter logged it: its arguments did not match the allow rule.
                denied.append(
                    DeniedSyscall(
                        name, sum(audit_by_name[name].values()), dict(roles), source="args"
                    )
                )
            else:
                conditional.append(DeniedSyscall(name, total, dict(roles)))
    seen = set(counts)
    for name, comms in audit_by_name.items():
        if name not in seen and decider(name) is not Decision.FALLBACK:
            denied.append(DeniedSyscall(name, sum(comms.values()), dict(comms), source="audit"))
    return Findings(
        denied=tuple(_most_called(denied)),
        conditional=tuple(_most_called(conditional)),
        fallbacks=tuple(_most_called(fallbacks)),
        audit_records=len(records),
        audit_lost=audit_lost,
    )


def _most_called(items: list[DeniedSyscall]) -> list[DeniedSyscall]:
    return sorted(items, key=lambda d: (-d.count, d.name))


# -- wording ----------------------------------------------------------------------------


def describe(findings: Findings, mode: SecurityMode, *, failed: bool) -> tuple[str, ...]:
    """The diagnosis lines shown under a cell: the verdict first, then the evidence."""
    lines: list[str] = []
    what = "denied" if failed else "would be denied"
    # Risky calls (mbind, perf_event_open...) are held back from generated profiles and
    # the jobs were verified without them, so next to other denials they are rarely the
    # cause: they go last, in one line, unless nothing else was denied.
    primary = [d for d in findings.denied if d.name not in RISKY] or list(findings.denied)
    held = [d for d in findings.denied if d not in primary]
    for denial in primary[:MAX_LISTED]:
        lines.append(_denial_line(denial, mode, what))
    rest = primary[MAX_LISTED:]
    if rest:
        names = ", ".join(d.name for d in rest[:8]) + (", ..." if len(rest) > 8 else "")
        lines.append(f"and {len(rest)} more {what}: {names}")
    if not findings.denied:
        if failed:
            lines.append("no denials seen: the failure is not seccomp")
        else:
            lines.append("no would-be denials: the profile allows everything the job did")
    if held:
        names = ", ".join(f"{d.name} ({_times(d.count)})" for d in held[:MAX_LISTED])
        lines.append(f"also {what}, risky calls profiles hold back (jobs usually cope): {names}")
    if findings.conditional:
        names = ", ".join(d.name for d in findings.conditional[:MAX_LISTED])
        lines.append(f"allowed with conditions — check args: {names}")
    if findings.fallbacks and not findings.denied:
        names = ", ".join(f"{d.name} ({_times(d.count)})" for d in findings.fallbacks[:MAX_LISTED])
        lines.append(f"answered ENOSYS on purpose (libc falls back): {names}")
    if findings.audit_records:
        lines.append(
            f"kernel audit log: {findings.audit_records} seccomp record(s) from this container"
        )
    lines.extend(findings.notes)
    if findings.audit_lost:
        lines.append(
            "the kernel log lost seccomp audit records (rate limit or audit backlog); "
            "the eBPF counts above are complete"
        )
    return tuple(lines)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _denial_line(denial: DeniedSyscall, mode: SecurityMode, what: str) -> str:
    roles = sorted(denial.roles.items(), key=lambda kv: (-kv[1], kv[0]))
    who = ", ".join(role for role, _ in roles[:3]) or "unknown process"
    text = f"{what}: {denial.name} ({who}), {_times(denial.count)}"
    if denial.source == "args":
        text += " with arguments its allow rule does not match"
    elif denial.source == "audit":
        text += " (kernel audit log only)"
    risky = RISKY.get(denial.name)
    workaround = WORKAROUNDS.get(denial.name)
    if mode is SecurityMode.RUNTIME_DEFAULT:
        if risky and risky.capability:
            text += f"; RuntimeDefault allows it only with {risky.capability}"
        fix = "use a Localhost profile that allows it (`spark-seccomp record`)"
    else:
        if risky:
            text += (
                f"; RuntimeDefault blocks it too without {risky.capability}"
                if risky.capability
                else "; RuntimeDefault blocks it too"
            )
        fix = f"add it with `--allow {denial.name}`"
    text += f"; {fix}"
    if workaround:
        text += f" or {workaround}"
    return text


# -- running the complain run -----------------------------------------------------------


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


def find_runtime_default_reference(explicit: Path | None = None) -> Path | None:
    """``--runtime-default FILE``, else the reference measured earlier and kept in profiles/."""
    from profiler.seccomp.runtime_default import bundled_reference_file

    return explicit if explicit is not None else bundled_reference_file()


def _load_reference(path: Path, capabilities: frozenset[str]) -> RuntimeDefaultReference:
    """A Docker default.json / OCI profile, or a probed reference (``profiles/``: made
    with every capability dropped, so only right for pods that drop them all)."""
    from profiler.seccomp.runtime_default import is_probed_reference, load_runtime_default

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfilerError(f"cannot read RuntimeDefault reference {path}: {exc}") from exc
    if is_probed_reference(data) and capabilities:
        raise ProfilerError(
            f"{path} was probed with every capability dropped; this run keeps "
            f"{len(capabilities)}, so its RuntimeDefault allows more",
            "pass the engine's default.json with --runtime-default FILE",
        )
    return load_runtime_default(path, arch=arch_lib.native_arch(), capabilities=capabilities)


def _capabilities(security: ContainerSecurity) -> frozenset[str]:
    from profiler.seccomp.runtime_default import DOCKER_DEFAULT_CAPABILITIES, normalize_capability

    drop = {normalize_capability(c) for c in security.cap_drop}
    add = {normalize_capability(c) for c in security.cap_add}
    base = set() if "CAP_ALL" in drop else set(DOCKER_DEFAULT_CAPABILITIES) - drop
    return frozenset(base | add)


# Backends whose runs call RunObserver.started with the container's host pid, which the
# eBPF tracer needs to find the container's mount namespace.
TRACEABLE_BACKENDS = ("docker", "podman", "containerd", "local")


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
        if not result.succeeded:
            lines.append(
                "the complain run failed too "
                f"({'timed out' if result.timed_out else f'exit {result.exit_code}'}): "
                "something besides seccomp breaks this job"
            )
        merged = _merge_findings(all_findings) if all_findings else None
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
            reference = _load_reference(path, _capabilities(settings.security))
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


def _merge_findings(findings: list[Findings]) -> Findings:
    """The findings of several roles as one (for callers that want one list)."""
    return Findings(
        denied=tuple(_most_called([d for f in findings for d in f.denied])),
        conditional=tuple(_most_called([d for f in findings for d in f.conditional])),
        fallbacks=tuple(_most_called([d for f in findings for d in f.fallbacks])),
        audit_records=sum(f.audit_records for f in findings),
        audit_lost=any(f.audit_lost for f in findings),
        notes=tuple(n for f in findings for n in f.notes),
    )


class _Both(RunObserver):
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


class KernelLogWatcher(RunObserver):
    """Reads the kernel log records written during one run, with printk's rate limit off.

    Starts at the end of /dev/kmsg before the container starts; ``close`` restores the
    rate limit and must run whatever happens (the caller does it in ``finally``).
    """

    def __init__(self, kmsg: Path = KMSG, ratelimit: Path = PRINTK_RATELIMIT) -> None:
        self.kmsg = kmsg
        self.ratelimit = ratelimit
        self._saved: str | None = None
        self._fd: int | None = None
        self._lines: list[str] = []
        self._overrun = False
        self.problem: str | None = None

    def before_start(self) -> None:
        try:
            self._saved = self.ratelimit.read_text().strip()
            self.ratelimit.write_text("0\n")
        except OSError as exc:
            self._saved = None
            self.problem = f"cannot lift the printk rate limit ({exc.strerror})"
        try:
            self._fd = os.open(self.kmsg, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as exc:
            self._fd = None
            self.problem = f"cannot read {self.kmsg} ({exc.strerror})"

    def finished(self) -> None:
        self._drain()

    def close(self) -> None:
        self._drain()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._saved is not None:
            try:
                self.ratelimit.write_text(self._saved + "\n")
            finally:
                self._saved = None

    def records(self) -> list[AuditRecord]:
        return [r for line in self._lines if (r := parse_audit_line(line)) is not None]

    def lost(self) -> bool:
        return self._overrun or records_lost(self._lines)

    def _drain(self) -> None:
        if self._fd is None:
            return
        while True:
            try:
                raw = os.read(self._fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:
                # Records were overwritten before we read them.
                self._overrun = True
                continue
            except OSError:
                return
            if not raw:
                return
            # "<prio>,<seq>,<time>,<flags>;message"
            text = raw.decode(errors="replace")
            head, _, message = text.partition(";")
            self._lines.append(message.rstrip("\n") if message else head)
