"""A report as Markdown: the tables and findings; the plots live in report.html."""

from __future__ import annotations

from profiler.report.model import Bullets, Paragraph, Plot, Report, Table


def render_markdown(report: Report, html_name: str = "report.html") -> str:
    lines = [f"# {_inline(report.title)}", ""]
    lines += [f"Read from: {', '.join(f'`{s}`' for s in report.sources)}.", ""]
    if any(section.plots for section in report.sections):
        lines += [f"Plots are in [{html_name}]({html_name}).", ""]
    for section in report.sections:
        lines += [f"## {_inline(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                lines += [_inline(block.text), ""]
            elif isinstance(block, Bullets):
                lines += [f"- {_inline(item)}" for item in block.items] + [""]
            elif isinstance(block, Table):
                lines += _table(block) + [""]
            elif isinstance(block, Plot):
                lines += [f"_Plot in {html_name}: {_inline(block.alt)}._", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _table(table: Table) -> list[str]:
    rule = ["---:" if index in table.align_right else "---" for index in range(len(table.headers))]
    rows = [table.headers, tuple(rule), *table.rows]
    return ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|").replace("\n", "<br>")


def _inline(text: str) -> str:
    # Names from input files may hold Markdown characters; keep them literal outside code.
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("*", "\\*").replace("_", "\\_").replace("<", "&lt;")
    return "`".join(parts)
