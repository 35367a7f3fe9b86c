"""Linux capability names, as the system's libcap knows them, and the parsing of names a
user types (``--cap NET_ADMIN``, ``--cap cap_sys_nice``, ``--cap ALL``).

No table is kept here: the names come from libcap.so.2 (``cap_to_name``), the kernel's
user-space capability library, whose name table is generated from the kernel's
include/uapi/linux/capability.h when libcap is built. libcap answers a number it has no
name for with the number itself, which is where the list ends. The unit tests compare it
with /usr/include/linux/capability.h and ``capsh --decode`` where those are present.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import difflib
import functools
from collections.abc import Iterable

from profiler.errors import EnvironmentProblem, UsageError

# Capability numbers are bits of a 64-bit set (two 32-bit words in the kernel ABI).
_MAX_CAPABILITIES = 64


@functools.cache
def known_capabilities() -> tuple[str, ...]:
    """Every capability libcap names, in the kernel's order: ("CAP_CHOWN", ...)."""
    libcap = _libcap()
    names: list[str] = []
    for number in range(_MAX_CAPABILITIES):
        pointer = libcap.cap_to_name(number)
        if not pointer:
            break
        try:
            name = ctypes.string_at(pointer).decode("ascii")
        finally:
            libcap.cap_free(pointer)
        if name.isdigit():  # no name: past the last capability this libcap knows
            break
        names.append(name.upper())
    return tuple(names)


def normalize_capability(name: str) -> str:
    """``net_admin``, ``NET_ADMIN`` and ``cap_net_admin`` all as ``CAP_NET_ADMIN``."""
    cap = name.strip().upper()
    return cap if cap.startswith("CAP_") else f"CAP_{cap}"


def parse_capabilities(names: Iterable[str]) -> frozenset[str]:
    """Capability names as a user types them, checked; ``ALL`` means every one."""
    known = known_capabilities()
    parsed: set[str] = set()
    for raw in names:
        if not raw.strip():
            raise UsageError(
                "a capability name is empty", "name one, e.g. NET_ADMIN or CAP_SYS_NICE"
            )
        cap = normalize_capability(raw)
        if cap == "CAP_ALL":
            parsed.update(known)
            continue
        if cap not in known:
            close = difflib.get_close_matches(cap, known, n=1, cutoff=0.8)
            hint = f"did you mean {close[0]}?" if close else "see capabilities(7) for the names"
            raise UsageError(f"{raw!r} is not a Linux capability", hint)
        parsed.add(cap)
    return frozenset(parsed)


@functools.cache
def _libcap() -> ctypes.CDLL:
    path = ctypes.util.find_library("cap") or "libcap.so.2"
    try:
        libcap = ctypes.CDLL(path)
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot check capability names: libcap is not installed ({exc})",
            "install libcap2 (apt-get install libcap2)",
        ) from None
    libcap.cap_to_name.restype = ctypes.c_void_p
    libcap.cap_to_name.argtypes = [ctypes.c_int]
    libcap.cap_free.argtypes = [ctypes.c_void_p]
    return libcap
