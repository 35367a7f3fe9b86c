"""Seccomp filter programs as the kernel holds them: classic BPF, run two ways.

A seccomp filter is a classic BPF program (``struct sock_filter[]``) run on a
``struct seccomp_data`` (syscall number, audit arch, instruction pointer, six arguments).
This module owns reading such a program and the two ways the kernel evaluates it:

* ``const_allow``: the kernel's action-cache emulation (``seccomp_is_const_allow`` in
  kernel/seccomp.c, Linux 5.11 and later). When a filter is attached, the kernel walks
  its program once per syscall number and audit arch, following only loads of the number
  and the arch, jumps that compare with a constant and an AND with a constant; if that
  walk reaches ``RET ALLOW`` the number is marked "always allowed" and later calls with
  that number skip the program. Any other instruction on the path (an argument or
  instruction-pointer load above all) or any other return (a denial) leaves the number
  out of the cache: such calls run every filter's program every time. With several
  filters stacked, a number is cached only if every filter allows it this way.
* ``run``: the whole program for one call's data, as ``bpf_prog_run`` computes it, with
  the number of instructions executed: an uncached call pays for that path.
* ``paths``: every path one syscall number can take whatever its arguments are, for
  telling an argument-checked call's cheapest and dearest path apart.

Not modelled: the kernel's pass-through of its own ``uretprobe``/``uprobe`` trampoline
calls (6.11+), which no program makes itself and no recording contains.

Instruction and action encodings are the kernel's ABI (uapi/linux/filter.h, bpf_common.h
and seccomp.h); syscall numbers and arch tokens come from libseccomp, never from a table.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# -- classic BPF encoding (uapi/linux/bpf_common.h) ------------------------------------------
LD, LDX, ST, STX, ALU, JMP, RET, MISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
W = 0x00
IMM, ABS, MEM, LEN = 0x00, 0x20, 0x60, 0x80
# (no BPF_MOD: seccomp refuses it)
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, XOR = (
    0x00,
    0x10,
    0x20,
    0x30,
    0x40,
    0x50,
    0x60,
    0x70,
    0x80,
    0xA0,
)
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
RET_A = 0x10
TAX, TXA = 0x00, 0x80

# -- seccomp (uapi/linux/seccomp.h) -------------------------------------------------------------
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
ACTION_FULL = 0xFFFF0000
DATA = 0x0000FFFF
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFFSET_NR = 0
OFFSET_ARCH = 4
SECCOMP_DATA_SIZE = 64
SCRATCH_SLOTS = 16  # BPF_MEMWORDS
_MASK32 = 0xFFFFFFFF
_INSN = struct.Struct("<HBBI")


class BadProgram(ValueError):
    """A program the kernel would refuse (or that this emulation cannot follow)."""


@dataclass(frozen=True)
class Insn:
    """One ``struct sock_filter``: opcode, jump offsets if true/false, constant."""

    code: int
    jt: int
    jf: int
    k: int


@dataclass(frozen=True)
class SeccompData:
    """What a filter sees of one call (``struct seccomp_data``)."""

    nr: int
    arch: int
    args: tuple[int, ...] = (0, 0, 0, 0, 0, 0)
    instruction_pointer: int = 0

    def load(self, offset: int) -> int:
        """The 32-bit word at ``offset`` (little-endian layout, as on x86_64 and arm64)."""
        if offset == OFFSET_NR:
            return self.nr & _MASK32
        if offset == OFFSET_ARCH:
            return self.arch & _MASK32
        if offset in (8, 12):
            return (self.instruction_pointer >> (32 * ((offset - 8) // 4))) & _MASK32
        index, half = divmod(offset - 16, 8)
        args = (*self.args, 0, 0, 0, 0, 0, 0)[:6]
        return (args[index] >> (32 if half else 0)) & _MASK32


@dataclass(frozen=True)
class Outcome:
    """The program's return value for one call and the instructions it executed."""

    value: int
    instructions: int

    @property
    def action(self) -> int:
        return self.value & ACTION_FULL

    @property
    def allows(self) -> bool:
        return self.action == RET_ALLOW


def parse_program(raw: bytes) -> tuple[Insn, ...]:
    """Instructions from the bytes of ``seccomp_export_bpf`` or ``PTRACE_SECCOMP_GET_FILTER``
    (host byte order, eight bytes each)."""
    if not raw or len(raw) % _INSN.size:
        raise BadProgram(f"a BPF program is a multiple of {_INSN.size} bytes, got {len(raw)}")
    return tuple(Insn(*_INSN.unpack_from(raw, i)) for i in range(0, len(raw), _INSN.size))


def program_bytes(program: Sequence[Insn]) -> bytes:
    return b"".join(_INSN.pack(i.code, i.jt, i.jf, i.k) for i in program)


def action_only(value: int) -> int:
    """The action bits as the kernel compares them when filters are stacked (signed)."""
    action = value & ACTION_FULL
    return action - (1 << 32) if action & 0x80000000 else action


def const_allow(program: Sequence[Insn], arch: int, nr: int) -> bool:
    """Whether the kernel's cache emulation marks (``arch``, ``nr``) always-allowed.

    Follows ``seccomp_is_const_allow``: the register starts at 0; loads of the number or
    arch, ``JA``, ``JEQ``/``JGE``/``JGT``/``JSET`` with a constant and ``AND`` with a
    constant are followed; a ``RET`` with a constant decides (allowed only if it is
    ``RET_ALLOW`` exactly); anything else means "not cacheable".
    """
    register = 0
    pc = 0
    while pc < len(program):
        insn = program[pc]
        code, k = insn.code, insn.k
        if code == LD | W | ABS:
            if k == OFFSET_NR:
                register = nr & _MASK32
            elif k == OFFSET_ARCH:
                register = arch & _MASK32
            else:
                return False  # an argument or the instruction pointer: not constant
        elif code == RET | K:
            return k == RET_ALLOW
        elif code == JMP | JA:
            pc += k
        elif code in (JMP | JEQ | K, JMP | JGE | K, JMP | JGT | K, JMP | JSET | K):
            pc += insn.jt if _compare(code & 0xF0, register, k) else insn.jf
        elif code == ALU | AND | K:
            register &= k
        else:
            return False
        pc += 1
    return False  # ran off the end: the kernel warns and does not cache


def cached(filters: Sequence[Sequence[Insn]], arch: int, nr: int) -> bool:
    """A number is cached for a task only if every filter in its stack const-allows it."""
    return bool(filters) and all(const_allow(program, arch, nr) for program in filters)


def run(program: Sequence[Insn], data: SeccompData) -> Outcome:
    """The program's return value for ``data`` and how many instructions it executed."""
    a = x = 0
    memory = [0] * SCRATCH_SLOTS
    pc = executed = 0
    while pc < len(program):
        insn = program[pc]
        code, k = insn.code, insn.k
        executed += 1
        cls = code & 0x07
        if cls == RET:
            if code == RET | K:
                return Outcome(k, executed)
            if code == RET | RET_A:
                return Outcome(a, executed)
            raise BadProgram(f"instruction {pc}: unknown return {code:#x}")
        if cls == LD:
            a = _load(code, k, data, memory, pc)
        elif cls == LDX:
            x = _load(code & ~0x07, k, data, memory, pc)
        elif code == ST:
            memory[_slot(k, pc)] = a
        elif code == STX:
            memory[_slot(k, pc)] = x
        elif cls == ALU:
            if code & 0xF0 == DIV and (x if code & X else k) == 0:
                return Outcome(0, executed)  # classic BPF: division by zero returns 0
            a = _alu(code, a, x, k, pc)
        elif cls == JMP:
            if code == JMP | JA:
                pc += k
            else:
                operand = x if code & X else k
                pc += insn.jt if _compare(code & 0xF0, a, operand) else insn.jf
        elif code == MISC | TAX:
            x = a
        elif code == MISC | TXA:
            a = x
        else:
            raise BadProgram(f"instruction {pc}: opcode {code:#x} is not allowed in seccomp")
        pc += 1
    raise BadProgram("the program ran off its end without returning")


@dataclass(frozen=True)
class PathSet:
    """Every way a program can end for one (arch, nr), whatever the arguments."""

    outcomes: frozenset[tuple[int, int]]  # (return value, instructions executed)
    reads_arguments: bool  # some path loads an argument or the instruction pointer

    @property
    def actions(self) -> frozenset[int]:
        return frozenset(value & ACTION_FULL for value, _ in self.outcomes)

    def instructions(self, action: int | None = None) -> tuple[int, int]:
        """(shortest, longest) path, over the paths ending in ``action`` (any if None)."""
        lengths = [n for v, n in self.outcomes if action is None or v & ACTION_FULL == action]
        if not lengths:
            raise ValueError("no path ends in that action")
        return min(lengths), max(lengths)


def paths(program: Sequence[Insn], arch: int, nr: int) -> PathSet:
    """Every (return value, path length) for calls with this number, any arguments.

    The number and arch are known; argument and instruction-pointer words are unknown, and
    a jump that depends on an unknown value is followed both ways (classic BPF only jumps
    forward, so the walk ends). Arithmetic on an unknown value stays unknown.
    """
    outcomes: set[tuple[int, int]] = set()
    reads = False
    # (pc, A, X, scratch memory, instructions so far); None stands for "unknown".
    Value = int | None
    stack: list[tuple[int, Value, Value, tuple[Value, ...], int]] = [
        (0, 0, 0, (0,) * SCRATCH_SLOTS, 0)
    ]
    seen: set[tuple[int, Value, Value, tuple[Value, ...], int]] = set()
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        pc, a, x, memory, executed = state
        if pc >= len(program):
            raise BadProgram("the program ran off its end without returning")
        insn = program[pc]
        code, k = insn.code, insn.k
        executed += 1
        cls = code & 0x07
        nxt = pc + 1
        if cls == RET:
            if code == RET | K:
                outcomes.add((k, executed))
            elif code == RET | RET_A and a is not None:
                outcomes.add((a, executed))
            elif code == RET | RET_A:
                raise BadProgram(f"instruction {pc}: returns a value that depends on arguments")
            else:
                raise BadProgram(f"instruction {pc}: unknown return {code:#x}")
            continue
        if cls in (LD, LDX):
            mode = code & 0xE0
            value: Value
            if mode == ABS and code & 0x18 == W:
                if k in (OFFSET_NR, OFFSET_ARCH):
                    value = (nr if k == OFFSET_NR else arch) & _MASK32
                else:
                    _check_offset(k, pc)
                    value = None
                    reads = True
            elif mode == IMM:
                value = k & _MASK32
            elif mode == MEM:
                value = memory[_slot(k, pc)]
            elif mode == LEN:
                value = SECCOMP_DATA_SIZE
            else:
                raise BadProgram(f"instruction {pc}: load {code:#x} is not allowed in seccomp")
            if cls == LD:
                a = value
            else:
                x = value
        elif code in (ST, STX):
            slot = _slot(k, pc)
            memory = (*memory[:slot], a if code == ST else x, *memory[slot + 1 :])
        elif cls == ALU:
            operand = x if code & X else k
            if a is None or operand is None:
                a = None
            elif code & 0xF0 == DIV and operand == 0:
                outcomes.add((0, executed))
                continue
            else:
                a = _alu(code, a, operand, operand, pc)
        elif cls == JMP:
            if code == JMP | JA:
                stack.append((nxt + k, a, x, memory, executed))
                continue
            operand = x if code & X else k
            if a is None or operand is None:
                branches = {insn.jt, insn.jf}
            else:
                branches = {insn.jt if _compare(code & 0xF0, a, operand) else insn.jf}
            for offset in branches:
                stack.append((nxt + offset, a, x, memory, executed))
            continue
        elif code == MISC | TAX:
            x = a
        elif code == MISC | TXA:
            a = x
        else:
            raise BadProgram(f"instruction {pc}: opcode {code:#x} is not allowed in seccomp")
        stack.append((nxt, a, x, memory, executed))
    return PathSet(frozenset(outcomes), reads)


def cached_numbers(
    filters: Sequence[Sequence[Insn]], arch: int, numbers: Iterable[int]
) -> frozenset[int]:
    """The given numbers the kernel caches as always-allowed for this filter stack."""
    return frozenset(nr for nr in numbers if cached(filters, arch, nr))


def _compare(op: int, a: int, operand: int) -> bool:
    if op == JEQ:
        return a == operand
    if op == JGT:
        return a > operand
    if op == JGE:
        return a >= operand
    if op == JSET:
        return bool(a & operand)
    raise BadProgram(f"unknown jump {op:#x}")


def _alu(code: int, a: int, x: int, k: int, pc: int) -> int:
    operand = x if code & X else k
    op = code & 0xF0
    if op == ADD:
        result = a + operand
    elif op == SUB:
        result = a - operand
    elif op == MUL:
        result = a * operand
    elif op == DIV:
        result = a // operand
    elif op == OR:
        result = a | operand
    elif op == AND:
        result = a & operand
    elif op == LSH:
        result = a << (operand & 31)
    elif op == RSH:
        result = a >> (operand & 31)
    elif op == NEG:
        result = -a
    elif op == XOR:
        result = a ^ operand
    else:
        raise BadProgram(f"instruction {pc}: ALU operation {code:#x} is not allowed in seccomp")
    return result & _MASK32


def _load(code: int, k: int, data: SeccompData, memory: list[int], pc: int) -> int:
    mode = code & 0xE0
    if mode == ABS and code & 0x18 == W:
        _check_offset(k, pc)
        return data.load(k)
    if mode == IMM:
        return k & _MASK32
    if mode == MEM:
        return memory[_slot(k, pc)]
    if mode == LEN:
        return SECCOMP_DATA_SIZE
    raise BadProgram(f"instruction {pc}: load {code:#x} is not allowed in seccomp")


def _check_offset(k: int, pc: int) -> None:
    if k >= SECCOMP_DATA_SIZE or k & 3:
        raise BadProgram(f"instruction {pc}: load at offset {k} is outside seccomp_data")


def _slot(k: int, pc: int) -> int:
    if k >= SCRATCH_SLOTS:
        raise BadProgram(f"instruction {pc}: scratch slot {k} does not exist")
    return k
