"""``recording.json``: the syscalls one traced run made (``tracing.interface.Recording``).

Written by ``record`` beside each run's logs and read back by ``record --from-recordings``,
so every name it counts becomes an allowed call of a profile: names must be syscalls that
libseccomp knows on the recording's architecture.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from profiler.formats.fields import (
    INT64_MAX,
    UINT64_MAX,
    LibseccompArch,
    NonNegativeInt,
    Open,
    SyscallName,
    integer,
)
from profiler.formats.jsonfile import location
from profiler.seccomp import arch as arch_lib

RECORDING_HINT = "record the workload again with `spark-seccomp record`"

Text = Annotated[str, Field(min_length=1, max_length=4096)]
ArgValue = Annotated[int, integer(-INT64_MAX - 1, UINT64_MAX, "a 64-bit integer")]


class RecordingFile(Open):
    workload: Text
    run_index: NonNegativeInt
    tracer: Text
    arch: LibseccompArch
    pod_security: Literal["restricted", "none"]
    counts: dict[SyscallName, dict[Text, NonNegativeInt]]
    arg_values: dict[Text, list[ArgValue]] = {}
    exit_code: Annotated[int, integer(-INT64_MAX - 1, INT64_MAX, "an exit code")] | None = None
    checksum: str | None = None
    unknown_numbers: list[NonNegativeInt] = []
    script: str | None = None
    # The container role the calls were made in (pod topology), "all" for one container.
    role: Literal["all", "driver", "executor"] = "all"
    lost_events: NonNegativeInt = 0

    @model_validator(mode="after")
    def _names_exist_on_the_arch(self) -> RecordingFile:
        unknown = sorted(n for n in self.counts if not arch_lib.exists(n, self.arch))
        if unknown:
            raise PydanticCustomError(
                "unknown_syscall",
                "not a syscall libseccomp knows on {arch}{more}",
                {
                    "where": location(("counts", unknown[0])),
                    "arch": self.arch,
                    "more": f" (nor are {', '.join(unknown[1:4])})" if len(unknown) > 1 else "",
                },
            )
        return self
