#!/usr/bin/python3
"""One table from a rosetta-micro JSON file: per mechanism, what a spawn+join, a hand-over of the
CPU and an idle task cost. What scripts/bench prints instead of Google Benchmark's console.

    /usr/bin/python3 bench/micro/digest.py results/micro-<date>.json
"""
import json
import pathlib
import sys

# How a benchmark's time is read and printed is the report's (one definition of each).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "reports"))
from rosetta_report.load import duration, seconds_per_item  # noqa: E402

# mechanism, spawn+join benchmark, switch benchmark, idle-memory benchmark (None: not measured)
ROWS = [
    ("process", "BM_fork_exit_waitpid/0/real_time",
     "BM_pipe_ping_pong_between_processes/one_cpu:0/real_time",
     "BM_idle_processes_on_a_pipe/500/iterations:1/real_time"),
    ("thread", "BM_std_thread_create_join/touch_64k:0/real_time",
     "BM_pipe_ping_pong_between_threads/one_cpu:0/real_time",
     "BM_idle_threads_on_a_condition_variable/1000/iterations:1/real_time"),
    ("TBB task", "BM_tbb_task_group_run_wait/real_time", None, None),
    ("reactor callback", "BM_reactor_call_soon_run", None, None),
    ("hub fiber (Boost.Context)", "BM_hub_fiber_spawn_join", "BM_boost_context_switch",
     "BM_idle_hub_fibers_parked/1000/iterations:1"),
    ("Boost.Fiber (as the model)", "BM_boost_fiber_spawn_join_as_the_model_does/real_time",
     "BM_boost_fiber_yield_on_the_epoll_scheduler/real_time",
     "BM_idle_boost_fibers_on_a_condition_variable/1000/iterations:1/real_time"),
    ("coroutine Task", "BM_spawn_join", "BM_coroutine_resume",
     "BM_idle_coroutines_on_an_event/1000/iterations:1"),
]


def memory(b):
    if b is None:
        return "-"
    rss = b.get("rss_kib_per_task", 0.0)
    kernel = max(0.0, b.get("kernel_stack_kib_per_task", 0.0)) + max(
        0.0, b.get("slab_kib_per_task", 0.0))
    return f"{rss:.1f} + {kernel:.1f}"


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    try:
        with open(argv[1]) as f:
            benchmarks = {b["name"]: b for b in json.load(f)["benchmarks"]
                          if b.get("run_type", "iteration") == "iteration"}
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"digest: {argv[1]}: {e}", file=sys.stderr)
        return 2
    print(f"{'mechanism':<28} {'spawn+join':>11} {'switch':>11} {'idle KiB (RSS + kernel)':>24}")
    for name, spawn, switch, idle in ROWS:
        def time_of(key):
            return duration(seconds_per_item(benchmarks[key])) if key in benchmarks else "-"
        print(f"{name:<28} {time_of(spawn):>11} {time_of(switch):>11} "
              f"{memory(benchmarks.get(idle)):>24}")
    print("switch: one hand-over (processes and threads: a pipe, free to use both CPUs; the hub: "
          "a Boost.Context switch). Kernel: stack and slab, system-wide. bench/micro/README.md "
          "has the rest.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
