"""index.html (one file: its CSS and the table sorting inline, the charts beside it) and
report.md, the same content in Markdown. Both are built from the same tables."""
from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import load

# Pages other parts of the report may have written beside this one; linked only when present.
OTHER_PAGES = [("source-download.html", "the downloader, every model side by side"),
               ("source-crawl.html", "the crawler, every model side by side"),
               ("timeline.html", "timelines: who waited, and when, in a run of each model")]

SECTIONS = [("throughput", "Throughput vs concurrency",
             "Attempts per second over the wall time measured from outside, good cells only "
             "(completed, and not found wrong). ✕ marks the cell where a ladder failed, ◯ one "
             "where it was saturated: the origin saw under half of C in flight."),
            ("latency", "p99 latency vs concurrency",
             "The 99th-percentile attempt latency, think time included."),
            ("memory", "Peak memory vs requests in flight",
             "Peak RSS of the model's process tree, and the same with the kernel's thread "
             "stacks and unreclaimable slab added (system-wide: the origin's sockets are in it "
             "too). The legend gives the least-squares slope: memory per task in flight."),
            ("cpu", "CPU per 1,000 requests",
             "User + system CPU seconds of the model's process tree, per 1,000 attempts."),
            ("peers", "Python peers",
             "Each Python peer beside the C++ model it stands beside (its result's peer_of; "
             "io-uring, ours, beside stackless-coroutines), at the points the peers preset "
             "was made for: many connections waiting, and none. On a peer's bar, ÷12 means "
             "12 times fewer attempts per second than its model. A failed, skipped or "
             "unverified run is hatched, its reason under the chart, and has no ratio. "
             "The tables add the p99 attempt latency, the peak RSS of the process tree and "
             "the ratios: req/s of the model over the peer's, RSS of the peer over the "
             "model's.")]

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 1.2em 3em;
color:#222}
h1{margin-top:.8em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em;white-space:nowrap}
table{border-collapse:collapse;font-size:13px;margin:.6em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}table.sortable th{cursor:pointer}
table.sortable th[data-order=asc]::after{content:" ▲"}
table.sortable th[data-order=desc]::after{content:" ▼"}
figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{color:#555;font-size:13px}
code,pre{background:#f6f6f6;font-size:13px}pre{padding:.6em;overflow-x:auto}
.bad{color:#b00}.model{border-left:4px solid #ccc;padding-left:.8em;margin:1em 0}
"""

# Click a header to sort by it, again to reverse. Numbers sort by data-v, the rest as text.
SCRIPT = """
document.querySelectorAll('table.sortable th').forEach((th, column) => {
  th.addEventListener('click', () => {
    const table = th.closest('table'), body = table.tBodies[0];
    const ascending = th.dataset.order !== 'asc';
    table.querySelectorAll('th').forEach(h => delete h.dataset.order);
    th.dataset.order = ascending ? 'asc' : 'desc';
    const key = row => { const cell = row.cells[column];
      return cell.dataset.v !== undefined ? parseFloat(cell.dataset.v) : cell.textContent; };
    const rows = [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
      const order = typeof x === 'number' ? x - y : x.localeCompare(y);
      return ascending ? order : -order; });
    rows.forEach(row => body.appendChild(row));
  });
});
"""


@dataclass
class Cell:
    text: str
    sort: float | None = None  # a number column's value; None: not a number column
    link: str | None = None


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    sortable: bool = False


@dataclass
class Report:
    title: str
    machine: list[tuple[str, str]]
    summary: Table
    limits: Table
    runs: Table
    charts: list  # charts.Chart
    micro: Table | None
    models: list[tuple[str, str, list[str]]]  # id, description, lines
    commands: list[str]
    notes: list[str] = field(default_factory=list)


def num(value: float | None, digits: int = 0, missing: str = "-") -> Cell:
    if value is None:
        return Cell(missing, float("-inf"))
    return Cell(f"{value:,.{digits}f}", value)


def text(value) -> Cell:
    return Cell("-" if value is None else str(value))


# ---- HTML

def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = []
    for row in table.rows:
        cells = []
        for c in row:
            content = html.escape(c.text)
            if c.link:
                content = f'<a href="{html.escape(c.link)}">{content}</a>'
            if c.sort is not None:  # a missing number sorts below every other
                value = repr(c.sort) if c.sort != float("-inf") else "-Infinity"
                cells.append(f'<td class="n" data-v="{value}">{content}</td>')
            else:
                cells.append(f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    kind = ' class="sortable"' if table.sortable else ""
    return (f"<table{kind}><thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) +
            "\n</tbody></table>")


def html_figure(chart) -> str:
    name = html.escape(chart.file)
    return (f'<figure><a href="{name}"><img src="{name}" alt="{html.escape(chart.title)}">'
            f"</a><figcaption>{html.escape(chart.title)}</figcaption></figure>")


def write_html(report: Report, out_dir: Path) -> Path:
    pages = [(name, what) for name, what in OTHER_PAGES if (out_dir / name).is_file()]
    sections = [("machine", "Machine and inputs"), ("summary", "Summary")]
    sections += [(key, title) for key, title, _ in SECTIONS
                 if any(c.section == key for c in report.charts)]
    sections += [("limits", "Where each model stopped")]
    sections += [("micro", "Spawn and switch costs")] if report.micro else []
    sections += [("runs", "Every run"), ("models", "Models"), ("reproduce", "Reproduce")]
    sections += [("pages", "More pages")] if pages else []
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{html.escape(report.title)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{html.escape(report.title)}</h1>",
           "<nav>" + "".join(f'<a href="#{key}">{html.escape(title)}</a>'
                             for key, title in sections) + "</nav>"]
    out.append('<h2 id="machine">Machine and inputs</h2><table>' + "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in report.machine) + "</table>")
    out.append('<h2 id="summary">Summary</h2><p>One row per ladder (model, scenario, think time '
               "L, threads T): its best good cell, the most requests in flight the origin saw, "
               "memory per task and where it stopped.</p>" + html_table(report.summary))
    for key, title, blurb in SECTIONS:
        charts = [c for c in report.charts if c.section == key]
        if charts:
            out.append(f'<h2 id="{key}">{html.escape(title)}</h2><p>{html.escape(blurb)}</p>')
            for c in charts:
                out.append(html_figure(c))
                out.extend(f"<h3>{html.escape(heading)}</h3>{html_table(table)}"
                           for heading, table in c.tables)
    out.append('<h2 id="limits">Where each model stopped</h2><p>The first failed cell of each '
               "ladder, or else the first good cell the origin saw under half of C in flight "
               "(the model cannot start tasks as fast as they end; a higher C only queues)."
               "</p>" + (html_table(report.limits) if report.limits.rows else
                         "<p>Every ladder climbed its whole axis.</p>"))
    if report.micro:
        out.append('<h2 id="micro">Spawn and switch costs</h2><p>From the micro-benchmarks '
                   "(bench/micro/README.md says what each one does), beside published figures "
                   "measured on other machines.</p>")
        out.extend(html_figure(c) for c in report.charts if c.section == "micro")
        out.append(html_table(report.micro))
    out.append('<h2 id="runs">Every run</h2><p>Click a header to sort. Kernel: stacks + slab, '
               "KiB, system-wide.</p>" + html_table(report.runs))
    out.append('<h2 id="models">Models</h2>')
    for model, description, lines in report.models:
        out.append(f'<div class="model" id="model-{html.escape(model)}"><h3>{html.escape(model)}'
                   f"</h3><p>{html.escape(description)}</p><ul>" +
                   "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul></div>")
    out.append('<h2 id="reproduce">Reproduce</h2><pre>' +
               html.escape("\n".join(report.commands)) + "</pre>")
    if report.notes:
        out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes) +
                   "</ul>")
    if pages:
        out.append('<h2 id="pages">More pages</h2><ul>' + "".join(
            f'<li><a href="{name}">{name}</a>: {html.escape(what)}</li>' for name, what in pages)
            + "</ul>")
    out.append(f"<script>{SCRIPT}</script></body></html>\n")
    path = out_dir / "index.html"
    path.write_text("\n".join(out), encoding="utf-8")
    return path


# ---- Markdown

def md_escape(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def md_table(table: Table) -> str:
    lines = ["| " + " | ".join(table.headers) + " |",
             "|" + "|".join("---:" if any(r[i].sort is not None for r in table.rows) else "---"
                            for i in range(len(table.headers))) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(
            f"[{md_escape(c.text)}]({c.link})" if (c.link or "").startswith("http")
            else md_escape(c.text) for c in row) + " |")
    return "\n".join(lines)


def write_markdown(report: Report, out_dir: Path) -> Path:
    out = [f"# {report.title}", "", "## Machine and inputs", "",
           md_table(Table(["", ""], [[Cell(k), Cell(v)] for k, v in report.machine])), "",
           "## Summary", "", md_table(report.summary), ""]
    for key, title, blurb in SECTIONS:
        charts = [c for c in report.charts if c.section == key]
        if charts:
            out += [f"## {title}", "", blurb, ""]
            for c in charts:
                out.append(f"![{c.title}]({c.file})\n")
                for heading, table in c.tables:
                    out += [f"### {heading}", "", md_table(table), ""]
    out += ["## Where each model stopped", "",
            md_table(report.limits) if report.limits.rows else "Every ladder climbed its "
            "whole axis.", ""]
    if report.micro:
        out += ["## Spawn and switch costs", ""]
        out += [f"![{c.title}]({c.file})\n" for c in report.charts if c.section == "micro"]
        out += [md_table(report.micro), ""]
    out += ["## Every run", "", md_table(report.runs), "", "## Models", ""]
    for model, description, lines in report.models:
        out += [f"### {model}", "", description, ""] + [f"- {line}" for line in lines] + [""]
    out += ["## Reproduce", "", "```sh", *report.commands, "```", ""]
    out += [f"- {n}" for n in report.notes]
    pages = [(name, what) for name, what in OTHER_PAGES if (out_dir / name).is_file()]
    if pages:
        out += ["", "## More pages", ""] + [f"- [{name}]({name}): {what}" for name, what in pages]
    path = out_dir / "report.md"
    path.write_text("\n".join(out).rstrip() + "\n", encoding="utf-8")
    return path


def distinct(values) -> list[str]:
    """Each value once, in the order met; dicts compared by content."""
    seen: dict[str, None] = {}
    for v in values:
        if v is not None:
            seen.setdefault(v if isinstance(v, str) else json.dumps(v, sort_keys=True), None)
    return list(seen)


def cpus(numbers) -> str:
    return ",".join(str(n) for n in numbers or []) or "-"


def machine_rows(results: load.Results, shown_inputs: list[str], micro_context) -> list:
    runs = results.runs
    machines = []
    for m in distinct(r.get("machine") for r in runs):
        d = json.loads(m) if m.startswith("{") else {}
        machines.append(f"{d.get('cpus', '?')} CPUs, kernel {d.get('kernel', '?')}, "
                        f"{d.get('compiler', '?')}" if d else m)
    placements = []
    for r in runs:
        p = r.get("placement") or {}
        where = "unpinned" if not p.get("origin_cpus") else \
            f"origin on CPUs {cpus(p['origin_cpus'])}, model on CPUs {cpus(p.get('model_cpus'))}"
        placements.append(f"--pin {r.get('pin', 'none')}: {where}")
    rows = [("inputs", ", ".join(shown_inputs)),
            ("runs", f"{len(runs):,}"),
            ("machine", "; ".join(machines) or "-"),
            ("git", ", ".join(distinct(r.get("git") for r in runs)) or "-"),
            ("preset", ", ".join(distinct((r.get("matrix") or {}).get("preset") for r in runs))
             or "- (not from a matrix preset)"),
            ("placement", "; ".join(distinct(placements)) or "-")]
    if micro_context:
        c = micro_context
        rows.append(("micro-benchmarks", f"{c.get('date', '?')}, {c.get('num_cpus', '?')} CPUs "
                     f"at {c.get('mhz_per_cpu', '?')} MHz, load average "
                     f"{', '.join(f'{x:.1f}' for x in c.get('load_avg', []))}, benchmark "
                     f"library built {c.get('library_build_type', '?')}"))
    return rows


# ---- The tables, from the results

def ms(us: float | None) -> float | None:
    return None if us is None else us / 1000


def fit_text(fit: dict | None) -> str:
    return "-" if not fit else f"{fit['slope_kib']:,.1f} ({fit['r2']:.2f})"


def best_cell(cells: list[dict]) -> dict | None:
    good = [r for r in cells if load.good(r) and load.number(r, "throughput_rps") is not None]
    return max(good, key=lambda r: r["throughput_rps"]) if good else None


def model_link(model: str) -> Cell:
    return Cell(model, link=f"#model-{model}")


def summary_table(ladders: dict, fits: dict, limits: dict) -> Table:
    rows = []
    for ladder, cells in ladders.items():
        model, scenario, latency, threads = ladder
        best = best_cell(cells)
        held = [load.number(r, "peak_inflight") for r in cells if load.good(r)]
        held = [h for h in held if h is not None]
        fit = fits.get(ladder) or {}
        limit = limits.get(ladder)
        rows.append([model_link(model), text(scenario), num(latency), num(threads),
                     num(best and load.number(best, "throughput_rps")),
                     num(best and float(best["concurrency"])),
                     num(best and ms(load.number(best.get("latency_us"), "p99")), 1),
                     num(max(held) if held else None), Cell(fit_text(fit.get("user"))),
                     Cell(fit_text(fit.get("user_kernel"))),
                     text(limit.text() if limit else None)])
    return Table(["model", "scenario", "L ms", "T", "best req/s", "at C", "p99 ms", "held",
                  "KiB/task (R²)", "+kernel", "stopped at"], rows, sortable=True)


def limits_table(ladders: dict, limits: dict) -> Table:
    rows = []
    for ladder, cells in ladders.items():
        limit = limits.get(ladder)
        if limit:
            model, scenario, latency, threads = ladder
            rows.append([model_link(model), text(scenario), num(latency), num(threads),
                         num(limit.concurrency), text("failed" if limit.failed else "saturated"),
                         text(limit.reason)])
    return Table(["model", "scenario", "L ms", "T", "C", "what", "why"], rows)


def runs_table(runs: list[dict], models: list[str]) -> Table:
    ordered = sorted(runs, key=lambda r: (load.ladder_rank(load.ladder_of(r), models),
                                          r["concurrency"]))
    rows = []
    for r in ordered:
        latency = r.get("latency_us")
        cpu = (load.number(r, "cpu_user_s") or 0) + (load.number(r, "cpu_sys_s") or 0)
        rows.append([model_link(r["model"]), text(r["scenario"]), num(r["concurrency"]),
                     num(load.number(r, "latency_ms")), num(load.number(r, "threads")),
                     num(load.number(r, "throughput_rps")),
                     num(ms(load.number(latency, "p50")), 1),
                     num(ms(load.number(latency, "p99")), 1),
                     num(load.number(r, "peak_inflight")), num(load.number(r, "peak_rss_kib")),
                     num(load.kernel_kib(r) if r.get("kernel_kib") else None), num(cpu, 2),
                     text({True: "yes", False: "NO", None: "-"}.get(r.get("verified"), "?")),
                     text(r.get("failure"))])
    return Table(["model", "scenario", "C", "L ms", "T", "req/s", "p50 ms", "p99 ms",
                  "peak in flight", "RSS KiB", "kernel KiB", "CPU s", "verified", "failure"],
                 rows, sortable=True)


def micro_table(spawn: list, switch: list) -> Table:
    rows = []
    for what, measured in (("spawn + join", spawn), ("switch", switch)):
        for row in measured:
            anchor = load.ANCHORS.get(row.anchor) if row.anchor else None
            published = Cell(f"~{load.duration(anchor[0])} ({anchor[1]})", link=anchor[2]) \
                if anchor else text(None)
            rows.append([text(what), text(row.label), Cell(row.benchmark),
                         Cell(load.duration(row.seconds), row.seconds), published])
    return Table(["measure", "mechanism", "benchmark", "per item", "published"], rows)


def model_lines(model: str, ladders: dict, fits: dict, limits: dict, spawn, switch) -> list[str]:
    lines = []
    for ladder, cells in ladders.items():
        if ladder[0] != model:
            continue
        where = f"{ladder[1]}, L={ladder[2]:g} ms" + (f", T={ladder[3]}" if ladder[3] != 1 else "")
        best = best_cell(cells)
        if best:
            p99 = ms(load.number(best.get("latency_us"), "p99"))
            held = load.number(best, "peak_inflight")
            line = (f"{where}: best {best['throughput_rps']:,.0f} req/s at "
                    f"C={best['concurrency']:,}" + (f", p99 {p99:,.1f} ms" if p99 else "") +
                    (f", {held:,.0f} in flight" if held is not None else ""))
        else:
            line = f"{where}: no good cell"
        fit = fits.get(ladder) or {}
        if fit.get("user"):
            line += (f"; {fit['user']['slope_kib']:,.1f} KiB a task"
                     + (f" ({fit['user_kernel']['slope_kib']:,.1f} with the kernel's)"
                        if fit.get("user_kernel") else ""))
        limit = limits.get(ladder)
        line += f"; stopped: {limit.text()}" if limit else "; climbed its whole axis"
        lines.append(line)
    for what, measured in (("spawn + join", spawn), ("switch", switch)):
        mine = [r for r in measured if r.model == model]
        if mine:
            lines.append(f"{what}: " + ", ".join(f"{r.label} {load.duration(r.seconds)}"
                                                for r in mine))
    return lines
