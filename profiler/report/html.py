"""A report as one self-contained HTML file: plots inline as base64 PNG, no external assets."""

from __future__ import annotations

import base64
import html

from profiler.report.model import Bullets, Paragraph, Plot, Report, Table

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .55rem; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; display: block; margin: .8rem 0; }
code { background: #f3f3f3; padding: 0 .2rem; border-radius: 3px; }
.sources { color: #666; font-size: .85rem; }
"""


def render_html(report: Report) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(report.title)}</h1>",
        '<p class="sources">Read from: '
        + ", ".join(f"<code>{html.escape(s)}</code>" for s in report.sources)
        + ".</p>",
    ]
    for section in report.sections:
        out.append(f'<section id="{html.escape(section.key)}">')
        out.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            if isinstance(block, Paragraph):
                out.append(f"<p>{_inline(block.text)}</p>")
            elif isinstance(block, Bullets):
                out.append(
                    "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
                )
            elif isinstance(block, Table):
                out.append(_table(block))
            elif isinstance(block, Plot):
                data = base64.b64encode(block.png).decode("ascii")
                out.append(
                    f'<figure><img src="data:image/png;base64,{data}" '
                    f'alt="{html.escape(block.alt)}"></figure>'
                )
        out.append("</section>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    rows = []
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{_cell(c)}</td>' if i in table.align_right else f"<td>{_cell(c)}</td>"
            for i, c in enumerate(row)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(text: str) -> str:
    return _inline(text).replace("\n", "<br>")


def _inline(text: str) -> str:
    """Escape everything; text between backticks becomes <code>."""
    parts = text.split("`")
    rendered = [
        f"<code>{html.escape(p)}</code>" if index % 2 else html.escape(p)
        for index, p in enumerate(parts)
    ]
    return "".join(rendered)
