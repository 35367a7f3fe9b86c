"""The report's figures as PNG bytes: matplotlib's Agg renderer, no pyplot, no dates.

Each function takes plain data and returns PNG bytes, so the same data gives the same
image: figures are made with the ``Figure`` class directly (no global pyplot state, no
GUI backend), under matplotlib's default style (a user's matplotlibrc does not leak in),
and saved without the ``Software`` text chunk. Colour is never the only channel: cells
carry their verdict as text, markers their mode in the legend.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from profiler.errors import EnvironmentProblem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

VERDICT_COLOURS = {
    "pass": "#1a9850",
    "fail": "#d73027",
    "timeout": "#fc8d59",
    "mismatch": "#7b3294",
    "oom": "#b2182b",
}
UNKNOWN_COLOUR = "#999999"
MODE_COLOURS = ("#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377")
DPI = 100
MAX_HEATMAP_ROWS = 120


def require_plotting() -> None:
    """Fail now when matplotlib cannot be imported, not after the runs a report is for."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        raise EnvironmentProblem(
            f"matplotlib is needed to draw the report's plots and cannot be imported ({exc})",
            "install the report extra: pip install 'spark-seccomp-profiler[report]' "
            "(scripts/bootstrap.sh does), or pip install matplotlib",
        ) from exc


def _render(draw: Callable[[Figure], None], width: float, height: float) -> bytes:
    require_plotting()
    import matplotlib
    import matplotlib.style
    from matplotlib.figure import Figure

    # The default style, not the user's matplotlibrc: the same data gives the same image.
    with matplotlib.style.context("default"), matplotlib.rc_context({"svg.hashsalt": "report"}):
        figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        draw(figure)
        buffer = io.BytesIO()
        # No Software chunk (it names the matplotlib version); Agg writes no date anyway.
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def overhead_plot(
    rows: Sequence[tuple[str, str, float, float, float]],
    *,
    reference: str,
    precision: float,
    confidence: float,
    metric_label: str,
) -> bytes:
    """Overhead in percent per workload (x) and mode (marker), with interval error bars.

    ``rows``: (workload, mode, ratio, ci_low, ci_high), in display order.
    """
    workloads = list(dict.fromkeys(r[0] for r in rows))
    modes = list(dict.fromkeys(r[1] for r in rows))
    width = max(6.0, 1.2 * len(workloads) * max(1, len(modes)) ** 0.5 + 2.5)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        ax.axhspan(-precision * 100, precision * 100, color="#eeeeee", zorder=0)
        ax.axhline(0, color="#444444", linewidth=0.8, zorder=1)
        slot = 0.7 / max(1, len(modes))
        for m_index, mode in enumerate(modes):
            xs, ys, low, high = [], [], [], []
            for workload, row_mode, ratio, ci_low, ci_high in rows:
                if row_mode != mode:
                    continue
                x = workloads.index(workload) - 0.35 + slot * (m_index + 0.5)
                xs.append(x)
                ys.append((ratio - 1) * 100)
                low.append((ratio - ci_low) * 100)
                high.append((ci_high - ratio) * 100)
            ax.errorbar(
                xs,
                ys,
                yerr=[low, high],
                fmt="o",
                capsize=4,
                color=MODE_COLOURS[m_index % len(MODE_COLOURS)],
                label=mode,
                zorder=2,
            )
        ax.set_xticks(range(len(workloads)), workloads, rotation=30 if len(workloads) > 4 else 0)
        ax.set_xlim(-0.6, len(workloads) - 0.4)
        ax.set_ylabel(f"{metric_label} overhead vs {reference} (%)")
        ax.set_title(
            f"Median {metric_label} ratio vs {reference}, {confidence:.0%} bootstrap interval\n"
            f"(grey band: ±{precision:.0%} precision target)",
            fontsize=10,
        )
        ax.yaxis.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(title="mode", loc="best", fontsize=9)

    return _render(draw, width, 4.2)


def profile_size_plot(
    generated: frozenset[str], runtime_default: frozenset[str], runtime_default_name: str
) -> bytes:
    """Two stacked bars: allowed syscalls shared by both profiles, and each one's own."""
    from matplotlib.ticker import MaxNLocator

    both = len(generated & runtime_default)
    only_generated = len(generated - runtime_default)
    only_default = len(runtime_default - generated)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        # Short axis labels; the engine's full name goes in the title.
        labels = ["generated", "RuntimeDefault"]
        ax.barh(labels, [both, both], color="#9e9e9e", label="allowed by both")
        ax.barh(labels[0], only_generated, left=both, color="#4477aa", label="generated only")
        ax.barh(labels[1], only_default, left=both, color="#ee6677", label="RuntimeDefault only")
        longest = max(len(generated), len(runtime_default), 1)
        for y, (own, total) in enumerate(
            [(only_generated, len(generated)), (only_default, len(runtime_default))]
        ):
            ax.text(
                total + longest * 0.02,
                y,
                f"{total} ({both} shared + {own})",
                va="center",
                fontsize=9,
            )
        ax.set_xlim(0, longest * 1.45)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.invert_yaxis()
        ax.set_xlabel("allowed syscalls")
        ax.set_title(f"Profile size against {runtime_default_name}", fontsize=10)
        ax.legend(loc="upper right", fontsize=8, frameon=False)

    return _render(draw, 8.0, 2.6)


def heatmap_plot(
    rows: Sequence[str], columns: Sequence[str], cells: Mapping[tuple[str, str], int], title: str
) -> bytes:
    """Syscalls (rows) by workload or role (columns); darker means used more (0 = unused)."""
    import numpy as np

    matrix = np.zeros((len(rows), len(columns)))
    for (row, column), value in cells.items():
        if row in rows and column in columns:
            matrix[rows.index(row), columns.index(column)] = value
    height = max(2.8, 0.17 * len(rows) + 1.8)
    width = max(4.5, 0.9 * len(columns) + 3.2)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        binary = bool(matrix.max() <= 1)
        image = ax.imshow(
            matrix if binary else np.log10(matrix + 1),
            aspect="auto",
            cmap="Blues",
            vmin=0,
            interpolation="nearest",
        )
        ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right", fontsize=9)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_xticks(np.arange(-0.5, len(columns)), minor=True)
        ax.set_yticks(np.arange(-0.5, len(rows)), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        ax.set_title(title, fontsize=10)
        if not binary:
            bar = figure.colorbar(image, ax=ax, shrink=0.6)
            bar.set_label("log10(calls + 1)")

    return _render(draw, width, height)


def compatibility_plot(
    workloads: Sequence[str], modes: Sequence[str], cells: Mapping[tuple[str, str], tuple[str, str]]
) -> bytes:
    """Workload (rows) by mode (columns), coloured by verdict, with the verdict as text.

    ``cells``: (workload, mode) -> (verdict, detail such as "3/3, 41.2 s").
    """
    from matplotlib.patches import Patch

    width = max(5.0, 1.8 * len(modes) + 2.5)
    height = max(2.4, 0.55 * len(workloads) + 1.6)

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        for y, workload in enumerate(workloads):
            for x, mode in enumerate(modes):
                verdict, detail = cells.get((workload, mode), ("not run", ""))
                colour = VERDICT_COLOURS.get(verdict, UNKNOWN_COLOUR)
                ax.add_patch(_cell_patch(x, y, colour))
                text = verdict if not detail else f"{verdict}\n{detail}"
                ax.text(x, y, text, ha="center", va="center", fontsize=8, color=_text_on(verdict))
        ax.set_xlim(-0.5, len(modes) - 0.5)
        ax.set_ylim(len(workloads) - 0.5, -0.5)
        ax.set_xticks(range(len(modes)), modes, fontsize=9)
        ax.set_yticks(range(len(workloads)), workloads, fontsize=9)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        seen = [v for v in VERDICT_COLOURS if any(c[0] == v for c in cells.values())]
        ax.legend(
            handles=[Patch(color=VERDICT_COLOURS[v], label=v) for v in seen],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            ncol=max(1, len(seen)),
            fontsize=8,
            frameon=False,
        )

    return _render(draw, width, height)


def _text_on(verdict: str) -> str:
    return "black" if verdict == "timeout" else "white"


def _cell_patch(x: float, y: float, colour: str) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.48, y - 0.46), 0.96, 0.92, color=colour)


def microbench_plot(
    rows: Sequence[tuple[str, float, float, float, float | None]], syscall: str
) -> bytes:
    """Median ns per call per mode, IQR as error bars, added cost written above.

    ``rows``: (mode, median, q1, q3, added ns or None for the reference).
    """

    def draw(figure: Figure) -> None:
        ax = figure.add_subplot()
        modes = [r[0] for r in rows]
        medians = [r[1] for r in rows]
        ax.bar(
            modes,
            medians,
            yerr=[[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]],
            capsize=5,
            color=[MODE_COLOURS[i % len(MODE_COLOURS)] for i in range(len(rows))],
        )
        top = max(r[3] for r in rows) if rows else 1.0
        for x, (_mode, _median, _q1, q3, added) in enumerate(rows):
            label = "reference" if added is None else f"{added:+.0f} ns"
            ax.text(x, q3 + top * 0.03, label, ha="center", va="bottom", fontsize=9)
        ax.set_ylim(0, top * 1.2)
        ax.set_ylabel(f"ns per {syscall}() call")
        ax.set_title(f"Cost of one {syscall}() call (median, IQR bars)", fontsize=10)
        ax.yaxis.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)

    return _render(draw, max(5.0, 1.4 * len(rows) + 1.5), 3.6)
