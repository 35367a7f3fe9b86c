"""The complain transform, and what a profile does with one syscall name.

A profile's complain form logs (SCMP_ACT_LOG) what the profile would deny, so a failing
job runs through; ``decide`` and ``allow_list_decider`` then judge each recorded name
against the *original* profile or RuntimeDefault allow list.
"""

from __future__ import annotations

import enum
import errno as errno_codes
from collections.abc import Callable, Iterable

from profiler.seccomp.generate import ENOSYS_FALLBACKS
from profiler.seccomp.profile import Profile, SyscallRule

COMPLAIN = "SCMP_ACT_LOG"
_ALLOWING = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG")

# Calls RuntimeDefault (Docker's and containerd's default.json) allows only with certain
# arguments. A probed reference, made with invalid arguments, lists them as blocked; the
# complain run lets them through and the diagnosis says "check args" instead of "denied".
RUNTIME_DEFAULT_ARG_FILTERED = frozenset({"clone", "personality", "socket"})


class Decision(str, enum.Enum):
    """What a profile does with one syscall name (arguments unknown)."""

    ALLOWED = "allowed"
    CONDITIONAL = "allowed with conditions"  # depends on arguments eBPF cannot see
    FALLBACK = "ENOSYS fallback"  # denied with ENOSYS on purpose; libc falls back
    DENIED = "denied"


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
