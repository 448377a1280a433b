// `rosetta matrix`: every model through the same grid — models × scenarios × concurrency ×
// latency × threads — each cell a `rosetta run` (run_model), repeated K times and kept as the
// median, appended to a JSON-lines file as it finishes. Cells already in the file are skipped,
// so an interrupted matrix resumes where it stopped; a model's climb up the concurrency axis
// stops at its first failure (the ladder), whose result names the limit.
//
//     rosetta matrix --preset quick                       # every built model, a few C levels
//     rosetta matrix --preset c10k                        # the ladder: C = 1 .. 19,000, 1 s
//     rosetta matrix --models epoll-callbacks,stackful-fibers --concurrency 100,1000
//                    --latency-ms 50 --repeat 3 --out results/mine.jsonl
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bench/harness/run.hpp"
#include "scenarios/spec.hpp"

namespace rosetta {

struct Grid {
    std::string preset;  // its name, recorded in every result ("custom" when none)
    std::vector<std::string> models;
    std::vector<Scenario> scenarios;
    std::vector<int> concurrency;
    std::vector<int> latency_ms;
    std::vector<int> threads;
    // Pages a cell downloads (or crawls): `pages`, or pages_per_task × C when that is set, at
    // least `pages` — so a ladder's cells all last a few rounds of think time.
    int pages_per_task = 0;
    int repeat = 1;
    // Stop a model's climb where it is saturated: requests in flight at the origin (its peak)
    // below half the concurrency asked — it cannot start tasks as fast as they finish, and a
    // higher C only queues more behind it (the c10k preset: process-per-task at 1,000).
    bool stop_when_saturated = false;
    std::string pin = "none";   // of each run (RunOptions)
    double deadline_s = 600;    // of each run
    double memory_guard = 0.5;  // of each run (RunOptions)
    Spec base;  // everything else of each run: faults, timeouts, page size, seed, --origin
};

// The named grids: quick, c10k, full. Throws std::invalid_argument naming an unknown one.
// `built` are the models this tree has (the presets' model axis).
Grid preset_grid(std::string_view name, const std::vector<std::string>& built);

// One run of the grid: the options rosetta run would get.
struct Cell {
    RunOptions options;
    std::string key;  // what identifies it in a results file (cell_key)
};

// The cells in order — model, scenario, latency, threads, then concurrency ascending (a
// ladder) — without duplicates: a model that runs one request at a time has one cell whatever
// the concurrency axis says. Throws std::invalid_argument for a grid with an empty axis or an
// unknown model.
std::vector<Cell> cells_of(const Grid& grid);

// What identifies a run in a results file: its run_fields (result.hpp) as one string. Equal for
// a cell and for the result line it produced.
std::string cell_key(const nlohmann::json& result);

// The median of K results of one cell: the run of median throughput when all completed and
// verified (or were not verifiable), else the first that did not; with "matrix": the preset,
// K, and every run's req/s, p99 and peak RSS, so the spread stays on record.
nlohmann::json median_of(const std::vector<nlohmann::json>& runs, const std::string& preset);

// Least-squares fit y = intercept + slope·x, with R² (1: a line explains it all).
struct Fit {
    double slope = 0;
    double intercept = 0;
    double r2 = 0;
    std::size_t points = 0;
};
Fit least_squares(const std::vector<double>& x, const std::vector<double>& y);

// Memory per task of one ladder (model, scenario, latency, threads): the fits of peak memory
// over the origin's peak in-flight count across its good cells — user (peak RSS) and user plus
// the kernel's stacks and slab — as the line the matrix appends to its results after the runs:
// {"kind": "memory_per_task", "model", "scenario", "latency_ms", "threads", "points",
//  "inflight": [low, high], "user": {"slope_kib", "intercept_kib", "r2"}, "user_kernel": {..},
//  "preset", "git", "time"}. Null fits where the span of in-flight counts is under 50 (RSS noise
// would swamp the slope) or there are fewer than 3 points.
std::vector<nlohmann::json> memory_per_task(const std::vector<nlohmann::json>& results);

struct MatrixOptions {
    Grid grid;
    std::string out;       // the results file (appended to, read first to resume)
    bool dry_run = false;  // list the cells and stop
    bool quiet = false;    // no line per cell on stdout: the header, the progress, the summary
};

// Runs the grid: progress to stderr (a bar with ETA on a terminal, plain lines otherwise), one
// line per finished cell to stdout, the results appended to options.out, then a summary table.
// Returns 0 when every cell run completed and verified, 1 otherwise; SIGINT stops it after the
// cell in progress is recorded.
int run_matrix(const MatrixOptions& options);

}  // namespace rosetta
