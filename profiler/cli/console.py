"""The two consoles: results on stdout, logs, progress and errors on stderr.

The one place that decides how output looks where it goes. On a terminal, tables have
boxes and wrap to its width. Anywhere else (a pipe, a file, a CI log) a table is plain
columns, one row per line, no box-drawing characters and no wrapping, so `grep`, `awk`
and `wc -l` see one line per row.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

# Text that is not a table (notes, errors) is not cut to 80 columns in CI logs either.
_PIPED_WIDTH = 160
# Wide enough for any row a table of this tool holds; rows are never wrapped when piped.
_UNWRAPPED = 100_000


class OutputConsole(Console):
    """A rich console whose tables are plain columns when it does not write to a terminal."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.is_terminal:
            self.width = _PIPED_WIDTH

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if self.is_terminal or not any(isinstance(o, Table) for o in objects):
            super().print(*objects, **kwargs)
            return
        for item in objects:
            if isinstance(item, Table):
                self._print_plain(item)
            else:
                super().print(item, **kwargs)

    def _print_plain(self, table: Table) -> None:
        text = plain_text(table, self).rstrip("\n")
        super().print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def plain_text(table: Table, console: Console | None = None) -> str:
    """A table as plain columns, one row per line, with no box and no wrapping; its title
    and caption on lines of their own. Ends with a newline."""
    console = console or Console(file=io.StringIO())
    title, caption = table.title, table.caption
    table.title = table.caption = None
    table.box = None
    table.show_edge = False
    table.pad_edge = False
    table.min_width = None
    wide = console.options.update_width(_UNWRAPPED)
    width = Measurement.get(console, wide, table).maximum
    lines = console.render_lines(table, console.options.update_width(width), pad=False)
    rows = ["".join(s.text for s in line).rstrip() for line in lines]
    return "\n".join([str(title)] * bool(title) + rows + [str(caption)] * bool(caption)) + "\n"


console = OutputConsole(stderr=True)
stdout = OutputConsole(soft_wrap=True)
