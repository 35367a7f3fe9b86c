"""The kernel's seccomp cache rule and the BPF interpreter, on programs with known answers."""

from __future__ import annotations

import pytest

from profiler.seccomp import bpf
from profiler.seccomp.bpf import Insn

X86_64 = 0xC000003E  # AUDIT_ARCH_X86_64
I386 = 0x40000003  # AUDIT_ARCH_I386
ERRNO_EPERM = bpf.RET_ERRNO | 1
ERRNO_ENOSYS = bpf.RET_ERRNO | 38


def stmt(code: int, k: int) -> Insn:
    return Insn(code, 0, 0, k)


def jump(code: int, k: int, jt: int, jf: int) -> Insn:
    return Insn(code, jt, jf, k)


LD_ARCH = stmt(bpf.LD | bpf.W | bpf.ABS, bpf.OFFSET_ARCH)
LD_NR = stmt(bpf.LD | bpf.W | bpf.ABS, bpf.OFFSET_NR)
LD_ARG0_LOW = stmt(bpf.LD | bpf.W | bpf.ABS, 16)
ALLOW = stmt(bpf.RET | bpf.K, bpf.RET_ALLOW)


def allow_list(numbers: list[int], default: int = ERRNO_EPERM) -> tuple[Insn, ...]:
    """arch check, one JEQ per number to a shared ALLOW, else ``default``."""
    body = [jump(bpf.JMP | bpf.JEQ | bpf.K, n, len(numbers) - i, 0) for i, n in enumerate(numbers)]
    return (
        LD_ARCH,
        jump(bpf.JMP | bpf.JEQ | bpf.K, X86_64, 0, len(body) + 3),
        LD_NR,
        *body,
        stmt(bpf.RET | bpf.K, default),
        ALLOW,
        stmt(bpf.RET | bpf.K, bpf.RET_KILL_PROCESS),
    )


def test_number_only_allow_is_cached_and_nothing_else() -> None:
    program = allow_list([0, 39, 110])
    assert bpf.const_allow(program, X86_64, 110)
    assert bpf.const_allow(program, X86_64, 0)
    assert not bpf.const_allow(program, X86_64, 56)  # refused by the default
    assert not bpf.const_allow(program, I386, 110)  # another arch: killed, not cached


def test_an_argument_load_on_the_path_makes_the_number_uncached() -> None:
    # nr 56: allowed only when arg0's low word is 0; nr 110: allowed by number.
    program = (
        LD_NR,
        jump(bpf.JMP | bpf.JEQ | bpf.K, 110, 4, 0),
        jump(bpf.JMP | bpf.JEQ | bpf.K, 56, 0, 2),
        LD_ARG0_LOW,
        jump(bpf.JMP | bpf.JEQ | bpf.K, 0, 1, 0),
        stmt(bpf.RET | bpf.K, ERRNO_EPERM),
        ALLOW,
    )
    assert bpf.const_allow(program, X86_64, 110)
    assert not bpf.const_allow(program, X86_64, 56)
    # ...although its program allows it for the right argument
    assert bpf.run(program, bpf.SeccompData(56, X86_64, (0,))).allows
    assert not bpf.run(program, bpf.SeccompData(56, X86_64, (3,))).allows
    paths = bpf.paths(program, X86_64, 56)
    assert paths.reads_arguments
    assert paths.actions == {bpf.RET_ALLOW, bpf.RET_ERRNO}


def test_jset_and_and_are_followed_as_the_kernel_does() -> None:
    # x32-style check: numbers with bit 30 set are refused, others pass through AND.
    program = (
        LD_NR,
        jump(bpf.JMP | bpf.JSET | bpf.K, 0x40000000, 3, 0),
        stmt(bpf.ALU | bpf.AND | bpf.K, 0xFF),
        jump(bpf.JMP | bpf.JGE | bpf.K, 0x80, 1, 0),
        ALLOW,
        stmt(bpf.RET | bpf.K, ERRNO_ENOSYS),
    )
    assert bpf.const_allow(program, X86_64, 5)
    assert not bpf.const_allow(program, X86_64, 0x40000005)
    assert not bpf.const_allow(program, X86_64, 0x85)  # AND keeps 0x85: JGE 0x80 refuses
    assert bpf.const_allow(program, X86_64, 0x105)  # AND drops the 0x100 bit


def test_an_instruction_the_emulation_does_not_follow_means_uncached() -> None:
    # Allowed on every path, but through LD IMM + RET A, which the emulation refuses.
    program = (stmt(bpf.LD | bpf.IMM, bpf.RET_ALLOW), stmt(bpf.RET | bpf.RET_A, 0))
    assert not bpf.const_allow(program, X86_64, 1)
    assert bpf.run(program, bpf.SeccompData(1, X86_64)).allows


def test_running_off_the_end_is_not_cached() -> None:
    assert not bpf.const_allow((LD_NR,), X86_64, 1)
    with pytest.raises(bpf.BadProgram):
        bpf.run((LD_NR,), bpf.SeccompData(1, X86_64))


def test_a_stack_caches_only_what_every_filter_allows_by_number() -> None:
    everything = (ALLOW,)
    refuses_56 = allow_list([0, 39, 110, 202])
    assert bpf.cached([everything], X86_64, 56)
    assert not bpf.cached([everything, refuses_56], X86_64, 56)
    assert bpf.cached([everything, refuses_56], X86_64, 110)
    assert bpf.cached_numbers([refuses_56, everything], X86_64, range(120)) == {0, 39, 110}
    assert not bpf.cached([], X86_64, 1)


def test_run_counts_the_instructions_of_the_path() -> None:
    program = allow_list([0, 39, 110])
    # LD arch, JEQ arch, LD nr, then JEQ 0, JEQ 39, JEQ 110 -> ALLOW
    assert bpf.run(program, bpf.SeccompData(110, X86_64)).instructions == 7
    assert bpf.run(program, bpf.SeccompData(0, X86_64)).instructions == 5
    refused = bpf.run(program, bpf.SeccompData(56, X86_64))
    assert refused.value == ERRNO_EPERM and refused.instructions == 7
    assert bpf.paths(program, X86_64, 56).instructions() == (7, 7)


def test_program_bytes_round_trip() -> None:
    program = allow_list([1, 2])
    assert bpf.parse_program(bpf.program_bytes(program)) == program
    with pytest.raises(bpf.BadProgram):
        bpf.parse_program(b"\x00" * 7)


def test_loads_outside_seccomp_data_are_refused() -> None:
    with pytest.raises(bpf.BadProgram):
        bpf.run((stmt(bpf.LD | bpf.W | bpf.ABS, 64), ALLOW), bpf.SeccompData(1, X86_64))


def test_argument_words_are_little_endian_halves() -> None:
    data = bpf.SeccompData(1, X86_64, (0x1122334455667788,))
    assert data.load(16) == 0x55667788
    assert data.load(20) == 0x11223344


def test_action_only_orders_kill_process_lowest() -> None:
    assert bpf.action_only(bpf.RET_KILL_PROCESS) < bpf.action_only(bpf.RET_KILL_THREAD)
    assert bpf.action_only(ERRNO_ENOSYS) < bpf.action_only(bpf.RET_ALLOW)
