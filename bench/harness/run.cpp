// `rosetta run` in five steps: start the origin (or reach the one given), watch the model
// from outside until it ends, count what its records hold, read the origin's stats, verify.
#include "bench/harness/run.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "bench/harness/models.hpp"
#include "bench/harness/probe.hpp"
#include "bench/harness/process.hpp"
#include "bench/harness/result.hpp"
#include "scenarios/records.hpp"
#include "scenarios/site.hpp"
#include "scenarios/verify.hpp"

namespace rosetta {

namespace {

double seconds(const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    auto nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
}

// Step 1: starts `rosetta origin` as a child with the run's site options and waits (at most
// 10 s) for its "listening on HOST:PORT". Returns HOST:PORT.
std::string start_origin(const RunOptions& o, const std::vector<int>& cpus,
                         std::unique_ptr<Child>& origin) {
    Spec site = o.spec;
    site.threads = o.origin_threads;
    std::vector<std::string> args = site_args(site);
    args.insert(args.begin(), "origin");
    origin = std::make_unique<Child>("/proc/self/exe", args, false, cpus);
    std::string out;
    std::int64_t deadline = monotonic_ns() + 10'000'000'000;
    while (out.find('\n') == std::string::npos) {
        std::int64_t left = (deadline - monotonic_ns()) / 1'000'000;
        pollfd p[2] = {{origin->stdout_fd(), POLLIN, 0}, {origin->pid_fd(), POLLIN, 0}};
        if (left <= 0 || ::poll(p, 2, static_cast<int>(left)) <= 0)
            throw std::runtime_error("origin: no 'listening on' line within 10 s");
        if (!drain(origin->stdout_fd(), out) && out.find('\n') == std::string::npos) {
            origin->reap();
            throw std::runtime_error("origin: exited at start (" +
                                     describe_wait_status(origin->wait_status()) + ")");
        }
    }
    std::string first = out.substr(0, out.find('\n'));
    const std::string prefix = "listening on ";
    if (!first.starts_with(prefix))
        throw std::runtime_error("origin: unexpected first line '" + first + "'");
    return first.substr(prefix.size());
}

// A records file the harness owns when the user did not ask for one; removed afterwards.
class TempFile {
public:
    TempFile() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "rosetta-records-XXXXXX").string();
        Fd fd(::mkstemp(pattern.data()));
        if (!fd) throw std::runtime_error("cannot create a temporary records file");
        path_ = pattern;
    }
    ~TempFile() { std::filesystem::remove(path_); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Counts records as the model writes them, for a progress line on a terminal.
class Progress {
public:
    explicit Progress(std::string path, std::string label)
        : path_(std::move(path)), label_(std::move(label)), enabled_(::isatty(STDERR_FILENO)) {}
    ~Progress() {
        if (shown_) std::fputs("\r\033[K", stderr);
    }
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void tick(std::int64_t now_ns, std::int64_t start_ns) {
        if (!enabled_ || now_ns - last_ns_ < 500'000'000) return;
        last_ns_ = now_ns;
        if (!fd_) fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));  // the model creates it
        char buffer[65536];
        ssize_t n = 0;
        while (fd_ && (n = ::read(fd_.get(), buffer, sizeof buffer)) > 0)
            for (ssize_t i = 0; i < n; ++i) lines_ += buffer[i] == '\n';
        std::fprintf(stderr, "\r\033[K%s: %llu attempts, %.1f s", label_.c_str(),
                     static_cast<unsigned long long>(lines_),
                     static_cast<double>(now_ns - start_ns) / 1e9);
        shown_ = true;
    }

private:
    std::string path_, label_;
    bool enabled_;
    Fd fd_;
    std::uint64_t lines_ = 0;
    std::int64_t last_ns_ = 0;
    bool shown_ = false;
};

// What the harness saw of the model from outside.
struct Watched {
    int wait_status = 0;
    int survivors = 0;  // processes of its group still running after it exited
    rusage usage{};
    std::uint64_t peak_rss_kib = 0;  // the process tree's, sampled
    // The kernel's side, system-wide, as growth over the sample taken just before the model
    // started: the stacks and slab at the sample where their sum peaked, and the socket
    // buffers' own peak.
    KernelMemory kernel_peak;
    double wall_s = 0;
    std::string out, err;
    std::optional<std::string> stopped;  // why the harness stopped it early
};

// Step 2: runs the model and watches it until it exits, is interrupted or overruns the
// deadline. One loop waits for everything: output, exit, the deadline, a stop signal, and
// every 5 ms a sample of the process tree's memory and of the kernel's (the peak of a short run
// lasts milliseconds).
Watched watch_model(const RunOptions& o, const std::vector<int>& cpus,
                    const std::string& executable, const std::vector<std::string>& args,
                    const std::string& records_path) {
    Watched w;
    const KernelMemory baseline = kernel_memory();
    auto sample_kernel = [&w, &baseline] {
        const KernelMemory now = kernel_memory();
        const std::int64_t stack = now.stack_kib - baseline.stack_kib,
                           slab = now.slab_kib - baseline.slab_kib;
        if (stack + slab > w.kernel_peak.stack_kib + w.kernel_peak.slab_kib) {
            w.kernel_peak.stack_kib = stack;
            w.kernel_peak.slab_kib = slab;
        }
        w.kernel_peak.socket_kib =
            std::max(w.kernel_peak.socket_kib, now.socket_kib - baseline.socket_kib);
    };
    const std::int64_t start_ns = monotonic_ns();
    std::int64_t end_ns = 0;
    Child model(executable, args, true, cpus);
    Progress progress(records_path, fmt::format("{} {}", o.model, to_string(o.spec.scenario)));
    const std::int64_t deadline_ns = start_ns + static_cast<std::int64_t>(o.deadline_s * 1e9);
    const std::int64_t available_kib = mem_available_kib();
    const auto guard_kib =
        static_cast<std::int64_t>(o.memory_guard * static_cast<double>(available_kib));
    bool out_open = true, err_open = true;
    while (!model.reaped()) {
        std::array<pollfd, 3> p = {pollfd{out_open ? model.stdout_fd() : -1, POLLIN, 0},
                                   pollfd{err_open ? model.stderr_fd() : -1, POLLIN, 0},
                                   pollfd{model.pid_fd(), POLLIN, 0}};
        // Sampled before the wait, so the first sample is of the process just started (after
        // its exec): a run of a few milliseconds (20 pages) reported 0 in 2 of 10 runs when every
        // sample came after a wait, as /proc no longer shows a process that has exited.
        w.peak_rss_kib = std::max(w.peak_rss_kib, tree_rss_kib(model.pid()));
        w.peak_rss_kib = std::max(w.peak_rss_kib, peak_rss_since_exec_kib(model.pid()));
        sample_kernel();
        ::poll(p.data(), p.size(), 5);
        std::int64_t now = monotonic_ns();
        if (p[0].revents) out_open = drain(model.stdout_fd(), w.out);
        if (p[1].revents) err_open = drain(model.stderr_fd(), w.err);
        if (p[2].revents & POLLIN) {
            end_ns = monotonic_ns();
            model.reap();
        } else if (auto why = StopSignals::received()) {
            w.stopped = *why;
            model.stop(2000);
        } else if (const std::int64_t kernel =
                       std::max<std::int64_t>(0, w.kernel_peak.stack_kib + w.kernel_peak.slab_kib),
                   used = static_cast<std::int64_t>(w.peak_rss_kib) + kernel;
                   available_kib > 0 && used > guard_kib &&
                   // The model process alone past the guard, or a tree of processes whose sum
                   // is, if the machine's own account agrees: RSS counts a page forked children
                   // share once per child (a pool of 1,000 Python workers: 19 GB of RSS, 3.4 GB
                   // of memory).
                   (static_cast<std::int64_t>(peak_rss_since_exec_kib(model.pid())) + kernel >
                        guard_kib ||
                    available_kib - mem_available_kib() > guard_kib)) {
            w.stopped = fmt::format(
                "memory guard: the run held {} MiB, more than {:g} of the {} MiB available when "
                "it started (--memory-guard)",
                used / 1024, o.memory_guard, available_kib / 1024);
            model.stop(2000);
        } else if (now > deadline_ns) {
            w.stopped = fmt::format(
                "deadline: the model was still running after {:g} s (--deadline-s)", o.deadline_s);
            model.stop(2000);
        }
        progress.tick(now, start_ns);
    }
    if (end_ns == 0) end_ns = monotonic_ns();
    if (out_open) drain(model.stdout_fd(), w.out);
    if (err_open) drain(model.stderr_fd(), w.err);
    w.wait_status = model.wait_status();
    w.survivors = model.survivors();
    w.usage = model.usage();
    w.wall_s = static_cast<double>(end_ns - start_ns) / 1e9;
    return w;
}

// A run that finished but whose attempts ended otherwise than the site answers (timeouts,
// connect errors: the model could not keep up) has hit a limit: named from the outcomes it
// got, most frequent first, e.g. "timeout: 151 of 57,151 attempts (0.26%) where the site
// answers otherwise". None when the mismatches are of another kind (a bug, not a limit).
std::optional<std::string> unexpected_outcomes(const Verdict& verdict, std::uint64_t attempts) {
    if (verdict.unexpected.empty()) return std::nullopt;
    std::vector<std::pair<std::size_t, std::string>> by_count;
    for (const auto& [outcome, n] : verdict.unexpected) by_count.emplace_back(n, outcome);
    std::sort(by_count.rbegin(), by_count.rend());
    std::string text;
    for (const auto& [n, outcome] : by_count)
        text += fmt::format("{}{}: {} of {} attempts ({:.2g}%)", text.empty() ? "" : ", ", outcome,
                            n, attempts,
                            100.0 * static_cast<double>(n) /
                                static_cast<double>(std::max<std::uint64_t>(attempts, 1)));
    return text + " where the site answers otherwise";
}

}  // namespace

namespace {
volatile std::sig_atomic_t stop_signal = 0;
extern "C" void on_stop_signal(int signal) { stop_signal = signal; }
int stop_signals_depth = 0;  // scopes alive: only the outermost clears a signal received
}  // namespace

StopSignals::StopSignals() {
    if (stop_signals_depth++ == 0) stop_signal = 0;
    struct sigaction action {};
    action.sa_handler = on_stop_signal;  // no SA_RESTART: poll returns EINTR at once
    for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &action, &old_[i]);
}

StopSignals::~StopSignals() {
    for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &old_[i], nullptr);
    --stop_signals_depth;
}

std::optional<std::string> StopSignals::received() {
    if (!stop_signal) return std::nullopt;
    const char* name = sigabbrev_np(stop_signal);
    return fmt::format("interrupted (SIG{})", name ? name : std::to_string(stop_signal));
}

Placement placement_for(const std::string& pin) {
    Placement placement;
    if (pin == "none") return placement;
    if (pin != "split")
        throw std::invalid_argument(fmt::format("--pin: '{}' is not none or split", pin));
    const std::vector<int> cpus = allowed_cpus();
    if (cpus.size() < 2)
        throw std::invalid_argument(
            fmt::format("--pin split: needs 2 CPUs, this process may use {}", cpus.size()));
    const std::size_t half = cpus.size() / 2;
    placement.origin.assign(cpus.begin(), cpus.begin() + static_cast<std::ptrdiff_t>(half));
    placement.model.assign(cpus.begin() + static_cast<std::ptrdiff_t>(half), cpus.end());
    return placement;
}

nlohmann::json run_model(const RunOptions& o) {
    const Spec& s = o.spec;
    nlohmann::json result = result_skeleton(o);
    auto fail = [&result](std::string why) {
        if (result["failure"].is_null()) result["failure"] = std::move(why);
        result["completed"] = false;
        return result;
    };
    StopSignals stop_signals;
    Placement placement;
    try {
        placement = placement_for(o.pin);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    auto cpu_list = [](const std::vector<int>& cpus) {
        return cpus.empty() ? nlohmann::json(nullptr) : nlohmann::json(cpus);
    };
    result["placement"] = {
        {"origin_cpus", s.origin.empty() ? cpu_list(placement.origin) : nlohmann::json(nullptr)},
        {"model_cpus", cpu_list(placement.model)}};

    // 1. The origin: our own, or the one given with --origin, which must answer first.
    std::unique_ptr<Child> origin;
    std::string authority = s.origin;
    try {
        if (authority.empty()) {
            authority = start_origin(o, placement.origin, origin);
        } else if (auto why = check_reachable(authority, 3000)) {
            return fail(*why);
        }
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    const std::string executable = model_executable(o.model);
    if (::access(executable.c_str(), X_OK) != 0)
        return fail(
            fmt::format("rosetta-{} is not built (looked in {})", o.model, model_bin_dir()));

    // 2. The model, with the same spec (to it, the origin and the records file are given).
    std::optional<TempFile> temp_records;
    Spec model_spec = s;
    model_spec.origin = authority;
    model_spec.json = true;
    model_spec.out.clear();
    try {
        if (model_spec.records.empty()) model_spec.records = temp_records.emplace().path();
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    Watched watched;
    try {
        watched =
            watch_model(o, placement.model, executable, spec_args(model_spec), model_spec.records);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    result["cpu_user_s"] = seconds(watched.usage.ru_utime);
    result["cpu_sys_s"] = seconds(watched.usage.ru_stime);
    result["ctx_voluntary"] = watched.usage.ru_nvcsw;
    result["ctx_involuntary"] = watched.usage.ru_nivcsw;
    // Sampled: the tree's sum, and the model process's own high-water mark, which catches a
    // peak between samples (not wait4's ru_maxrss: see peak_rss_since_exec_kib).
    result["peak_rss_kib"] = watched.peak_rss_kib;
    result["kernel_kib"] = {{"stack", watched.kernel_peak.stack_kib},
                            {"slab", watched.kernel_peak.slab_kib},
                            {"sockets", watched.kernel_peak.socket_kib}};
    result["wall_s"] = watched.wall_s;

    nlohmann::json inside;  // the model's own result line, when it finished on its own
    try {
        inside = nlohmann::json::parse(last_line(watched.out));
    } catch (const std::exception&) {
    }
    if (inside.is_object()) result["model_wall_s"] = inside.value("wall_s", 0.0);
    const ModelInfo* info = find_model(o.model);
    if (watched.stopped) {
        fail(*watched.stopped);
    } else if (info && info->peer && WIFEXITED(watched.wait_status) &&
               WEXITSTATUS(watched.wait_status) == peer_skipped_status) {
        // A peer whose library is not installed said so in one line: a skip, not a crash.
        result["skipped"] = true;
        return fail(last_line(watched.err));
    } else if (inside.is_object() && inside["failure"].is_string()) {
        fail(inside["failure"].get<std::string>());
    } else if (!WIFEXITED(watched.wait_status) || WEXITSTATUS(watched.wait_status) != 0 ||
               !inside.is_object()) {
        std::string why =
            fmt::format("rosetta-{} {}", o.model, describe_wait_status(watched.wait_status));
        if (!watched.err.empty()) why += ": " + last_line(watched.err);
        fail(why);
    } else {
        result["completed"] = true;
        if (!watched.err.empty()) std::fputs(watched.err.c_str(), stderr);
    }
    // Nothing of a run outlives it: a process it started that was still running once it had
    // exited is a leak, whatever the run did (one the harness stopped is not asked: its group
    // was killed with it).
    if (watched.survivors > 0 && !watched.stopped)
        fail(
            fmt::format("left behind: {} process{} of its group still running after it exited "
                        "(killed)",
                        watched.survivors, watched.survivors == 1 ? "" : "es"));

    // 3. What the run did is what its records hold, stopped or not; the rates are defined once.
    std::vector<Record> records;
    try {
        records = read_records(model_spec.records);
    } catch (const std::exception& e) {
        fail(e.what());
    }
    RunTotals totals = totals_of(records);
    Rates rates = rates_of(totals, watched.wall_s);
    result["requests"] = totals.requests;
    result["urls"] = totals.urls;
    result["outcomes"] = totals.outcomes_json();
    result["bytes"] = totals.bytes;
    result["latency_us"] = totals.latency_us.summary_json();
    result["throughput_rps"] = rates.throughput_rps;
    result["urls_per_s"] = rates.urls_per_s;
    if (!origin) return result;  // not our origin: nothing to prove it against

    // 4. The origin's view, which the model cannot fake: in flight at once, connections opened.
    OriginStats stats;
    try {
        stats = read_origin_stats(authority, 5000);
        result["peak_inflight"] = stats.peak_inflight;
        result["connections"] = stats.connections;
    } catch (const std::exception& e) {
        fail(e.what());
    }
    origin->stop(3000);

    // 5. The verdict, for a run that ended on its own: a stopped one would only list the URLs
    // it never reached.
    if (!result["completed"].get<bool>()) return result;
    Site site(SiteParams::from(s, authority));
    Verdict verdict = verify({site, s.scenario, s.retries, s.max_pages, s.start, records,
                              &stats.paths, stats.other_paths});
    result["verified"] = verdict.verified;
    if (!verdict.verified) {
        result["mismatches"] = verdict.mismatches;
        result["mismatch_count"] = verdict.mismatch_count;
        if (auto why = unexpected_outcomes(verdict, totals.requests)) result["failure"] = *why;
    }
    return result;
}

}  // namespace rosetta
