"""Timelines of one small crawl per model: who waited for each attempt, and when.

The records of a run (one JSON line per attempt, see scenarios/records.hpp) say which OS
thread or process waited (`lane`) and which fiber, coroutine or callback chain (`task`).
Drawn as a Gantt chart, one lane per OS thread or process with a sub-row per task, the
models separate at a glance: an event loop is one lane whose task rows overlap, while
thread- and process-per-task are many lanes that each hold one attempt at a time.

Writes timeline.html (a section per model, an SVG per model beside it) and, per model, the
same attempts in Chrome's Trace Event Format for chrome://tracing or ui.perfetto.dev.

    python3 reports/rosetta_report/timeline.py --out DIR [--records DIR] [--bin DIR] [MODEL ...]
"""

from __future__ import annotations

import argparse
import html
import json
import pathlib
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
from matplotlib import transforms  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# A run small enough to read bar by bar, long enough (20 ms a response) for the overlap to show.
RUN_ARGS = ["--scenario", "crawl", "--pages", "30", "--concurrency", "4", "--latency-ms", "20"]
RUN_TIMEOUT_S = 60

PHASES = ("connect", "wait", "read")
PHASE_COLOURS = {"connect": "#e69f00", "wait": "#9ecae1", "read": "#08519c"}
PHASE_MEANING = {
    "connect": "start → connected (a new connection only)",
    "wait": "request sent, waiting for the first byte",
    "read": "first byte → end",
}
FAIL_COLOUR = "#d62728"
OUTCOME_MARKERS = {"timeout": "X", "reset": "v", "truncated": "<", "http_error": "s",
                   "malformed": "D", "connect_error": "P"}

# Fixed so the SVG ids, and so the committed files, do not change from one build to the next.
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "rosetta-timeline", "font.size": 8}


def warn(message: str) -> None:
    print(f"timeline: {message}", file=sys.stderr)


def failure_of(done: subprocess.CompletedProcess) -> str:
    """Why a run failed: its result's `failure` (e.g. not built), else its last stderr line."""
    try:
        result = json.loads(done.stdout)
    except ValueError:
        result = {}
    if isinstance(result, dict) and result.get("failure"):
        return result["failure"]
    if isinstance(result, dict) and result.get("verified") is False:
        return "not verified"
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def collect_records(bin_dir: pathlib.Path, records_dir: pathlib.Path,
                    models: list[str]) -> dict[str, pathlib.Path]:
    """Runs the small crawl once per model; returns the records file of each that succeeded."""
    rosetta = pathlib.Path(bin_dir) / "rosetta"
    records_dir = pathlib.Path(records_dir)
    records_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, pathlib.Path] = {}
    for model in models:
        path = records_dir / f"{model}.jsonl"
        command = [str(rosetta), "run", "--model", model, *RUN_ARGS, "--records", str(path), "--json"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
            reason = failure_of(done) if done.returncode != 0 else None
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = str(error)
        if reason:
            # A failed run's partial file must not pass later for a sample (--records DIR).
            path.unlink(missing_ok=True)
            warn(f"{model}: skipped ({reason})")
            continue
        if not path.is_file() or path.stat().st_size == 0:
            warn(f"{model}: skipped (no records written)")
            continue
        found[model] = path
    return found


def read_records(path: pathlib.Path) -> list[dict]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def phases_of(record: dict) -> list[tuple[str, int, int]]:
    """(phase, from_ns, to_ns) of one attempt. connected_ns is absent (or 0) when a kept-alive
    connection was reused, first_byte_ns null when nothing arrived: those phases are left out,
    and the wait runs from whichever earlier point there is to whichever later one."""
    start, end = record["start_ns"], record["end_ns"]
    connected = record.get("connected_ns") or None
    first_byte = record.get("first_byte_ns") or None
    phases = []
    if connected:
        phases.append(("connect", start, connected))
    phases.append(("wait", connected or start, first_byte or end))
    if first_byte:
        phases.append(("read", first_byte, end))
    return phases


class Layout:
    """Rows in drawing order: lanes by first start, and inside a lane its tasks by first start.
    A lane whose only task is itself (the OS schedules the tasks) is one row."""

    def __init__(self, records: list[dict]):
        self.records = sorted(records, key=lambda r: r["start_ns"])
        self.t0 = self.records[0]["start_ns"]
        self.t_end = max(r["end_ns"] for r in self.records)
        tasks_of: dict[int, list[int]] = {}
        for r in self.records:
            tasks = tasks_of.setdefault(r["lane"], [])
            if r["task"] not in tasks:
                tasks.append(r["task"])
        self.lanes = list(tasks_of)
        self.lane_number = {lane: i + 1 for i, lane in enumerate(self.lanes)}
        self.rows: list[tuple[int, int | None]] = []  # (lane, task or None for the lane itself)
        for lane, tasks in tasks_of.items():
            if tasks == [lane]:
                self.rows.append((lane, None))
            else:
                self.rows += [(lane, task) for task in tasks]
        self.row_of = {row: i for i, row in enumerate(self.rows)}
        self.task_count = sum(len(t) for t in tasks_of.values())
        self.tasks_differ = any(task is not None for _, task in self.rows)

    def row(self, record: dict) -> int:
        key = (record["lane"], None if self.rows_are_lanes(record["lane"]) else record["task"])
        return self.row_of[key]

    def rows_are_lanes(self, lane: int) -> bool:
        return (lane, None) in self.row_of

    def task_name(self, row: tuple[int, int | None]) -> str | None:
        lane, task = row
        if task is None:
            return None
        # Task ids are the model's own numbering; the position inside the lane reads better.
        return f"task {[t for (ln, t) in self.rows if ln == lane].index(task) + 1}"

    def track_name(self, row: tuple[int, int | None]) -> str:
        name = f"lane {self.lane_number[row[0]]} (os id {row[0]})"
        task = self.task_name(row)
        return f"{name} · {task}" if task else name

    def ms(self, ns: int) -> float:
        return (ns - self.t0) / 1e6

    def peak(self, lane: int | None = None) -> int:
        """Most attempts in flight at once, over the run or on one lane."""
        events = []
        for r in self.records:
            if lane is None or r["lane"] == lane:
                events += [(r["start_ns"], 1), (r["end_ns"], -1)]
        level = best = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start
            level += step
            best = max(best, level)
        return best


def counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def caption(model: str, layout: Layout) -> str:
    lanes, tasks, n = len(layout.lanes), layout.task_count, len(layout.records)
    peak = layout.peak()
    lane_peak = max(layout.peak(lane) for lane in layout.lanes)
    counts = f"{counted(lanes, 'lane')}, {counted(tasks, 'task')}, {counted(n, 'attempt')}"
    if peak <= 1:
        look = ("one attempt at a time: every bar ends before the next begins, and the lane "
                "sits idle through each wait.")
    elif layout.tasks_differ:
        fresh = " (a new task per attempt)" if tasks >= n else ""
        look = (f"the task rows inside a lane{fresh} overlap — up to {lane_peak} attempts in "
                f"flight on one OS thread at once: while one task waits, the thread runs another.")
    else:
        fresh = " (a new one per attempt)" if lanes >= n else ""
        look = (f"each lane{fresh} holds one bar at a time and is blocked while it waits; the "
                f"{peak} attempts in flight at once come from {peak} lanes side by side.")
    return f"{counts}. Look at: {look}"


def draw(model: str, layout: Layout, svg_path: pathlib.Path,
         png_path: pathlib.Path | None = None) -> None:
    with matplotlib.rc_context(SVG_RC):  # scoped: the rest of the report keeps its own settings
        _draw(model, layout, svg_path, png_path)


def _draw(model: str, layout: Layout, svg_path: pathlib.Path,
          png_path: pathlib.Path | None) -> None:
    n_rows = len(layout.rows)
    # Height follows the rows so a 31-lane run stays legible and a 1-lane run stays small.
    fig = Figure(figsize=(10, 1.5 + 0.24 * n_rows))
    ax = fig.add_subplot()
    for i, (lane, task) in enumerate(layout.rows):
        # A lane of tasks is tinted as one block, so its rows read as one thread; lanes of one
        # row alternate grey, so a long list of them stays easy to follow across.
        if task is not None or layout.lane_number[lane] % 2 == 0:
            ax.axhspan(i - 0.5, i + 0.5, color="#eaf1f8" if task is not None else "#f2f2f2",
                       zorder=0, linewidth=0)
    for a, b in zip(layout.rows, layout.rows[1:]):
        if a[0] != b[0]:
            ax.axhline(layout.row_of[b] - 0.5, color="#bbbbbb", linewidth=0.6, zorder=1)
    outcomes_seen = []
    for r in layout.records:
        y = layout.row(r)
        for phase, begin, end in phases_of(r):
            ax.broken_barh([(layout.ms(begin), (end - begin) / 1e6)], (y - 0.35, 0.7),
                           facecolors=PHASE_COLOURS[phase], linewidth=0, zorder=2)
        # One outline per attempt: back-to-back attempts of a task stay apart, and a thin
        # connect or read phase is not eaten by an edge of its own.
        outcome = r.get("outcome", "ok")
        ax.broken_barh([(layout.ms(r["start_ns"]), (r["end_ns"] - r["start_ns"]) / 1e6)],
                       (y - 0.35, 0.7), facecolors="none", zorder=3,
                       edgecolor="#444444" if outcome == "ok" else FAIL_COLOUR,
                       linewidth=0.5 if outcome == "ok" else 1.0)
        if outcome != "ok":
            # A marker per outcome rather than a text label: retries follow at once, and
            # labels would run over the next bar.
            ax.plot(layout.ms(r["end_ns"]), y, marker=OUTCOME_MARKERS.get(outcome, "o"),
                    color=FAIL_COLOUR, markersize=6, markeredgecolor="white",
                    markeredgewidth=0.5, zorder=4, linestyle="none")
            if outcome not in outcomes_seen:
                outcomes_seen.append(outcome)
    # A lane of tasks: "task k" ticks, bracketed and named once on the left, so its rows read
    # as one OS thread; a lane that is its own task is simply one row named by its tick.
    ax.set_yticks(range(n_rows), [layout.task_name(row) or f"lane {layout.lane_number[row[0]]}"
                                  for row in layout.rows])
    bracket = transforms.offset_copy(ax.get_yaxis_transform(), fig=fig, x=-42, units="points")
    for lane in layout.lanes:
        rows = [i for i, (ln, task) in enumerate(layout.rows) if ln == lane and task is not None]
        if not rows:
            continue
        top, bottom = rows[0] - 0.4, rows[-1] + 0.4
        ax.plot([0.004, 0, 0, 0.004], [top, top, bottom, bottom], transform=bracket,
                color="#444444", linewidth=0.8, clip_on=False)
        ax.annotate(f"lane {layout.lane_number[lane]}", (0, (top + bottom) / 2),
                    xycoords=("axes fraction", "data"), xytext=(-46, 0),
                    textcoords="offset points", rotation=90 if len(rows) > 2 else 0,
                    ha="right" if len(rows) <= 2 else "center", va="center",
                    fontweight="bold", annotation_clip=False)
    ax.set_ylim(n_rows - 0.5, -0.5)  # the first lane on top
    span = layout.ms(layout.t_end)
    ax.set_xlim(0, span * 1.02)
    ax.set_xlabel("ms since the run's first attempt started")
    ax.grid(axis="x", color="#dddddd", linewidth=0.5, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    handles = [Patch(color=PHASE_COLOURS[p], label=p) for p in PHASES]
    handles += [Line2D([], [], marker=OUTCOME_MARKERS.get(o, "o"), color=FAIL_COLOUR,
                       linestyle="none", label=o) for o in outcomes_seen]
    # Above the axes, never over the bars.
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(handles),
              frameon=False, fontsize=8, borderaxespad=0.3)
    ax.set_title(f"{model}: {counted(len(layout.lanes), 'lane')}, "
                 f"{counted(layout.task_count, 'task')}", loc="right", fontsize=9)
    fig.tight_layout()
    # No date in the metadata, so an unchanged run writes an unchanged file.
    fig.savefig(svg_path, format="svg", metadata={"Date": None})
    if png_path is not None:
        fig.savefig(png_path, format="png", dpi=110)


def trace(model: str, layout: Layout) -> dict:
    """Chrome Trace Event Format. Slices on one track must nest, and the tasks of an event
    loop overlap on their lane, so every row of the chart is its own track: tid is the row's
    number, and its thread_name says which lane (and which task) it is."""
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": 1, "tid": 0,
                           "args": {"name": model}}]
    for i, row in enumerate(layout.rows):
        events.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": i + 1,
                       "args": {"name": layout.track_name(row)}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": i + 1,
                       "args": {"sort_index": i + 1}})
    for r in layout.records:
        tid = layout.row(r) + 1
        for phase, begin, end in phases_of(r):
            events.append({
                "ph": "X", "name": phase, "cat": "attempt", "pid": 1, "tid": tid,
                "ts": round((begin - layout.t0) / 1e3, 3),
                "dur": round(max(end - begin, 0) / 1e3, 3),
                "args": {"url": r["url"], "attempt": r.get("attempt", 1),
                         "outcome": r.get("outcome", "ok"), "lane": r["lane"],
                         "task": r["task"], **({"error": r["error"]} if r.get("error") else {})},
            })
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"model": model, "run": " ".join(RUN_ARGS)}}


PAGE_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; } th, td { padding: .2em .8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
section { margin-top: 2.5em; } img { max-width: 100%; height: auto; } .links { font-size: 90%; }
.swatch { display: inline-block; width: .9em; height: .9em; vertical-align: -.1em; margin: 0 .3em 0 .8em; }
"""


def write_timelines(out_dir: pathlib.Path, models: list[str], bin_dir: pathlib.Path,
                    records_dir: pathlib.Path | None) -> list[pathlib.Path]:
    """Writes timeline.html, timeline-<model>.svg and trace-<model>.json; returns their paths.
    Records come from records_dir/<model>.jsonl where it has them (a committed sample rebuilds
    without running anything), else from a fresh run into out_dir/records/."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources: dict[str, pathlib.Path] = {}
    for model in models:
        if records_dir is not None and (pathlib.Path(records_dir) / f"{model}.jsonl").is_file():
            sources[model] = pathlib.Path(records_dir) / f"{model}.jsonl"
    missing = [m for m in models if m not in sources]
    if missing:
        sources.update(collect_records(pathlib.Path(bin_dir), out_dir / "records", missing))

    written: list[pathlib.Path] = []
    summary, sections = [], []
    for model in models:
        m = html.escape(model)
        head = (f'<section id="timeline-{m}"><h2>{m}</h2>'
                f'<p class="links"><a href="index.html#model-{m}">{m} in the report</a>')
        try:
            records = read_records(sources[model]) if model in sources else []
        except ValueError as error:  # one bad file costs its section, not the page
            warn(f"{model}: {sources[model].name}: {error}")
            records = []
        if not records:
            sections.append(f"{head}</p><p>No records: the model is not built, its run "
                            f"failed, or its records could not be read.</p></section>")
            continue
        layout = Layout(records)
        svg = out_dir / f"timeline-{model}.svg"
        draw(model, layout, svg)
        trace_path = out_dir / f"trace-{model}.json"
        trace_path.write_text(json.dumps(trace(model, layout), separators=(",", ":")) + "\n",
                              encoding="utf-8")
        written += [svg, trace_path]
        wall = layout.ms(layout.t_end)
        summary.append(f'<tr><td><a href="#timeline-{m}">{m}</a></td><td>{len(layout.lanes)}</td>'
                       f"<td>{layout.task_count}</td><td>{len(records)}</td>"
                       f"<td>{layout.peak()}</td><td>{wall:.1f}</td></tr>")
        sections.append(
            f'{head} · <a href="{html.escape(trace_path.name)}">trace</a> (open in '
            f"ui.perfetto.dev or chrome://tracing)</p>"
            f"<p>{html.escape(caption(model, layout))}</p>"
            f'<img src="{html.escape(svg.name)}" alt="timeline of {m}"></section>')

    legend = "".join(f'<span class="swatch" style="background:{PHASE_COLOURS[p]}"></span>'
                     f"<b>{p}</b>: {html.escape(PHASE_MEANING[p])};" for p in PHASES)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Timelines</title><style>{PAGE_STYLE}</style></head>
<body><h1>Who waited, and when</h1>
<p>One crawl per model ({html.escape(" ".join(RUN_ARGS))}). A <b>lane</b> is an OS thread or
process; a <b>task</b> is what the model schedules on it (a fiber, coroutine or callback chain),
drawn as a sub-row where it differs from the lane. Each bar is one attempt, split into
phases:{legend} an attempt that did not end ok is outlined in
<span style="color:{FAIL_COLOUR}">red</span>, with a marker at its end whose shape names the outcome.
An event loop shows as one lane with overlapping task rows; thread- and process-per-task as many
lanes, each blocked on one attempt at a time.</p>
<table><tr><th>model</th><th>lanes</th><th>tasks</th><th>attempts</th><th>most in flight</th><th>ms, first start to last end</th></tr>
{chr(10).join(summary)}
</table>
{chr(10).join(sections)}
</body></html>
"""
    page_path = out_dir / "timeline.html"
    page_path.write_text(page, encoding="utf-8")
    return [page_path, *written]


def main(argv: list[str] | None = None) -> int:
    repo = pathlib.Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument("--records", type=pathlib.Path, help="a directory of <model>.jsonl")
    parser.add_argument("--bin", type=pathlib.Path, default=repo / "build" / "bin")
    parser.add_argument("models", nargs="*", help="default: the records directory's, else every built model")
    args = parser.parse_args(argv)
    models = args.models
    if not models and args.records is not None:
        models = sorted(p.stem for p in args.records.glob("*.jsonl"))
    if not models:
        try:
            done = subprocess.run([str(args.bin / "rosetta"), "models", "--built"],
                                  capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=True)
        except (OSError, subprocess.SubprocessError) as error:
            parser.error(f"no models given and none found: {error}")
        models = done.stdout.split()
    for path in write_timelines(args.out, models, args.bin, args.records):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
