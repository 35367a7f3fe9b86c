"""Options that take several values of a fixed set, comma-separated: the one place they
are parsed.

A single choice is an enum of ``profiler.vocabulary``, which Typer parses itself and shows
as ``<a|b|c>``. Several in one option, as the README writes them (``--modes
unconfined,localhost``, ``--runtime docker,podman``), are parsed here into a tuple of the
enum's members, in the order given, each once, case-insensitive; the help shows
``<a|b|c>[,...]``. A wrong value is a usage error that names the option, the value and
the choices.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from profiler.vocabulary import Engine, OciRuntime, SecurityMode

E = TypeVar("E", bound=enum.Enum)


def values(enum_type: type[enum.Enum]) -> list[str]:
    return [str(m.value) for m in enum_type]


def metavar(enum_type: type[enum.Enum], *, several: bool = False) -> str:
    """``<a|b|c>``, or ``<a|b|c>[,...]`` for an option that takes several."""
    return f"<{'|'.join(values(enum_type))}>" + ("[,...]" if several else "")


def parse_several(enum_type: type[E], text: str, *, what: str) -> tuple[E, ...]:
    """``"a,b"`` as ``(E.A, E.B)``: each value once, case-insensitive, blanks ignored."""
    by_value = {str(m.value).lower(): m for m in enum_type}
    choices = ", ".join(values(enum_type))
    chosen: list[E] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        member = by_value.get(item.lower())
        if member is None:
            raise typer.BadParameter(f"unknown {what} {item!r} (choose from {choices})")
        if member in chosen:
            raise typer.BadParameter(f"{what} {item!r} is given twice (name each once)")
        chosen.append(member)
    if not chosen:
        raise typer.BadParameter(f"no {what} given (choose from {choices}, comma-separated)")
    return tuple(chosen)


# Typer needs a class to annotate an option with; these hold the parsed members.
class Modes(tuple[SecurityMode, ...]):
    """``--modes``: security modes."""


class Engines(tuple[Engine, ...]):
    """``--runtime`` where several engines are compared."""


class OciRuntimes(tuple[OciRuntime, ...]):
    """``--oci-runtime`` where several OCI runtimes are compared."""


def several(enum_type: type[E], result: type[tuple[Any, ...]], what: str) -> dict[str, Any]:
    """The ``typer.Option`` arguments of an option taking several of ``enum_type``."""

    def parse(text: str | tuple[Any, ...]) -> tuple[Any, ...]:
        if isinstance(text, tuple):  # a default, already parsed
            return text
        return result(parse_several(enum_type, text, what=what))

    parser: Callable[[str], tuple[Any, ...]] = parse
    return {"parser": parser, "metavar": metavar(enum_type, several=True)}
