"""The Python peers beside the C++ models they stand beside: a chart per scenario and, under
it, a table per point. A peer's result line names its model (`peer_of`, written by the
harness from the model list, the one place that pairing lives); io-uring, ours, has none but
is compared with the coroutines it drives.

    groups = comparison(results, "download", POINTS[0])   # [Group(model, entries), ...]
    groups[0].entries[1].rps / groups[0].base.rps          # a peer's share of its model's req/s

The ratios are taken only between good runs (completed, not found wrong): a failed, skipped
or unverified run is shown as such, with its reason, never as a number to divide by."""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.colors import to_hex, to_rgb
from matplotlib.patches import Patch

from . import charts, load, page

# The two points: many waiting connections (C=1,000 at 50 ms think time: the model's
# cost per task in flight shows), and none waiting (C=100 at 0 ms: its cost per request).
POINTS = ((1000, 50.0), (100, 0.0))
# Ours, without peer_of, shown in the group of the model it is compared with.
ALSO_BESIDE = {"io-uring": "stackless-coroutines"}


@dataclass(frozen=True)
class Point:
    concurrency: int
    latency_ms: float

    def text(self) -> str:
        return f"C={self.concurrency:,}, {self.latency_ms:g} ms think time"


@dataclass
class Entry:
    model: str
    kind: str  # "model": the C++ model of the group; "ours": another of ours; "peer"
    run: dict | None  # None: no run of it at this point

    @property
    def good(self) -> bool:
        return self.run is not None and load.good(self.run)

    def value(self, number) -> float | None:
        """A number of a good run; a failed one has none worth comparing."""
        value = number(self.run) if self.good else None
        return value if value is not None and value > 0 else None

    @property
    def rps(self) -> float | None:
        return self.value(lambda r: load.number(r, "throughput_rps"))

    @property
    def p99_ms(self) -> float | None:
        return self.value(lambda r: page.ms(load.number(r.get("latency_us"), "p99")))

    @property
    def rss_mib(self) -> float | None:
        return self.value(lambda r: (load.number(r, "peak_rss_kib") or 0.0) / 1024)

    @property
    def status(self) -> str | None:
        """None for a good run, else the word a table shows instead of its numbers."""
        if self.run is None:
            return "no run"
        if self.good:
            return None
        if self.run.get("skipped"):
            return "skipped"
        return "not verified" if self.run.get("completed") else "failed"

    @property
    def reason(self) -> str | None:
        """Why the run is not good, without the model's name a peer's own line starts with."""
        why = load.why_not_good(self.run) if self.run is not None else None
        return why.removeprefix(f"{self.model}: ") if why else None

    @property
    def label(self) -> str:
        return f"{self.model} (ours)" if self.kind == "ours" else self.model


@dataclass
class Group:
    entries: list[Entry]  # the C++ model first, then io-uring if it is beside it, then peers

    @property
    def base(self) -> Entry:
        return self.entries[0]

    @property
    def model(self) -> str:
        return self.base.model

    def rps_ratio(self, entry: Entry) -> float | None:
        """The model's req/s over the entry's: 12 means 12 times fewer for the entry."""
        return ratio(self.base.rps, entry.rps)

    def rss_ratio(self, entry: Entry) -> float | None:
        """The entry's peak RSS over the model's: 3 means three times the memory."""
        return ratio(entry.rss_mib, self.base.rss_mib)


def ratio(over: float | None, under: float | None) -> float | None:
    return over / under if over and under else None


def peers_of(runs: list[dict], models: list[str]) -> dict[str, list[str]]:
    """By C++ model, the peers whose result lines name it, in the report's order of models."""
    found: dict[str, list[str]] = {}
    for run in runs:
        beside = run.get("peer_of")
        if isinstance(beside, str) and beside and run["model"] not in found.get(beside, []):
            found.setdefault(beside, []).append(run["model"])
    return {model: load.order_models(found[model], models)
            for model in load.order_models(list(found), models)}


def comparison(results: load.Results, scenario: str, point: Point) -> list[Group]:
    """The groups of a scenario at one point: each model with peers run in that scenario (at
    any of the points, so that a group keeps its rows from panel to panel)."""
    ladders = load.cells_by_ladder(results.runs)
    ran = {ladder[0] for ladder in ladders if ladder[1] == scenario and ladder[3] == 1}

    def run_at(model: str) -> dict | None:
        cells = ladders.get((model, scenario, point.latency_ms, 1), [])
        return next((r for r in cells if float(r["concurrency"]) == point.concurrency), None)

    groups = []
    for model, peers in peers_of(results.runs, results.models).items():
        peers = [p for p in peers if p in ran]
        if not peers:
            continue
        ours = [m for m, beside in ALSO_BESIDE.items() if beside == model and m in ran]
        groups.append(Group([Entry(model, "model", run_at(model))] +
                            [Entry(m, "ours", run_at(m)) for m in ours] +
                            [Entry(p, "peer", run_at(p)) for p in peers]))
    return groups


def points_of(results: load.Results, scenario: str) -> list[Point]:
    """The points at which anything of the scenario's groups ran."""
    points = [Point(*p) for p in POINTS]
    return [p for p in points if any(e.run for g in comparison(results, scenario, p)
                                     for e in g.entries)]


# ---- The table

def ratio_cell(value: float | None) -> page.Cell:
    if value is None:
        return page.num(None)
    return page.Cell(f"{value:,.0f}" if value >= 100 else
                     f"{value:.1f}" if value >= 10 else f"{value:.2f}", value)


def numbers(entry: Entry, models: list[str]) -> list[page.Cell]:
    """Name, req/s, p99 ms, RSS MiB; a run that is not good has its status, not numbers."""
    name = page.Cell(entry.label, link=f"#model-{entry.model}" if entry.model in models
                     else None)
    if entry.status:
        return [name, page.text(entry.status), page.num(None), page.num(None)]
    return [name, page.num(entry.rps), page.num(entry.p99_ms, 1), page.num(entry.rss_mib, 1)]


def table(groups: list[Group], models: list[str]) -> page.Table:
    rows = []
    for group in groups:
        for entry in group.entries[1:]:
            notes = [f"{e.model}: {e.reason}" for e in (group.base, entry) if e.reason]
            rows.append(numbers(group.base, models) + numbers(entry, models) +
                        [ratio_cell(group.rps_ratio(entry)), ratio_cell(group.rss_ratio(entry)),
                         page.text("; ".join(notes) or None)])
    return page.Table(["C++ model", "req/s", "p99 ms", "RSS MiB", "beside it", "req/s",
                       "p99 ms", "RSS MiB", "req/s C++/peer", "RSS peer/C++", "note"], rows)


# ---- The chart

def lighter(colour: str, share: float = 0.6) -> str:
    """The colour mixed with white: a peer wears its model's colour, paler."""
    return to_hex([c + (1 - c) * share for c in to_rgb(colour)])


def times(value: float) -> str:
    """A ratio of entry to model as a reader says it: ÷12 (12× fewer), ×1.3 (1.3× more)."""
    sign, value = ("×", value) if value >= 1 else ("÷", 1 / value)
    return f"{sign}{value:,.0f}" if round(value, 1) >= 10 else f"{sign}{value:.1f}"


def peers_chart(panels: list[tuple[Point, list[Group]]], models: list[str], title: str,
                path: Path) -> None:
    """Horizontal bars, a group per C++ model, a panel per point on one log scale; a peer's
    bar carries its throughput as a share of its model's, a run that is not good is hatched
    and numbered, its reason under the chart."""
    layout = panels[0][1]  # the same groups and rows in every panel
    ys, y = [], 0.0
    for group in layout:
        y += 0.7 if ys else 0.0  # a gap between groups
        for _ in group.entries:
            ys.append(y)
            y += 1.0
    notes: dict[tuple, list[str]] = {}  # (model, reason): the points it happened at
    values = [e.rps for _, groups in panels for g in groups for e in g.entries if e.rps]
    values += [load.number(e.run, "throughput_rps") or 0 for _, groups in panels
               for g in groups for e in g.entries if e.run and not e.good]
    values = [v for v in values if v > 0]
    low = 10.0 ** math.floor(math.log10(min(values) / 2)) if values else 1.0
    high = max(values) * 15 if values else 1000.0  # room for the labels past the bars

    # Margins in inches, not shares of the height: a chart of four rows keeps its titles and
    # axis label as clear of the bars as one of twenty.
    top, bottom = 0.75, 0.6
    height = 0.3 * len(ys) + 0.4 + top + bottom
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), height),
                             sharex=True, sharey=True, squeeze=False)
    fig.subplots_adjust(top=1 - top / height, bottom=bottom / height)
    for ax, (point, groups) in zip(axes[0], panels):
        rows = [(g, e) for g in groups for e in g.entries]
        for yy, (group, entry) in zip(ys, rows):
            colour = charts.style_of(group.model, models)[0]
            if entry.kind == "ours":
                colour = charts.style_of(entry.model, models)[0]
            fill = lighter(colour) if entry.kind == "peer" else colour
            if entry.rps:
                ax.barh(yy, entry.rps, height=0.75, color=fill, edgecolor=colour, lw=0.8)
                shown = f"{entry.rps:,.0f}"
                share = ratio(entry.rps, group.base.rps) if entry is not group.base else None
                ax.text(entry.rps * 1.12, yy, shown + (f"  {times(share)}" if share else ""),
                        va="center", fontsize=8.5,
                        fontweight="bold" if entry is group.base else "normal")
                continue
            measured = load.number(entry.run, "throughput_rps") if entry.run else None
            if entry.run is None:
                word = "no run"
            else:
                notes.setdefault((entry.model, entry.reason), []).append(point.text())
                word = f"{entry.status} [{list(notes).index((entry.model, entry.reason)) + 1}]"
            if measured and measured > 0:  # what it did before it stopped, not a result
                ax.barh(yy, measured, height=0.75, color="white", edgecolor=colour,
                        hatch="////", lw=0.8)
                ax.text(measured * 1.12, yy, word, va="center", fontsize=8.5, color="#b00")
            else:
                ax.text(0.01, yy, word, va="center", fontsize=8.5,
                        transform=ax.get_yaxis_transform(),
                        color="#777" if entry.run is None else "#b00")
        ax.set_title(point.text(), fontsize=10)
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        charts.log_axis(ax.xaxis)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("attempts per second (log scale)")
    labels = [e.label for g in layout for e in g.entries]
    axes[0][0].set_yticks(ys, labels)
    for tick, entry in zip(axes[0][0].get_yticklabels(), [e for g in layout for e in g.entries]):
        if entry.kind != "peer":
            tick.set_fontweight("bold")
    axes[0][0].set_ylim(ys[-1] + 0.7, -0.7)
    fig.suptitle(title)
    fig.legend(handles=[
        Patch(facecolor="#666", edgecolor="#666", label="ours (the group's C++ model first)"),
        Patch(facecolor=lighter("#666"), edgecolor="#666",
              label="Python peer: ÷12 = 12× fewer req/s than the model, ×2 = 2× more"),
        Patch(facecolor="white", edgecolor="#b00", hatch="////",
              label="failed, skipped or not verified: what it did before it stopped, no ratio")],
        loc="upper left", bbox_to_anchor=(0.0, 0.0), ncol=1, fontsize=8.5, frameon=False)
    if notes:
        fig.text(0.0, -0.75 / height, "\n".join(
            textwrap.fill(f"[{i}] {model} at {'; '.join(points)}: {reason}", 150,
                          subsequent_indent="     ")
            for i, ((model, reason), points) in enumerate(notes.items(), 1)),
            va="top", fontsize=8.5, color="#b00")
    charts.save(fig, path)


def write_charts(results: load.Results, out_dir: Path) -> list[charts.Chart]:
    """A chart per scenario with peers, its tables (one per point) riding with it."""
    made = []
    scenarios = page.distinct(r["scenario"] for r in results.runs if r.get("peer_of"))
    for scenario in sorted(scenarios, key=lambda s: (s != "download", s)):
        panels = [(p, comparison(results, scenario, p)) for p in points_of(results, scenario)]
        if not panels:
            continue
        file = f"peers-{scenario}.svg"
        title = f"C++ models beside their Python peers — {scenario}"
        peers_chart(panels, results.models, title, out_dir / file)
        made.append(charts.Chart(file, "peers", title, "attempts per second (log scale)",
                                 [(f"{scenario}, {p.text()}", table(groups, results.models))
                                  for p, groups in panels]))
    return made
