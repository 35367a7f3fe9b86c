"""Recording workloads and deriving a verified Localhost profile from the traces.

record -> derive -> verify: each workload runs under an allow-everything recording filter
with the pod security that will be enforced, a tracer counts what it asked for, the union
becomes a profile, and every workload is run again under that profile. A profile is
only written when the verification runs all pass with the recorded results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.check import CheckReport, Progress, run_check
from profiler.errors import UsageError, VerificationFailed
from profiler.runtime.interface import Backend, PodSecurity, RunSpec, SecurityMode
from profiler.seccomp import generate
from profiler.seccomp.profile import Profile
from profiler.tracing.interface import Recording, Tracer
from profiler.workloads import Workload

TracerFactory = Callable[[Path], Tracer]


@dataclass(frozen=True)
class RecordOutcome:
    profile: Profile
    summary: generate.Summary
    recordings: tuple[Recording, ...]
    verification: CheckReport | None


def record_workloads(
    backend: Backend,
    workloads: Sequence[Workload],
    image: str,
    make_tracer: TracerFactory,
    *,
    pod_security: PodSecurity = PodSecurity.RESTRICTED,
    runs: int = 1,
    timeout_seconds: float = 900.0,
    run_root: Path,
    progress: Progress = lambda _m, _d, _t: None,
) -> list[Recording]:
    """Trace every workload ``runs`` times under the recording filter."""
    recording_profile = generate.recording_profile().to_json()
    recordings = []
    total = len(workloads) * runs
    done = 0
    for workload in workloads:
        for index in range(1, runs + 1):
            progress(f"recording {workload.name} run {index}/{runs}", done, total)
            run_dir = run_root / "record" / workload.name / f"run-{index}"
            tracer = make_tracer(run_dir)
            spec = RunSpec(
                workload=workload,
                mode=SecurityMode.LOCALHOST,
                image=image,
                pod_security=pod_security,
                profile_json=recording_profile,
                profile_label="recording (allow all)",
                timeout_seconds=timeout_seconds,
                hold_until_traced=tracer.holds_first_process,
            )
            result = backend.run(spec, run_dir, observer=tracer)
            if not result.succeeded:
                reason = "timed out" if result.timed_out else f"exited {result.exit_code}"
                raise VerificationFailed(
                    f"{workload.name} {reason} while being recorded: {result.last_error_line()}",
                    f"it must pass unconfined first; see {run_dir}/stderr.txt",
                )
            recording = tracer.recording(workload.name, index, pod_security.value)
            recording = Recording(
                **{
                    **recording.__dict__,
                    "exit_code": result.exit_code,
                    "checksum": result.result.checksum if result.result else None,
                    "script": None if workload.in_catalogue else str(workload.path),
                }
            )
            recording.save(run_dir / "recording.json")
            recordings.append(recording)
            done += 1
    progress("recorded", done, total)
    return recordings


def verify_profile(
    backend: Backend,
    workloads: Sequence[Workload],
    image: str,
    profile: Profile,
    recordings: Sequence[Recording],
    *,
    pod_security: PodSecurity,
    run_root: Path,
    timeout_seconds: float = 900.0,
    progress: Progress = lambda _m, _d, _t: None,
) -> CheckReport:
    """Run every workload under the new profile; results must match the recorded ones."""
    reference = {r.workload: r.checksum for r in recordings if r.checksum}
    return run_check(
        backend,
        workloads,
        [SecurityMode.LOCALHOST],
        image,
        profile_json=profile.to_json(),
        profile_label="derived profile",
        pod_security=pod_security,
        timeout_seconds=timeout_seconds,
        run_root=run_root / "verify",
        progress=progress,
        reference_checksums=reference,
    )


def load_recordings(paths: Sequence[Path]) -> list[Recording]:
    """Recordings saved by earlier runs (``recording.json`` files or folders holding them)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("recording.json")))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"{path} does not exist", "give recording.json files or run folders")
    if not found:
        raise UsageError("no recording.json found", "record first with `spark-seccomp record`")
    return [Recording.load(p) for p in found]


def tracer_factory(choice: str, note: Callable[[str], None]) -> TracerFactory:
    """The tracer to use; ``auto`` prefers eBPF and says why it fell back to strace."""
    from profiler.errors import EnvironmentProblem
    from profiler.tracing.ebpf import EbpfTracer
    from profiler.tracing.strace import StraceTracer

    choice = choice.lower()
    if choice not in ("auto", "ebpf", "strace"):
        raise UsageError(f"unknown tracer {choice!r}", "choose auto, ebpf or strace")
    if choice in ("auto", "ebpf"):
        try:
            EbpfTracer(Path(".")).check_available()
            if choice == "auto":
                note("tracer: ebpf (bpftrace)")
            return EbpfTracer
        except EnvironmentProblem as exc:
            if choice == "ebpf":
                raise
            note(f"tracer: strace, because eBPF is not usable here: {exc.diagnostics()}")
    StraceTracer(Path(".")).check_available()
    return StraceTracer


def needs_explicit_errno(backend: Backend, image: str) -> bool:
    """Whether this engine drops ``defaultErrnoRet`` (so profiles need explicit rules)."""
    return not backend.honours_default_errno(image)


def workloads_of(recordings: Sequence[Recording]) -> list[Workload]:
    """The workloads behind recordings: catalogue names, or the scripts they recorded."""
    from profiler.workloads import resolve

    chosen: dict[str, Workload] = {}
    for recording in sorted(recordings, key=lambda r: r.workload):
        if recording.workload in chosen:
            continue
        chosen[recording.workload] = resolve(recording.script or recording.workload)
    return list(chosen.values())
