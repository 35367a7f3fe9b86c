"""The BPF program of a seccomp profile, as libseccomp generates it for the OCI runtimes.

runc and crun hand a profile's rules to libseccomp and load the program it generates;
``compile_profile`` does the same through pyseccomp (rules added as runc adds them, by
``runtime.launcher.build_filter``) and returns the instructions, for ``seccomp.cache`` to
sort calls into cached and uncached.

What differs from the program a runtime really loads, and why it does not matter here:
runc (1.0 and later) puts a stub in front that answers ENOSYS for numbers above the
highest one the profile names, which changes no number a job calls; and an engine may
drop keys it does not honour (Docker 20.10 drops ``defaultErrnoRet``), which changes the
errno of a refusal, not whether a call is cached. Give the profile the engine hands the
runtime (RuntimeDefault read from the bundle) and the cache classes are the kernel's.
"""

from __future__ import annotations

import json
import tempfile

from profiler.runtime.launcher import build_filter
from profiler.seccomp import bpf
from profiler.seccomp.profile import profile_from_dict


def compile_profile(profile_json: str, *, source: str = "profile") -> tuple[bpf.Insn, ...]:
    """The classic BPF program libseccomp generates for an OCI profile (JSON text)."""
    profile = profile_from_dict(json.loads(profile_json), source)
    built = build_filter(profile, no_new_privs=True)
    with tempfile.TemporaryFile() as exported:
        built.filter.export_bpf(exported)
        exported.seek(0)
        return bpf.parse_program(exported.read())
