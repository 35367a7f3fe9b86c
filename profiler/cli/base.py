"""The Typer app every command group is made of: plain-text help, argument names as
metavars, and the global options every command accepts.

Help is plain text, not rich markup: help texts say ``[default: runs/check-<time>]`` and
``runtime-default:ENGINE[/OCI-RUNTIME]``, which rich would take for markup tags (dropping
the first, refusing the second with a MarkupError). Typer's own formatter wraps to the
terminal, shows defaults and choices, and needs no boxes when piped.
"""

from __future__ import annotations

import functools
import inspect
import re
import textwrap
import typing
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from profiler.cli.state import state

# Typer names a list-typed option's value `<list[str]>`; the option is repeated instead.
_LIST_TYPE = re.compile(r"<list\[(?P<item>.+)\]>")

VERBOSE_OPTION = typer.Option(
    False, "--verbose", "-v", help="Show tracebacks and debug detail on errors."
)


# Click's formatter, as Typer ships it (its module is Typer's own, not a public one).
_ClickFormatter: Any = typer.Context.formatter_class


class HelpFormatter(_ClickFormatter):
    """Wraps help at spaces only: an option named in a help text (``--no-diagnose``) or a
    value (``runtime-default``) is never split at its hyphen across two lines."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
        self.write("\n\n".join(_fill(p, self.width, indent) for p in paragraphs) + "\n")

    def write_dl(
        self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        rows = list(rows)
        names = min(max((len(name) for name, _ in rows), default=0), col_max)
        column = self.current_indent + names + col_spacing
        for name, text in rows:
            lines = _fill(" ".join(text.split()), max(self.width - column, 30), "").splitlines()
            head = " " * self.current_indent + name
            if lines and len(name) <= names:
                self.write(head.ljust(column) + lines.pop(0) + "\n")
            else:
                self.write(head + "\n")
            for line in lines:
                self.write(" " * column + line + "\n")


def _fill(text: str, width: int, indent: str) -> str:
    return textwrap.fill(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


class HelpContext(typer.Context):
    formatter_class = HelpFormatter


def argument_metavar(param: TyperArgument) -> str:
    """``WORKLOAD`` for a ``workloads`` argument: its metavar, else its name in capitals."""
    if param.metavar:
        return param.metavar
    name = (param.name or "arg").upper()
    if param.nargs != 1 and name.endswith("S"):
        name = name[:-1]  # WORKLOAD... reads better than WORKLOADS...
    return name


def _usage_piece(param: TyperArgument) -> str:
    name = argument_metavar(param)
    piece = name if param.required else f"[{name}]"
    return f"{piece}..." if param.nargs != 1 else piece


def _option_metavar(param: TyperOption, ctx: typer.Context) -> None:
    """A repeatable option shows the type of one value: ``--allow <str>``."""
    if param.metavar is None and param.multiple and not param.is_flag:
        match = _LIST_TYPE.fullmatch(param.display_type(ctx))
        if match:
            item = match["item"]
            param.metavar = "<path>" if item in ("Path", "PosixPath") else f"<{item}>"


def _help_records(
    command: typer.core.TyperCommand | TyperGroup, ctx: typer.Context
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    arguments: list[tuple[str, str]] = []
    options: list[tuple[str, str]] = []
    for param in command.get_params(ctx):
        if isinstance(param, TyperOption):
            _option_metavar(param, ctx)
        record = param.get_help_record(ctx)
        if record is None:
            continue
        if isinstance(param, TyperArgument):
            name = argument_metavar(param) + ("..." if param.nargs != 1 else "")
            arguments.append((name, record[1]))
        else:
            options.append(record)
    return arguments, options


def _format_options(
    command: typer.core.TyperCommand | TyperGroup,
    ctx: typer.Context,
    formatter: Any,
) -> None:
    arguments, options = _help_records(command, ctx)
    if arguments:
        with formatter.section("Arguments"):
            formatter.write_dl(arguments)
    if options:
        with formatter.section("Options"):
            formatter.write_dl(options)


def _usage_pieces(command: typer.core.TyperCommand | TyperGroup, ctx: typer.Context) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            pieces.append(_usage_piece(param))
    return pieces


class Command(TyperCommand):
    """A command whose usage line and help name arguments as ``NAME`` / ``[NAME]...``."""

    context_class = HelpContext

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return _usage_pieces(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options(self, ctx, formatter)


class Group(TyperGroup):
    """A command group, with the same help conventions as ``Command``."""

    context_class = HelpContext

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*_usage_pieces(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        _format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def with_global_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` taking the global options too, so ``spark-seccomp check -v`` works as
    ``spark-seccomp -v check`` does (click reads a group's options only before the command)."""
    signature = inspect.signature(func, eval_str=True)
    if "verbose" in signature.parameters:
        raise TypeError(f"{func.__name__} declares a global option itself")

    @functools.wraps(func)
    def command(*args: Any, verbose: bool = False, **kwargs: Any) -> Any:
        if verbose:
            state.verbose = True
        return func(*args, **kwargs)

    verbose = inspect.Parameter(
        "verbose", inspect.Parameter.KEYWORD_ONLY, default=VERBOSE_OPTION, annotation=bool
    )
    command.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), verbose]
    )
    command.__annotations__ = {**typing.get_type_hints(func), "verbose": bool}
    return command


class App(typer.Typer):
    """``typer.Typer`` with this tool's help conventions and global options."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cls", Group)
        kwargs.setdefault("rich_markup_mode", None)
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)

    def command(  # type: ignore[override]
        self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        register = super().command(name, cls=cls or Command, **kwargs)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            register(with_global_options(func))
            return func

        return decorator
