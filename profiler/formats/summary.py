"""``NAME.summary.json``: why each call is in a profile (``seccomp.generate.Summary``).

Two readers, two models: ``profile explain`` and ``profile merge`` read exactly what
``record`` writes (``SummaryFile``, versioned by ``format``); the report also takes the
looser shape documented in ``report.inputs`` (``ReportSummaryFile``), where workloads may
be a list of names and held-back calls a name-to-reason object.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, field_validator, model_validator
from pydantic_core import PydanticCustomError

from profiler.formats.fields import LibseccompArch, NonNegativeInt, Open, SyscallName, fail
from profiler.formats.jsonfile import location
from profiler.formats.recording import ArgValue

SUMMARY_HINT = (
    "regenerate it with `spark-seccomp record`, or delete it: the profile works without it"
)

Name = Annotated[str, Field(min_length=1, max_length=4096)]


class HeldBackEntry(Open):
    name: SyscallName
    reason: str
    capability: str | None = None


class SyscallEntry(Open):
    runs: NonNegativeInt
    workloads: dict[Name, NonNegativeInt] = {}
    roles: dict[Name, NonNegativeInt] = {}
    calls: NonNegativeInt = 0


class SummaryFile(Open):
    format: Literal[1]
    total_runs: NonNegativeInt
    workloads: dict[Name, NonNegativeInt]
    syscalls: dict[SyscallName, SyscallEntry]
    arches: list[LibseccompArch] = []
    errno: Literal["enosys", "eperm"] = "enosys"
    explicit_errno: bool = False
    allowed: list[SyscallName] = []
    user_allowed: list[SyscallName] = []
    held_back: list[HeldBackEntry] = []
    missing: dict[LibseccompArch, list[SyscallName]] = {}
    added: dict[SyscallName, list[SyscallName]] = {}
    arg_values: dict[Name, list[ArgValue]] = {}
    unknown_numbers: list[NonNegativeInt] = []
    oci_runtime_only: dict[str, list[str]] = {}
    lost_events: dict[Name, NonNegativeInt] = {}

    @model_validator(mode="after")
    def _runs_add_up(self) -> SummaryFile:
        for name, use in sorted(self.syscalls.items()):
            if use.runs > self.total_runs:
                raise PydanticCustomError(
                    "runs",
                    "expected at most total_runs ({total}), got {runs}",
                    {
                        "where": location(("syscalls", name, "runs")),
                        "runs": use.runs,
                        "total": self.total_runs,
                    },
                )
        return self


class ReportSyscallEntry(Open):
    runs: NonNegativeInt | None = None
    of_runs: NonNegativeInt | None = None
    total_runs: NonNegativeInt | None = None
    workloads: dict[Name, NonNegativeInt | None] = {}
    roles: dict[Name, NonNegativeInt] = {}

    @field_validator("workloads", mode="before")
    @classmethod
    def _names_or_counts(cls, value: Any) -> Any:
        """``record`` writes {workload: runs}; the documented short form is [workload]."""
        if isinstance(value, list):
            if not all(isinstance(v, str) and v for v in value):
                raise fail("a list of workload names or an object of workload: runs", value)
            return dict.fromkeys(value)
        return value


class ReportSummaryFile(Open):
    profile: dict[str, JsonValue] = {}
    syscalls: dict[SyscallName, ReportSyscallEntry] = {}
    held_back: dict[SyscallName, str] = {}

    @field_validator("held_back", mode="before")
    @classmethod
    def _entries_or_reasons(cls, value: Any) -> Any:
        """``record`` writes [{"name", "reason"}]; the documented short form is {name: reason}."""
        if isinstance(value, list):
            what = 'a list of {"name": ..., "reason": ...} or an object of name: reason'
            reasons = {}
            for entry in value:
                if not (
                    isinstance(entry, dict)
                    and isinstance(entry.get("name"), str)
                    and isinstance(entry.get("reason", ""), str)
                ):
                    raise fail(what, entry)
                reasons[entry["name"]] = entry.get("reason", "")
            return reasons
        return value
