"""Reading and checking the inputs: results JSON lines (`rosetta matrix --out`) and a
Google Benchmark JSON file (`rosetta-micro --benchmark_out`). Everything that decides what a
number means lives here, so that the charts and the pages agree on it."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# The order models are shown in everywhere: from the model that waits for everything to the
# ones that wait for nothing. Unknown ids follow in the order they were met.
MODEL_ORDER = [
    "blocking", "process-per-task", "thread-per-task", "thread-pool", "epoll-callbacks",
    "stackful-fibers", "boost-fibers", "stackless-coroutines", "io-uring",
]


class InputError(Exception):
    """A problem with an input file, worded as the one line the user sees."""


@dataclass
class Results:
    runs: list[dict]
    fit_lines: list[dict]  # the memory_per_task lines the matrix appended
    files: list[Path]
    runs_by_file: list[list[dict]]
    models: list[str] = field(default_factory=list)


def load_results(paths: list[Path]) -> Results:
    runs: list[dict] = []
    fit_lines: list[dict] = []
    runs_by_file: list[list[dict]] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})")
        runs_before = len(runs)
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as e:
                raise InputError(f"{path}:{number}: not JSON ({e})")
            if not isinstance(value, dict):
                raise InputError(f"{path}:{number}: not a JSON object")
            if "kind" in value:  # not a run; the one kind we use is the matrix's fits
                if value.get("kind") == "memory_per_task":
                    fit_lines.append(value)
                continue
            for key, kind in (("model", str), ("scenario", str), ("concurrency", (int, float))):
                if not isinstance(value.get(key), kind):
                    raise InputError(f"{path}:{number}: a result without a valid '{key}'")
            runs.append(value)
        if len(runs) == runs_before:
            raise InputError(f"{path}: no result lines")
        runs_by_file.append(runs[runs_before:])
    return Results(runs, fit_lines, list(paths), runs_by_file)


def load_micro(path: Path) -> tuple[dict, dict[str, dict]]:
    """The context and, by benchmark, one representative entry: the median aggregate when the
    file has repetitions, else the median of its iterations."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})")
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not JSON ({e})")
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise InputError(f"{path}: not Google Benchmark JSON (no 'benchmarks' list)")
    medians: dict[str, dict] = {}
    iterations: dict[str, list[dict]] = {}
    for b in data["benchmarks"]:
        if not isinstance(b, dict) or not isinstance(b.get("name"), str):
            raise InputError(f"{path}: a benchmark without a name")
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = b
        else:
            iterations.setdefault(name, []).append(b)
    chosen = dict(medians)
    for name, entries in iterations.items():
        if name not in chosen:
            ordered = sorted(entries, key=lambda b: seconds_per_item(b) or 0.0)
            chosen[name] = ordered[(len(ordered) - 1) // 2]
    if not chosen:
        raise InputError(f"{path}: no benchmarks")
    return data.get("context", {}), chosen


def seconds_per_item(b: dict) -> float | None:
    # The counters the mechanism benchmarks set; items_per_second covers the rest.
    for counter in ("time_per_task", "time_per_switch", "time_per_resume"):
        if isinstance(b.get(counter), (int, float)):
            return float(b[counter])
    if b.get("items_per_second"):
        return 1.0 / b["items_per_second"]
    return None


def number(d: dict | None, key: str) -> float | None:
    value = (d or {}).get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def good(run: dict) -> bool:
    """As the matrix says: completed, and not found wrong (null: could not be checked)."""
    return run.get("completed") is True and run.get("verified") is not False


def why_not_good(run: dict) -> str | None:
    """None for a good run; else what stopped it, as the harness wrote it where it did."""
    if good(run):
        return None
    return str(run.get("failure") or ("not verified" if run.get("completed") else
                                      "did not complete"))


def ladder_of(run: dict) -> tuple:
    """The cells that differ only in concurrency, as the matrix groups them."""
    return (run["model"], run["scenario"], number(run, "latency_ms") or 0.0,
            int(number(run, "threads") or 1))


def kernel_kib(run: dict) -> float:
    """Stacks and slab; the sockets' buffers may be slab already, so they are not added."""
    k = run.get("kernel_kib") or {}
    return (number(k, "stack") or 0.0) + (number(k, "slab") or 0.0)


def cpu_per_thousand(run: dict) -> float | None:
    cpu = (number(run, "cpu_user_s") or 0.0) + (number(run, "cpu_sys_s") or 0.0)
    requests = number(run, "requests")
    return cpu / requests * 1000 if requests else None


def ladder_rank(ladder: tuple, models: list[str]) -> tuple:
    """Models in their order, then the downloader before the crawler, then L and T."""
    model, scenario, latency, threads = ladder
    rank = models.index(model) if model in models else len(models)
    return (rank, model, scenario != "download", scenario, latency, threads)


def cells_by_ladder(runs: list[dict]) -> dict[tuple, list[dict]]:
    """Per ladder, one run per concurrency (a later line replaces an earlier one, as a rerun
    would), sorted by concurrency."""
    ladders: dict[tuple, dict[float, dict]] = {}
    for run in runs:
        ladders.setdefault(ladder_of(run), {})[run["concurrency"]] = run
    return {key: [cells[c] for c in sorted(cells)] for key, cells in ladders.items()}


def memory_fits(results: Results) -> dict[tuple, dict]:
    """Memory per task by ladder: {"user", "user_kernel"} fits or None, as the matrix wrote them
    (its memory_per_task lines: one definition of the fit and of when a span is enough, in the
    harness). A ladder without such a line (results of `rosetta run --out`) has none; of several
    lines, the last covers everything the ladder ran."""
    fits: dict[tuple, dict] = {key: {"user": None, "user_kernel": None}
                               for key in cells_by_ladder(results.runs)}
    for line in results.fit_lines:
        try:
            key = ladder_of(line)
        except KeyError:
            continue
        if key in fits and isinstance(line.get("user"), dict):
            fits[key] = {"user": line["user"], "user_kernel": line.get("user_kernel")}
    return fits


@dataclass
class Limit:
    concurrency: float
    failed: bool  # False: saturated
    reason: str

    def text(self) -> str:
        return f"C={self.concurrency:,.0f}: {self.reason}" if self.failed else \
            f"saturated at C={self.concurrency:,.0f}: {self.reason}"


def limits(runs: list[dict]) -> dict[tuple, Limit]:
    """Where each ladder stopped climbing: its first failed cell, or else the first good cell
    the origin saw under half of C in flight (the model cannot start tasks as fast as they
    end, so a higher C would only queue)."""
    found: dict[tuple, Limit] = {}
    for key, cells in cells_by_ladder(runs).items():
        for run in cells:
            c = float(run["concurrency"])
            reason = why_not_good(run)
            if reason:  # even above a saturated rung: it names the limit better
                found[key] = Limit(c, True, reason)
                break
            held = number(run, "peak_inflight")
            if held is not None and held < c / 2 and key not in found:
                found[key] = Limit(c, False, f"{held:,.0f} in flight at most")
    return found


def built_models(bin_dir: Path) -> list[str]:
    try:
        out = subprocess.run([str(bin_dir / "rosetta"), "models", "--built"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def model_descriptions(bin_dir: Path) -> dict[str, str]:
    try:
        out = subprocess.run([str(bin_dir / "rosetta"), "models"], capture_output=True,
                             text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {parts[0]: parts[1].strip() for parts in
            (line.split(None, 1) for line in out.splitlines()) if len(parts) == 2}


def order_models(present: list[str], built: list[str]) -> list[str]:
    def rank(model: str) -> tuple:
        if model in MODEL_ORDER:
            return (0, MODEL_ORDER.index(model))
        if model in built:
            return (1, built.index(model))
        return (2, present.index(model))
    return sorted(dict.fromkeys(present), key=rank)



# The micro-benchmarks by mechanism (bench/micro/README.md says what each one does), with the
# model whose colour a bar takes and the published figure to compare with, if any.
# (label, benchmark, model, anchor)
SPAWN_ROWS = [
    ("process (fork, exit, waitpid)", "BM_fork_exit_waitpid/0/real_time", "process-per-task",
     None),
    ("thread (std::thread)", "BM_std_thread_create_join/touch_64k:0/real_time",
     "thread-per-task", "thread creation"),
    ("thread, own stack", "BM_pthread_own_stack_create_join/touch_64k:0/real_time",
     "thread-per-task", None),
    ("TBB task", "BM_tbb_task_group_run_wait/real_time", "thread-pool", None),
    ("reactor callback", "BM_reactor_call_soon_run", "epoll-callbacks", None),
    ("Boost.Context fiber, pooled stack",
     "BM_boost_context_fiber_run_to_end_on_a_pooled_stack", "stackful-fibers", None),
    ("Boost.Context fiber, fresh stack",
     "BM_boost_context_fiber_run_to_end_on_a_fresh_mapped_stack", "stackful-fibers", None),
    ("hub fiber", "BM_hub_fiber_spawn_join", "stackful-fibers", None),
    ("Boost.Fiber, Boost's defaults", "BM_boost_fiber_spawn_join/real_time", "boost-fibers",
     "fiber creation"),
    ("Boost.Fiber, as the model", "BM_boost_fiber_spawn_join_as_the_model_does/real_time",
     "boost-fibers", "fiber creation"),
    ("coroutine Task", "BM_spawn_join", "stackless-coroutines", None),
]
SWITCH_ROWS = [
    ("processes, pipe", "BM_pipe_ping_pong_between_processes/one_cpu:0/real_time",
     "process-per-task", None),
    ("processes, pipe, one CPU", "BM_pipe_ping_pong_between_processes/one_cpu:1/real_time",
     "process-per-task", None),
    ("threads, pipe", "BM_pipe_ping_pong_between_threads/one_cpu:0/real_time",
     "thread-per-task", "thread switch"),
    ("threads, pipe, one CPU", "BM_pipe_ping_pong_between_threads/one_cpu:1/real_time",
     "thread-per-task", "thread switch"),
    ("threads, condition variable",
     "BM_condition_variable_ping_pong_between_threads/one_cpu:0/real_time", "thread-per-task",
     None),
    ("Boost.Context switch", "BM_boost_context_switch", "stackful-fibers", "context switch"),
    ("hub fibers, sleep_for(0)", "BM_hub_switch_by_sleep_for_0", "stackful-fibers", None),
    ("Boost.Fiber yield, round robin", "BM_boost_fiber_yield/real_time", "boost-fibers", None),
    ("Boost.Fiber yield, epoll scheduler",
     "BM_boost_fiber_yield_on_the_epoll_scheduler/real_time", "boost-fibers", None),
    ("coroutine resume (+ suspend)", "BM_coroutine_resume", "stackless-coroutines", None),
]
# Published figures, from other machines (most of them bare metal): seconds, source, address.
ANCHORS = {
    "context switch": (9e-9, "Boost.Context docs", "https://www.boost.org/doc/libs/1_81_0/"
                       "libs/context/doc/html/context/performance.html"),
    "thread switch": (1.7e-6, "jimblandy/context-switch",
                      "https://github.com/jimblandy/context-switch"),
    "thread creation": (17e-6, "jimblandy/context-switch",
                        "https://github.com/jimblandy/context-switch"),
    "fiber creation": (450e-9, "Boost.Fiber docs", "https://www.boost.org/doc/libs/1_81_0/"
                       "libs/fiber/doc/html/fiber/performance.html"),
}


@dataclass
class MicroRow:
    label: str
    benchmark: str
    model: str
    seconds: float
    anchor: str | None


def micro_rows(benchmarks: dict[str, dict], table: list[tuple]) -> list[MicroRow]:
    rows = []
    for label, name, model, anchor in table:
        seconds = seconds_per_item(benchmarks[name]) if name in benchmarks else None
        if seconds:
            rows.append(MicroRow(label, name, model, seconds, anchor))
    return rows


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
