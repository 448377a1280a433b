"""The charts, as SVG files that a rerun over the same input writes byte for byte the same."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator,  # noqa: E402
                               NullFormatter, NullLocator)

from . import load  # noqa: E402

plt.rcParams.update({
    "svg.fonttype": "none",  # text stays text: smaller, searchable, selectable
    "svg.hashsalt": "rosetta-report",  # element ids from a fixed salt, not a random one
    "font.size": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
})

# One colour and marker per model, the same in every chart, so a reader learns them once.
STYLE = {
    "blocking": ("#7f7f7f", "o"),
    "process-per-task": ("#8c564b", "s"),
    "thread-per-task": ("#d62728", "^"),
    "thread-pool": ("#ff7f0e", "v"),
    "epoll-callbacks": ("#1f77b4", "D"),
    "stackful-fibers": ("#2ca02c", "P"),
    "boost-fibers": ("#17becf", "X"),
    "stackless-coroutines": ("#9467bd", "*"),
    "io-uring": ("#e377c2", "h"),
}
SPARE_STYLES = [("#bcbd22", "p"), ("#393b79", "<"), ("#637939", ">"), ("#843c39", "d"),
                ("#7b4173", "H"), ("#3182bd", "8")]
FAILED_MARKER = "x"


def style_of(model: str, models: list[str]) -> tuple[str, str]:
    if model in STYLE:
        return STYLE[model]
    unknown = [m for m in models if m not in STYLE]
    return SPARE_STYLES[unknown.index(model) % len(SPARE_STYLES)] if model in unknown else \
        SPARE_STYLES[0]


@dataclass
class Chart:
    file: str
    section: str  # throughput, latency, memory, cpu, micro
    title: str
    caption: str
    tables: list = field(default_factory=list)  # (heading, page.Table): its numbers, under it


def count(value: float, _position=None) -> str:
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def save(fig, path: Path) -> None:
    # No date in the metadata: the same input gives the same bytes.
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)


def group_name(scenario: str, latency_ms: float) -> str:
    return f"{scenario}-L{latency_ms:g}"


def line_label(ladder: tuple) -> str:
    model, _, _, threads = ladder
    return model if threads == 1 else f"{model} (T={threads})"


def outside_legend(ax, handles, title=None, anchor=(1.01, 1.0), loc="upper left"):
    # Built apart from ax.legend(), which keeps one legend an axes: a chart may have two.
    legend = Legend(ax, handles, [h.get_label() for h in handles], title=title, loc=loc,
                    bbox_to_anchor=anchor, fontsize=9, title_fontsize=9, frameon=False)
    ax.add_artist(legend)
    legend.set_clip_on(False)  # add_artist clips to the axes, and this legend is outside them
    return legend


def log_axis(axis) -> None:
    """Plain numbers on a log axis (1k, not 10³), with 2 and 5 between the powers of ten when
    the data spans too few of them to show more than a tick or two."""
    low, high = sorted(axis.get_view_interval())
    subs = (1.0,) if high / max(low, 1e-12) > 300 else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(count))
    axis.set_minor_formatter(NullFormatter())


def concurrency_axis(ax, levels: list[float]) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(levels))
    ax.xaxis.set_major_formatter(FuncFormatter(count))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("concurrency C (requests allowed in flight, log scale)")


def ladder_chart(ladders, models, limits, value, ylabel, title, path, explain_limits):
    """A line per ladder over its good cells; a cross where it failed, a ring where it was
    saturated. With explain_limits, a second legend says why each one stopped."""
    fig, ax = plt.subplots(figsize=(10, 5.2))
    levels = sorted({float(r["concurrency"]) for cells in ladders.values() for r in cells})
    handles, limit_handles, plotted = [], [], []
    for ladder, cells in ladders.items():
        colour, marker = style_of(ladder[0], models)
        dashes = "-" if ladder[3] == 1 else "--"
        points = [(float(r["concurrency"]), value(r)) for r in cells if load.good(r)]
        points = [(x, y) for x, y in points if y is not None and y > 0]
        if points:
            ax.plot(*zip(*points), dashes, color=colour, marker=marker, markersize=6, lw=1.6)
            plotted += [y for _, y in points]
        handles.append(Line2D([], [], color=colour, marker=marker, ls=dashes,
                              label=line_label(ladder)))
        failed = dict(marker=FAILED_MARKER, color=colour, markersize=12, mew=3, ls="none")
        saturated = dict(marker="o", mfc="none", mec=colour, markersize=16, mew=1.5, ls="none")
        limit = limits.get(ladder)
        marked = [(r, failed) for r in cells if not load.good(r)]
        if limit and not limit.failed:
            marked += [(r, saturated) for r in cells if r["concurrency"] == limit.concurrency]
        for run, kwargs in marked:
            y = value(run)
            if y is not None and y > 0:
                ax.plot([float(run["concurrency"])], [y], **kwargs)
                plotted.append(y)
            else:  # nothing to plot it at: on the axis, so the failure still shows
                ax.plot([float(run["concurrency"])], [0.02], transform=ax.get_xaxis_transform(),
                        clip_on=False, **kwargs)
        if limit:
            text = textwrap.shorten(f"{line_label(ladder)}: {limit.text()}", 90, placeholder="…")
            limit_handles.append(Line2D([], [], label=textwrap.fill(text, 46),
                                        **(failed if limit.failed else saturated)))
    concurrency_axis(ax, levels)
    if not plotted:  # every cell failed with nothing to show: an empty log axis still draws
        ax.set_ylim(1, 10)
        ax.text(0.5, 0.5, "no good cell", transform=ax.transAxes, ha="center", color="#777")
    ax.set_yscale("log")
    log_axis(ax.yaxis)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    legend = outside_legend(ax, handles, "model")
    if explain_limits and limit_handles:
        fig.canvas.draw()  # the first legend's size decides where the second one starts
        box = legend.get_window_extent().transformed(ax.transAxes.inverted())
        outside_legend(ax, limit_handles, "where it stopped (✕ failed, ◯ saturated)",
                       anchor=(1.01, box.y0 - 0.04))
    elif limit_handles:
        outside_legend(ax, [Line2D([], [], marker=FAILED_MARKER, color="k", mew=2, ls="none",
                                   label="failed cell"),
                            Line2D([], [], marker="o", mfc="none", mec="k", ls="none",
                                   markersize=10, label="saturated cell")],
                       anchor=(1.01, 0.0), loc="lower left")
    save(fig, path)


def memory_chart(ladders, models, fits, title, path):
    """Peak memory over requests in flight, log-log: two panels, RSS alone and with the
    kernel's stacks and slab, each with the fitted per-task slope in its legend."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 8.4), sharex=True)
    panels = (("user", "peak RSS of the model's process tree",
               lambda r: load.number(r, "peak_rss_kib")),
              ("user_kernel", "RSS + kernel stacks and slab (system-wide)",
               lambda r: (load.number(r, "peak_rss_kib") or 0.0) + load.kernel_kib(r)))
    for ax, (fit_key, panel_title, kib) in zip(axes, panels):
        handles = []
        ax.set_xlim(0.8, 125)  # what an axis without one good cell shows; data widens it
        ax.set_ylim(1, 100)
        ax.autoscale(True)
        for ladder, cells in ladders.items():
            colour, marker = style_of(ladder[0], models)
            points = sorted((load.number(r, "peak_inflight"), kib(r)) for r in cells
                            if load.good(r) and load.number(r, "peak_inflight"))
            points = [(x, y / 1024) for x, y in points if y and y > 0]
            if not points:
                continue
            ax.plot(*zip(*points), ls="none", color=colour, marker=marker, markersize=7)
            fit = (fits.get(ladder) or {}).get(fit_key)
            if fit:
                low, high = points[0][0], points[-1][0]
                xs = [low * (high / low) ** (i / 40) for i in range(41)]
                line = [(x, (fit["intercept_kib"] + fit["slope_kib"] * x) / 1024) for x in xs]
                # A negative intercept sends the line to zero below the first cell: draw it
                # only where it stays near what was measured.
                floor = min(y for _, y in points) / 2
                line = [(x, y) for x, y in line if y >= floor]
                if line:
                    ax.plot(*zip(*line), "--", color=colour, lw=1.1, alpha=0.8)
                slope = f"{fit['slope_kib']:,.1f} KiB/task (R² {fit['r2']:.2f})"
            else:
                slope = "no slope (under 3 cells or a span under 50)"
            handles.append(Line2D([], [], color=colour, marker=marker, ls="--",
                                  label=f"{line_label(ladder)}: {slope}"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        log_axis(ax.xaxis)
        log_axis(ax.yaxis)
        ax.set_ylabel("peak memory (MiB, log scale)")
        ax.set_title(panel_title, fontsize=10)
        outside_legend(ax, handles, "model: memory per task (least squares)")
    axes[-1].set_xlabel("requests in flight the origin saw (peak_inflight, log scale)")
    fig.suptitle(title)
    save(fig, path)


def micro_chart(rows: list[load.MicroRow], models, title, xlabel, path):
    """Horizontal bars on a log scale, one per mechanism, coloured as the model that uses it;
    the published anchors as black diamonds on their rows."""
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.6))
    ys = list(range(len(rows)))
    ax.barh(ys, [r.seconds for r in rows], color=[style_of(r.model, models)[0] for r in rows],
            height=0.6)
    for y, row in zip(ys, rows):
        anchor = load.ANCHORS[row.anchor] if row.anchor else None
        # The value past the bar or the anchor's diamond, whichever ends further right.
        right = max(row.seconds, anchor[0] if anchor else 0)
        ax.text(right * 1.25, y, load.duration(row.seconds), va="center", fontsize=8.5)
        if anchor:
            ax.plot([anchor[0]], [y], "D", color="black", markersize=7)
            # In a column right of the axes, where no bar or value can be under it.
            ax.text(1.01, y, f"◆ ~{load.duration(anchor[0])}, {anchor[1]}", va="center",
                    fontsize=8.5, transform=ax.get_yaxis_transform())
    ax.set_yticks(ys, [r.label for r in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    low = min([r.seconds for r in rows] + [load.ANCHORS[r.anchor][0] for r in rows if r.anchor])
    high = max([r.seconds for r in rows] + [load.ANCHORS[r.anchor][0] for r in rows if r.anchor])
    ax.set_xlim(low / 3, high * 12)  # room for the value labels right of the longest bar
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: load.duration(v)))
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.text(1.01, 1.0, "published (other machines)", transform=ax.transAxes, fontsize=8.5,
            va="bottom", fontweight="bold")
    save(fig, path)


def write_charts(results: load.Results, fits, limits, micro, out_dir: Path) -> list[Chart]:
    models = results.models
    groups: dict[tuple, dict[tuple, list[dict]]] = {}
    for ladder, cells in load.cells_by_ladder(results.runs).items():
        groups.setdefault((ladder[1], ladder[2]), {})[ladder] = cells
    charts = []
    for (scenario, latency) in sorted(groups, key=lambda g: (g[0] != "download", g)):
        ladders = dict(sorted(groups[(scenario, latency)].items(),
                              key=lambda kv: load.ladder_rank(kv[0], models)))
        name = group_name(scenario, latency)
        where = f"{scenario}, {latency:g} ms think time"
        specs = [
            ("throughput", "throughput", lambda r: load.number(r, "throughput_rps"),
             "attempts per second (log scale)", f"Throughput vs concurrency — {where}", True),
            ("latency", "p99", lambda r: (load.number(r.get("latency_us"), "p99") or 0) / 1000,
             "p99 attempt latency (ms, log scale)", f"p99 latency vs concurrency — {where}",
             False),
            ("cpu", "cpu", load.cpu_per_thousand,
             "CPU seconds (user + sys) per 1,000 requests (log scale)",
             f"CPU per 1,000 requests vs concurrency — {where}", False),
        ]
        for section, kind, value, ylabel, title, explain in specs:
            file = f"{kind}-{name}.svg"
            ladder_chart(ladders, models, limits, value, ylabel, title,
                         out_dir / file, explain)
            charts.append(Chart(file, section, title, ylabel))
        file = f"memory-{name}.svg"
        title = f"Peak memory vs requests in flight — {where}"
        memory_chart(ladders, models, fits, title, out_dir / file)
        charts.append(Chart(file, "memory", title, "peak memory vs peak_inflight"))
    if micro:
        for kind, table, title, xlabel in (
                ("spawn", load.SPAWN_ROWS, "Spawn + join of an empty task, per task",
                 "time per task (log scale)"),
                ("switch", load.SWITCH_ROWS, "One hand-over of the CPU between two tasks",
                 "time per switch (log scale)")):
            rows = load.micro_rows(micro, table)
            if rows:
                file = f"micro-{kind}.svg"
                micro_chart(rows, models, title, xlabel, out_dir / file)
                charts.append(Chart(file, "micro", title, xlabel))
    from . import peers  # here, not above: it draws with this module's helpers
    charts += peers.write_charts(results, out_dir)
    return charts
