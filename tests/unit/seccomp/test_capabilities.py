"""Capability names come from the system's libcap; they must be the kernel's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.seccomp.capabilities import known_capabilities, parse_capabilities
from tests.conftest import missing

HEADER = Path("/usr/include/linux/capability.h")


def test_libcap_names_every_capability_the_kernel_headers_define():
    if not HEADER.is_file():
        missing(f"{HEADER} is not installed (linux-libc-dev)")
    defined = re.findall(r"^#define (CAP_[A-Z_]+)\s+(\d+)\s*$", HEADER.read_text(), re.M)
    by_number = sorted((int(number), name) for name, number in defined)
    assert [name for _, name in by_number] == list(known_capabilities())
    assert [number for number, _ in by_number] == list(range(len(by_number)))


def test_libcap_names_what_capsh_decodes():
    capsh = shutil.which("capsh")
    if capsh is None:
        missing("capsh is not installed (libcap2-bin)")
    every = (1 << len(known_capabilities())) - 1
    decoded = subprocess.run(
        [capsh, f"--decode={every:#x}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    names = decoded.split("=", 1)[1].split(",")
    assert [n.upper() for n in names] == list(known_capabilities())


def test_every_spelling_a_user_types():
    assert parse_capabilities(["net_admin", "CAP_SYS_NICE", " sys_ptrace "]) == {
        "CAP_NET_ADMIN",
        "CAP_SYS_NICE",
        "CAP_SYS_PTRACE",
    }
    assert parse_capabilities(["ALL"]) == frozenset(known_capabilities())
    assert parse_capabilities([]) == frozenset()


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("NOT_A_CAPABILITY", "'NOT_A_CAPABILITY' is not a Linux capability", "capabilities(7)"),
        ("CAP_SYS_ADMN", "'CAP_SYS_ADMN' is not a Linux capability", "CAP_SYS_ADMIN"),
        ("21", "'21' is not a Linux capability", "capabilities(7)"),
        ("cap_chown,cap_kill", "'cap_chown,cap_kill' is not a Linux capability", "capabilities"),
        ("", "a capability name is empty", "NET_ADMIN"),
    ],
)
def test_what_is_not_a_capability(name, message, hint):
    with pytest.raises(UsageError) as info:
        parse_capabilities([name])
    assert info.value.message == message
    assert hint in (info.value.hint or "")
