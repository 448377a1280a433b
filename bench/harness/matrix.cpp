#include "bench/harness/matrix.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "bench/harness/models.hpp"
#include "bench/harness/result.hpp"
#include "scenarios/output.hpp"

namespace rosetta {

namespace {

bool interrupted(const nlohmann::json& result) {
    return result.value("failure", nlohmann::json()).is_string() &&
           result["failure"].get<std::string>().starts_with("interrupted");
}

// Completed, and verified or not verifiable (another origin): what a ladder may climb past.
bool good(const nlohmann::json& result) {
    return result.value("completed", false) && result.value("verified", nlohmann::json()) != false;
}

std::string seconds_text(double s) {
    if (s < 60) return fmt::format("{:.0f}s", s);
    return fmt::format("{}m{:02}s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
}

// The results already in `path`, by cell key (a missing file has none; a line that is not a
// result is reported and skipped: the file may end in a line cut short by a crash).
std::map<std::string, nlohmann::json> done_results(const std::string& path) {
    std::map<std::string, nlohmann::json> done;
    std::ifstream in(path);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty()) continue;
        try {
            nlohmann::json result = nlohmann::json::parse(line);
            std::string key = cell_key(result);
            done[std::move(key)] = std::move(result);
        } catch (const std::exception&) {
            std::cerr << fmt::format("rosetta matrix: {} line {}: not a result, ignored\n", path,
                                     number);
        }
    }
    return done;
}

// The progress line: a bar with the ETA on a terminal, a plain line otherwise.
class Progress {
public:
    explicit Progress(std::size_t total) : total_(total), tty_(::isatty(STDERR_FILENO) == 1) {}

    void starting(std::size_t done, const std::string& what) {
        const double elapsed = std::chrono::duration<double>(clock::now() - start_).count();
        const std::string eta = done == 0 ? "?"
                                          : seconds_text(elapsed / static_cast<double>(done) *
                                                         static_cast<double>(total_ - done));
        if (tty_) {
            constexpr std::size_t width = 24;
            const std::size_t filled = total_ ? width * done / total_ : width;
            std::cerr << fmt::format("\r\033[K[{}{}] {}/{} ETA {} {}", std::string(filled, '#'),
                                     std::string(width - filled, '.'), done, total_, eta, what)
                      << std::flush;
        } else {
            std::cerr << fmt::format("[{}/{}, ETA {}] {}\n", done + 1, total_, eta, what);
        }
    }
    void clear() {
        if (tty_) std::cerr << "\r\033[K" << std::flush;
    }

private:
    using clock = std::chrono::steady_clock;
    std::size_t total_;
    bool tty_;
    clock::time_point start_ = clock::now();
};

std::string cell_title(const RunOptions& o) {
    return fmt::format("{} {} C={} L={}ms T={} pages={}", o.model, to_string(o.spec.scenario),
                       o.spec.concurrency, o.spec.latency_ms, o.spec.threads, o.spec.pages);
}

// A number of a result, or `otherwise` when it is missing or null (peak_inflight is null
// against another origin, which keeps no stats; a results file may hold older lines).
double number(const nlohmann::json& r, const char* key, double otherwise = 0) {
    auto it = r.find(key);
    return it != r.end() && it->is_number() ? it->get<double>() : otherwise;
}

std::string one_line(const nlohmann::json& r) {
    std::string verdict = r["failure"].is_string() ? "failed: " + r["failure"].get<std::string>()
                          : r["verified"] == false ? "NOT verified"
                          : r["verified"] == true  ? "verified"
                                                   : "not verifiable";
    const double inflight = number(r, "peak_inflight", -1);
    return fmt::format("{:>9.0f} req/s  p99 {:>8.1f} ms  peak {:>6}  rss {:>8.0f} KiB  {}",
                       number(r, "throughput_rps"),
                       number(r.value("latency_us", nlohmann::json::object()), "p99") / 1000.0,
                       inflight < 0 ? "-" : fmt::format("{:.0f}", inflight),
                       number(r, "peak_rss_kib"), verdict);
}

// The summary: one row per model and scenario — its best req/s, p99 there, the highest
// concurrency it held verified, where it broke, and memory per task (the slope of peak RSS
// over peak in-flight requests across its cells, with R²).
void print_summary(const std::vector<nlohmann::json>& results) {
    struct Row {
        double best = 0, p99_ms = 0;
        long held = 0;
        std::string broke;
        std::vector<double> inflight, rss, rss_kernel;
    };
    std::map<std::pair<std::string, std::string>, Row> rows;
    for (const nlohmann::json& r : results) {
        Row& row = rows[{r.value("model", "?"), r.value("scenario", "?")}];
        if (!good(r)) {
            if (row.broke.empty())
                row.broke = fmt::format("C={:.0f}: {}", number(r, "concurrency"),
                                        r.value("failure", nlohmann::json()).is_string()
                                            ? r["failure"].get<std::string>()
                                            : "not verified");
            continue;
        }
        const double rps = number(r, "throughput_rps");
        if (rps > row.best) {
            row.best = rps;
            row.p99_ms = number(r.value("latency_us", nlohmann::json::object()), "p99") / 1000.0;
        }
        const double inflight = number(r, "peak_inflight", -1);
        if (inflight < 0) continue;  // another origin: no in-flight count to fit against
        row.held = std::max(row.held, static_cast<long>(inflight));
        row.inflight.push_back(inflight);
        row.rss.push_back(number(r, "peak_rss_kib"));
        double kernel = 0;  // stacks and slab (the sockets' buffers may be slab already)
        if (r.contains("kernel_kib") && r["kernel_kib"].is_object())
            kernel = number(r["kernel_kib"], "stack") + number(r["kernel_kib"], "slab");
        row.rss_kernel.push_back(number(r, "peak_rss_kib") + kernel);
    }
    std::cout << fmt::format("\n{:<22} {:<9} {:>9} {:>8} {:>7} {:>12} {:>12}  {}\n", "model",
                             "scenario", "req/s", "p99 ms", "held", "KiB/task", "+kernel",
                             "broke at");
    for (const auto& [id, row] : rows) {
        // Only across a span of in-flight counts that RSS noise cannot swamp.
        auto per_task = [&row](const std::vector<double>& memory) {
            const Fit fit = least_squares(row.inflight, memory);
            const auto [low, high] = std::minmax_element(row.inflight.begin(), row.inflight.end());
            return fit.points >= 3 && *high - *low >= 100
                       ? fmt::format("{:.1f} ({:.2f})", fit.slope, fit.r2)
                       : std::string("-");
        };
        std::cout << fmt::format("{:<22} {:<9} {:>9.0f} {:>8.1f} {:>7} {:>12} {:>12}  {}\n",
                                 id.first, id.second, row.best, row.p99_ms,
                                 row.held > 0 ? std::to_string(row.held) : "-", per_task(row.rss),
                                 per_task(row.rss_kernel), row.broke.empty() ? "-" : row.broke);
    }
    std::cout << "KiB/task: the slope of peak RSS over peak requests in flight (R²); +kernel: "
                 "with the kernel's stacks and slab, system-wide (the origin's sockets too)\n";
}

}  // namespace

Grid preset_grid(std::string_view name, const std::vector<std::string>& built) {
    Grid grid;
    grid.preset = std::string(name);
    grid.models = built;
    grid.scenarios = {Scenario::download, Scenario::crawl};
    grid.threads = {1};
    if (name == "quick") {
        // Every model, both programs, three levels; a few minutes in all.
        grid.concurrency = {1, 10, 100};
        grid.latency_ms = {10};
        grid.base.pages = 300;
    } else if (name == "c10k") {
        // The ladder at 1 s think time: each cell fetches 3 pages a task, so it lasts about
        // three rounds of think time whatever C is.
        grid.scenarios = {Scenario::download};
        grid.concurrency = {1, 10, 100, 1'000, 3'000, 10'000, 19'000};
        grid.latency_ms = {1'000};
        grid.pages_per_task = 3;
        grid.base.pages = 3;
    } else if (name == "full") {
        grid.concurrency = {1, 10, 100, 1'000, 10'000};
        grid.latency_ms = {0, 50};
        grid.threads = {1, 2};
        grid.pages_per_task = 10;
        grid.base.pages = 1'000;
        grid.repeat = 3;
    } else {
        throw std::invalid_argument(
            fmt::format("unknown preset '{}' (quick, c10k or full)", std::string(name)));
    }
    return grid;
}

std::vector<Cell> cells_of(const Grid& grid) {
    auto empty = [](std::string_view axis) {
        return std::invalid_argument(fmt::format("--{}: an empty axis runs nothing", axis));
    };
    if (grid.models.empty()) throw empty("models");
    if (grid.scenarios.empty()) throw empty("scenarios");
    if (grid.concurrency.empty()) throw empty("concurrency");
    if (grid.latency_ms.empty()) throw empty("latency-ms");
    if (grid.threads.empty()) throw empty("threads");
    for (const std::string& model : grid.models)
        if (!find_model(model))
            throw std::invalid_argument(
                fmt::format("--models: unknown model '{}' (see rosetta models)", model));
    std::vector<int> concurrency = grid.concurrency;
    std::sort(concurrency.begin(), concurrency.end());
    std::vector<Cell> cells;
    std::set<std::string> seen;
    for (const std::string& model : grid.models)
        for (Scenario scenario : grid.scenarios)
            for (int latency : grid.latency_ms)
                for (int threads : grid.threads)
                    for (int c : concurrency) {
                        Cell cell;
                        cell.options.model = model;
                        cell.options.spec = grid.base;
                        cell.options.deadline_s = grid.deadline_s;
                        cell.options.memory_guard = grid.memory_guard;
                        Spec& spec = cell.options.spec;
                        spec.scenario = scenario;
                        spec.concurrency = find_model(model)->one_at_a_time ? 1 : c;
                        spec.latency_ms = latency;
                        spec.threads = threads;
                        if (grid.pages_per_task > 0)
                            spec.pages =
                                std::max(grid.base.pages, grid.pages_per_task * spec.concurrency);
                        spec.json = false;
                        spec.records.clear();
                        spec.out.clear();
                        cell.key = cell_key(run_fields(cell.options));
                        if (seen.insert(cell.key).second) cells.push_back(std::move(cell));
                    }
    return cells;
}

std::string cell_key(const nlohmann::json& r) {
    static const nlohmann::json fields = run_fields(RunOptions{});
    nlohmann::json key = nlohmann::json::array();
    for (const auto& [field, value] : fields.items())
        key.push_back(r.contains(field) ? r[field] : nlohmann::json(nullptr));
    return key.dump();
}

nlohmann::json median_of(const std::vector<nlohmann::json>& runs, const std::string& preset) {
    if (runs.empty()) throw std::invalid_argument("median_of: no runs");
    nlohmann::json chosen;
    for (const nlohmann::json& r : runs)
        if (!good(r)) {
            chosen = r;
            break;
        }
    if (chosen.is_null()) {
        std::vector<const nlohmann::json*> sorted;
        for (const nlohmann::json& r : runs) sorted.push_back(&r);
        std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
            return (*a)["throughput_rps"].template get<double>() <
                   (*b)["throughput_rps"].template get<double>();
        });
        chosen = *sorted[(sorted.size() - 1) / 2];  // the lower median of an even count
    }
    nlohmann::json each = nlohmann::json::array();
    for (const nlohmann::json& r : runs)
        each.push_back({{"throughput_rps", r["throughput_rps"]},
                        {"p99_us", r["latency_us"]["p99"]},
                        {"peak_rss_kib", r["peak_rss_kib"]},
                        {"ok", good(r)}});
    chosen["matrix"] = {{"preset", preset}, {"repeat", runs.size()}, {"runs", each}};
    return chosen;
}

Fit least_squares(const std::vector<double>& x, const std::vector<double>& y) {
    Fit fit;
    fit.points = std::min(x.size(), y.size());
    if (fit.points < 2) return fit;
    const double n = static_cast<double>(fit.points);
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (std::size_t i = 0; i < fit.points; ++i) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
        syy += y[i] * y[i];
    }
    const double vx = sxx - sx * sx / n, vy = syy - sy * sy / n, cov = sxy - sx * sy / n;
    if (vx <= 0) return fit;  // every x equal: no slope to speak of
    fit.slope = cov / vx;
    fit.intercept = (sy - fit.slope * sx) / n;
    fit.r2 = vy > 0 ? cov * cov / (vx * vy) : 1.0;
    return fit;
}

int run_matrix(const MatrixOptions& options) {
    const std::vector<Cell> cells = cells_of(options.grid);
    const std::map<std::string, nlohmann::json> done = done_results(options.out);
    std::size_t to_run = 0;
    for (const Cell& cell : cells) to_run += done.contains(cell.key) ? 0 : 1;
    std::cout << fmt::format(
        "rosetta matrix: {} cells (preset {}), {} already in {}, {} to run{}\n", cells.size(),
        options.grid.preset, cells.size() - to_run, options.out, to_run,
        options.grid.repeat > 1
            ? fmt::format(", each {} times (the median is kept)", options.grid.repeat)
            : "");
    if (options.dry_run) {
        for (const Cell& cell : cells)
            if (!done.contains(cell.key)) std::cout << "  " << cell_title(cell.options) << "\n";
        return 0;
    }
    StopSignals stop;  // between cells too: a signal then stops the matrix before the next
    Progress progress(to_run);
    std::vector<nlohmann::json> results;  // of this grid, from before and from now
    std::string broken;  // model|scenario|latency|threads of a ladder that broke: skip its rest
    std::size_t ran = 0;
    int status = 0;
    bool stopped = false;
    for (const Cell& cell : cells) {
        if ((stopped = stopped || StopSignals::received().has_value())) break;
        const RunOptions& o = cell.options;
        const std::string ladder = fmt::format("{}|{}|{}|{}", o.model, to_string(o.spec.scenario),
                                               o.spec.latency_ms, o.spec.threads);
        nlohmann::json result;
        if (auto it = done.find(cell.key); it != done.end()) {
            result = it->second;
        } else if (ladder == broken) {
            std::cout << fmt::format("{:<60} skipped: it broke at a lower concurrency\n",
                                     cell_title(o));
            continue;
        } else {
            std::vector<nlohmann::json> runs;
            for (int k = 0; k < options.grid.repeat && !stopped; ++k) {
                progress.starting(
                    ran, cell_title(o) + (options.grid.repeat > 1
                                              ? fmt::format(" ({}/{})", k + 1, options.grid.repeat)
                                              : ""));
                nlohmann::json r = run_model(o);
                if (interrupted(r)) {
                    stopped = true;
                    break;
                }
                runs.push_back(std::move(r));
                if (!good(runs.back())) break;  // a failure is the cell's answer
            }
            progress.clear();
            if (stopped || runs.empty()) break;
            ++ran;
            result = median_of(runs, options.grid.preset);
            if (auto why = append_to("--out", options.out, result.dump() + "\n")) {
                std::cerr << "rosetta matrix: " << *why << "\n";
                return 1;
            }
            std::cout << fmt::format("{:<60} {}\n", cell_title(o), one_line(result)) << std::flush;
        }
        if (!good(result)) {
            status = 1;
            broken = ladder;
        }
        results.push_back(std::move(result));
    }
    progress.clear();
    if (stopped) {
        std::cout << "rosetta matrix: stopped; the cells finished are in " << options.out
                  << ", and the same command resumes after them\n";
        status = 1;
    }
    print_summary(results);
    return status;
}

}  // namespace rosetta
