#include "bench/harness/matrix.hpp"

#include <fmt/chrono.h>
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
#include "bench/harness/process.hpp"
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
            if (result.contains("kind")) continue;  // a line of another kind: memory_per_task
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

// What a ladder is: the cells that differ only in concurrency.
std::string ladder_of(const nlohmann::json& r) {
    return fmt::format("{}|{}|{}|{}", r.value("model", "?"), r.value("scenario", "?"),
                       number(r, "latency_ms"), number(r, "threads", 1));
}

nlohmann::json fit_json(const Fit& fit) {
    return {{"slope_kib", fit.slope}, {"intercept_kib", fit.intercept}, {"r2", fit.r2}};
}

// The summary: one row per ladder — its best req/s, p99 there, the most requests in flight the
// origin saw in a good cell, memory per task (memory_per_task's slopes, with R²), and where it
// stopped: the first failure, or saturation (`limits`, by ladder).
void print_summary(const std::vector<nlohmann::json>& results,
                   const std::map<std::string, std::string>& limits) {
    struct Row {
        std::string model, scenario;
        double latency = 0, threads = 1, best = 0, p99_ms = 0;
        long held = 0;
        std::string user = "-", kernel = "-";
    };
    std::vector<std::string> order;
    std::map<std::string, Row> rows;
    for (const nlohmann::json& r : results) {
        const std::string ladder = ladder_of(r);
        auto [it, inserted] = rows.try_emplace(ladder);
        Row& row = it->second;
        if (inserted) {
            order.push_back(ladder);
            row = Row{r.value("model", "?"), r.value("scenario", "?"), number(r, "latency_ms"),
                      number(r, "threads", 1)};
        }
        if (!good(r)) continue;
        const double rps = number(r, "throughput_rps");
        if (rps > row.best) {
            row.best = rps;
            row.p99_ms = number(r.value("latency_us", nlohmann::json::object()), "p99") / 1000.0;
        }
        row.held = std::max(row.held, static_cast<long>(number(r, "peak_inflight", 0)));
    }
    for (const nlohmann::json& fit : memory_per_task(results)) {
        Row& row = rows[ladder_of(fit)];
        auto text = [](const nlohmann::json& f) {
            return f.is_null() ? std::string("-")
                               : fmt::format("{:.1f} ({:.2f})", f["slope_kib"].get<double>(),
                                             f["r2"].get<double>());
        };
        row.user = text(fit["user"]);
        row.kernel = text(fit["user_kernel"]);
    }
    std::cout << fmt::format("\n{:<22} {:<9} {:>6} {:>2} {:>9} {:>8} {:>6} {:>12} {:>12}  {}\n",
                             "model", "scenario", "L ms", "T", "req/s", "p99 ms", "held",
                             "KiB/task", "+kernel", "stopped at");
    for (const std::string& ladder : order) {
        const Row& row = rows[ladder];
        auto limit = limits.find(ladder);
        std::cout << fmt::format(
            "{:<22} {:<9} {:>6.0f} {:>2.0f} {:>9.0f} {:>8.1f} {:>6} {:>12} {:>12}  {}\n", row.model,
            row.scenario, row.latency, row.threads, row.best, row.p99_ms,
            row.held > 0 ? std::to_string(row.held) : "-", row.user, row.kernel,
            limit == limits.end() ? "-" : limit->second);
    }
    std::cout << "held: the most requests in flight the origin saw in a good cell. KiB/task: the "
                 "slope of peak RSS over them (R²); +kernel: with the kernel's stacks and slab, "
                 "system-wide (the origin's sockets too); - where they span under 50\n";
}

}  // namespace

Grid preset_grid(std::string_view name, const std::vector<std::string>& built) {
    Grid grid;
    grid.preset = std::string(name);
    // Our models; the peers only in their own preset, beside the models they stand beside.
    for (const std::string& id : built)
        if (const ModelInfo* model = find_model(id); model && !model->peer)
            grid.models.push_back(id);
    grid.scenarios = {Scenario::download, Scenario::crawl};
    grid.threads = {1};
    if (name == "quick") {
        // Every model, both programs, three levels; a few minutes in all.
        grid.concurrency = {1, 10, 100};
        grid.latency_ms = {10};
        grid.base.pages = 300;
        // The origin and the model on CPUs of their own, where there are two: numbers that do
        // not depend on how the scheduler happened to share them.
        grid.pin = allowed_cpus().size() >= 2 ? "split" : "none";
    } else if (name == "c10k") {
        // The ladder at 1 s think time: each cell fetches 5 pages a task, so it lasts about five
        // rounds of think time whatever C is — long enough that a model starting its tasks at a
        // few thousand a second (threads) still has all of them in flight at once. A model
        // saturated below half of C stops climbing: the next rungs would only queue.
        grid.scenarios = {Scenario::download};
        grid.concurrency = {1, 10, 100, 1'000, 3'000, 10'000, 19'000};
        grid.latency_ms = {1'000};
        grid.pages_per_task = 5;
        grid.base.pages = 5;
        grid.stop_when_saturated = true;
    } else if (name == "peers") {
        // Every Python peer and the models they stand beside (io-uring beside the coroutines it
        // is compared with), at the two points: C=1,000 at 50 ms and C=100 at 0 ms (the
        // grid is a product, so C=100 at 50 ms and C=1,000 at 0 ms come too).
        std::vector<std::string> models;
        auto add = [&](std::string_view id) {
            if (std::find(built.begin(), built.end(), id) != built.end() &&
                std::find(models.begin(), models.end(), id) == models.end())
                models.emplace_back(id);
        };
        for (const std::string& id : grid.models) {  // ours, in the story's order
            for (const ModelInfo& model : all_models())
                if (model.peer && model.beside == id) add(id);
            if (id == "io-uring") add(id);
        }
        for (const ModelInfo& model : all_models())
            if (model.peer) add(model.id);
        grid.models = models;
        grid.concurrency = {100, 1'000};
        grid.latency_ms = {0, 50};
        grid.pages_per_task = 5;
        grid.base.pages = 1'000;
    } else if (name == "full") {
        grid.concurrency = {1, 10, 100, 1'000, 10'000};
        grid.latency_ms = {0, 50};
        grid.threads = {1, 2};
        grid.pages_per_task = 10;
        grid.base.pages = 1'000;
        grid.repeat = 3;
    } else {
        throw std::invalid_argument(
            fmt::format("unknown preset '{}' (quick, c10k, peers or full)", std::string(name)));
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
                        cell.options.pin = grid.pin;
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

std::vector<nlohmann::json> memory_per_task(const std::vector<nlohmann::json>& results) {
    struct Points {
        nlohmann::json first;  // a result of the ladder: what identifies it, preset, git
        std::vector<double> inflight, user, user_kernel;
    };
    std::vector<std::string> order;
    std::map<std::string, Points> ladders;
    for (const nlohmann::json& r : results) {
        const double inflight = number(r, "peak_inflight", -1);
        if (!good(r) || inflight < 0) continue;  // another origin: no in-flight count to fit
        const std::string ladder = ladder_of(r);
        auto [it, inserted] = ladders.try_emplace(ladder);
        if (inserted) {
            order.push_back(ladder);
            it->second.first = r;
        }
        double kernel = 0;  // stacks and slab (the sockets' buffers may be slab already)
        if (r.contains("kernel_kib") && r["kernel_kib"].is_object())
            kernel = number(r["kernel_kib"], "stack") + number(r["kernel_kib"], "slab");
        it->second.inflight.push_back(inflight);
        it->second.user.push_back(number(r, "peak_rss_kib"));
        it->second.user_kernel.push_back(number(r, "peak_rss_kib") + kernel);
    }
    const auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    std::vector<nlohmann::json> lines;
    for (const std::string& ladder : order) {
        const Points& p = ladders[ladder];
        const auto [low, high] = std::minmax_element(p.inflight.begin(), p.inflight.end());
        const bool enough = p.inflight.size() >= 3 && *high - *low >= 50;
        auto fit = [&](const std::vector<double>& memory) {
            return enough ? fit_json(least_squares(p.inflight, memory)) : nlohmann::json(nullptr);
        };
        const nlohmann::json& r = p.first;
        lines.push_back(
            {{"kind", "memory_per_task"},
             {"model", r["model"]},
             {"scenario", r["scenario"]},
             {"latency_ms", r["latency_ms"]},
             {"threads", r.value("threads", 1)},
             {"points", p.inflight.size()},
             {"inflight", {*low, *high}},
             {"user", fit(p.user)},
             {"user_kernel", fit(p.user_kernel)},
             {"preset", r.contains("matrix") ? r["matrix"].value("preset", "") : std::string()},
             {"git", r.value("git", nlohmann::json())},
             {"time", fmt::format("{:%FT%TZ}", now)}});
    }
    return lines;
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
    const Placement placement = placement_for(options.grid.pin);
    std::cout << (options.grid.pin == "split"
                      ? fmt::format("placement (--pin split): the origin on {}, the model on {}\n",
                                    options.grid.base.origin.empty()
                                        ? describe_cpus(placement.origin)
                                        : "its own machine",
                                    describe_cpus(placement.model))
                      : fmt::format("placement (--pin none): origin and model on any of {}\n",
                                    describe_cpus(allowed_cpus())));
    if (options.dry_run) {
        for (const Cell& cell : cells)
            if (!done.contains(cell.key)) std::cout << "  " << cell_title(cell.options) << "\n";
        return 0;
    }
    StopSignals stop;  // between cells too: a signal then stops the matrix before the next
    Progress progress(to_run);
    std::vector<nlohmann::json> results;  // of this grid, from before and from now
    // Ladders that stopped climbing, and why: the first failure, or saturation.
    std::map<std::string, std::string> limits;
    std::size_t ran = 0;
    int status = 0;
    bool stopped = false;
    for (const Cell& cell : cells) {
        if ((stopped = stopped || StopSignals::received().has_value())) break;
        const RunOptions& o = cell.options;
        const std::string ladder = ladder_of(run_fields(o));
        nlohmann::json result;
        if (auto it = done.find(cell.key); it != done.end()) {
            result = it->second;
        } else if (auto limit = limits.find(ladder); limit != limits.end()) {
            if (!options.quiet)
                std::cout << fmt::format("{:<60} skipped: {}\n", cell_title(o),
                                         limit->second.starts_with("saturated")
                                             ? "saturated at a lower concurrency"
                                             : "it broke at a lower concurrency");
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
            if (!options.quiet)
                std::cout << fmt::format("{:<60} {}\n", cell_title(o), one_line(result))
                          << std::flush;
        }
        const double c = number(result, "concurrency"), held = number(result, "peak_inflight", -1);
        if (!good(result)) {
            status = 1;
            limits.try_emplace(ladder, fmt::format("C={:.0f}: {}", c,
                                                   result["failure"].is_string()
                                                       ? result["failure"].get<std::string>()
                                                       : "not verified"));
        } else if (options.grid.stop_when_saturated && held >= 0 && held < c / 2) {
            limits.try_emplace(
                ladder, fmt::format("saturated at C={:.0f}: {:.0f} in flight at most", c, held));
        }
        results.push_back(std::move(result));
    }
    progress.clear();
    if (stopped) {
        std::cout << "rosetta matrix: stopped; the cells finished are in " << options.out
                  << ", and the same command resumes after them\n";
        status = 1;
    }
    // Memory per task, fitted over this grid's results, joins them in the file.
    std::string fits;
    for (const nlohmann::json& line : memory_per_task(results)) fits += line.dump() + "\n";
    if (!fits.empty() && ran > 0)
        if (auto why = append_to("--out", options.out, fits))
            std::cerr << "rosetta matrix: " << *why << "\n";
    print_summary(results, limits);
    return status;
}

}  // namespace rosetta
