"""The diagnoser seam as run_check uses it, and what ComplainDiagnoser says it lacks."""

from __future__ import annotations

from profiler import workloads
from profiler.check import CheckOptions, Verdict, run_check
from profiler.diagnosis.diagnoser import ComplainDiagnoser, ComplainOutcome, Diagnoser
from profiler.runtime.interface import RunSpec, SecurityMode
from tests.fakes import FakeBackend, check_plan
from tests.unit.diagnosis.sample import PROFILE

U, R, L = SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST


class RecordingDiagnoser(Diagnoser):
    def __init__(self):
        self.asked: list[tuple[SecurityMode, bool]] = []

    def complain_run(self, spec: RunSpec, run_dir, *, failed):
        self.asked.append((spec.mode, failed))
        return ComplainOutcome(None, (f"denied: clone3 ({spec.mode.value})",))


def _fail_confined(spec):
    if spec.mode is U:
        return 0, False, "x", ""
    return 1, False, "", "pthread_create failed (EPERM)"


def test_failing_cells_get_a_diagnosis_when_unconfined_passes():
    diagnoser = RecordingDiagnoser()
    report = run_check(
        FakeBackend(_fail_confined),
        check_plan([workloads.resolve("rdd_python")], [U, R, L], profile_json="{}"),
        diagnoser=diagnoser,
    )
    assert report.cell("rdd_python", U).diagnosis == ()
    assert report.cell("rdd_python", L).diagnosis == ("denied: clone3 (localhost)",)
    assert set(diagnoser.asked) == {(R, True), (L, True)}


def test_no_diagnosis_when_unconfined_fails_too_or_when_switched_off():
    diagnoser = RecordingDiagnoser()
    report = run_check(
        FakeBackend(lambda spec: (1, False, "", "boom")),
        check_plan([workloads.resolve("rdd_python")], [U, R]),
        diagnoser=diagnoser,
    )
    assert report.cell("rdd_python", R).diagnosis == ()
    run_check(
        FakeBackend(_fail_confined),
        check_plan([workloads.resolve("rdd_python")], [U, R]),
        CheckOptions(diagnose=False),
        diagnoser=diagnoser,
    )
    assert diagnoser.asked == []


def test_complain_mode_runs_confined_cells_through_the_diagnoser():
    class PassingComplain(RecordingDiagnoser):
        def __init__(self, backend):
            super().__init__()
            self.backend = backend

        def complain_run(self, spec, run_dir, *, failed):
            super().complain_run(spec, run_dir, failed=failed)
            result = self.backend.run(RunSpec(spec.workload, U, spec.image), run_dir)
            return ComplainOutcome(result, ("would be denied: mbind",))

    backend = FakeBackend(_fail_confined)
    diagnoser = PassingComplain(backend)
    report = run_check(
        backend,
        check_plan([workloads.resolve("rdd_python")], [U, R]),
        CheckOptions(complain=True),
        diagnoser=diagnoser,
    )
    cell = report.cell("rdd_python", R)
    assert cell.verdict is Verdict.PASS
    assert cell.diagnosis == ("would be denied: mbind",)
    assert diagnoser.asked == [(R, False)]


def test_default_diagnoser_says_when_runtime_default_is_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr("profiler.paths.data_dir", lambda name: tmp_path)
    monkeypatch.setattr("profiler.diagnosis.diagnoser.TRACEABLE_BACKENDS", ("fake",))
    report = run_check(
        FakeBackend(_fail_confined), check_plan([workloads.resolve("rdd_python")], [U, R])
    )
    (line,) = report.cell("rdd_python", R).diagnosis
    assert line.startswith("no diagnosis: RuntimeDefault's allow list is not known here")
    assert "--runtime-default" in line


def test_diagnoser_reports_what_is_missing(monkeypatch):
    monkeypatch.setattr(ComplainDiagnoser, "unavailable", lambda self: "needs root")
    diagnoser = ComplainDiagnoser(FakeBackend(_fail_confined))
    spec = RunSpec(
        workloads.resolve("rdd_python"),
        L,
        "img",
        profile_json=PROFILE.to_json(),
    )
    assert diagnoser.diagnose(spec, None) == ("no diagnosis: needs root",)


def test_backends_that_cannot_be_traced_are_not_rerun():
    backend = FakeBackend(_fail_confined)
    report = run_check(backend, check_plan([workloads.resolve("rdd_python")], [U, R]))
    assert len(backend.specs) == 2
    (line,) = report.cell("rdd_python", R).diagnosis
    assert line.startswith("no diagnosis: the fake backend does not report")
