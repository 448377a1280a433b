#include "bench/harness/run.hpp"

#include "bench/harness/models.hpp"
#include "bench/harness/process.hpp"
#include "scenarios/http.hpp"
#include "scenarios/net.hpp"
#include "scenarios/records.hpp"
#include "scenarios/site.hpp"
#include "scenarios/verify.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

namespace rosetta {

namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

double seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    auto nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
}

// The harness's own connections (the reachability check, /__stats): a non-blocking socket,
// every wait in poll() against one deadline.
class Probe {
public:
    Probe(const std::string& authority, int timeout_ms)
        : deadline_(monotonic_ns() + std::int64_t{timeout_ms} * 1'000'000) {
        try {
            endpoint_ = resolve_endpoint(authority);
        } catch (const std::exception& e) {
            error_ = e.what();
            return;
        }
        fd_ = open_tcp_socket(endpoint_);
        if (!fd_) {
            error_ = describe_error("socket", errno);
            return;
        }
        int rc = start_connect(fd_.get(), endpoint_);
        if (rc == EINPROGRESS) rc = wait(POLLOUT) ? connect_result(fd_.get()) : ETIMEDOUT;
        if (rc != 0) error_ = describe_error("connect", rc);
    }

    int fd() const { return fd_.get(); }
    // Empty once connected; else why not.
    const std::string& error() const { return error_; }
    // True when fd became ready for events before the deadline.
    bool wait(short events) const {
        pollfd p{fd_.get(), events, 0};
        std::int64_t left = (deadline_ - monotonic_ns()) / 1'000'000;
        return left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1;
    }

private:
    std::int64_t deadline_;
    Endpoint endpoint_;
    Fd fd_;
    std::string error_;
};

// A GET with a deadline on a fresh connection, for /__stats. Returns the body of a 200, or
// nullopt.
std::optional<std::string> http_get(const std::string& authority, const std::string& path, int timeout_ms) {
    Probe probe(authority, timeout_ms);
    const int fd = probe.fd();
    std::string body;
    ResponseParser parser([&body](std::string_view bytes) { body.append(bytes); });
    std::string request = make_get_request(authority, path, false);
    bool ok = probe.error().empty() &&
              ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
    while (ok && parser.state() == ResponseParser::State::need_more && probe.wait(POLLIN)) {
        char buffer[16384];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            parser.feed({buffer, static_cast<std::size_t>(n)});
        } else if (n == 0) {
            parser.feed_eof();
        } else if (errno != EINTR && errno != EAGAIN) {
            ok = false;
        }
    }
    if (!ok || parser.state() != ResponseParser::State::done || parser.status() != 200) return std::nullopt;
    return body;
}

// An origin given with --origin must answer a connect before the model is started.
std::optional<std::string> check_reachable(const std::string& authority) {
    Probe probe(authority, 3000);
    if (!probe.error().empty()) return fmt::format("origin {} unreachable: {}", authority, probe.error());
    return std::nullopt;
}

// The options that make the site, identical for the origin and the model (which derives the
// download order and the verifier's truth from them).
std::vector<std::string> site_args(const Spec& s, int threads) {
    return {"--pages", std::to_string(s.pages),           "--page-bytes", std::to_string(s.page_bytes),
            "--links", std::to_string(s.links),           "--latency-ms", std::to_string(s.latency_ms),
            "--faults", s.faults.to_string(),             "--threads", std::to_string(threads),
            "--seed", std::to_string(s.seed)};
}

// Starts `rosetta origin` as a child and waits (at most 10 s) for "listening on HOST:PORT".
std::string start_origin(const RunOptions& o, std::unique_ptr<Child>& origin) {
    std::vector<std::string> args = site_args(o.spec, o.origin_threads);
    args.insert(args.begin(), "origin");
    origin = std::make_unique<Child>("/proc/self/exe", args, false);
    std::string out;
    std::int64_t deadline = monotonic_ns() + 10'000'000'000;
    while (out.find('\n') == std::string::npos) {
        std::int64_t left = (deadline - monotonic_ns()) / 1'000'000;
        pollfd p[2] = {{origin->stdout_fd(), POLLIN, 0}, {origin->pid_fd(), POLLIN, 0}};
        if (left <= 0 || ::poll(p, 2, static_cast<int>(left)) <= 0)
            throw std::runtime_error("origin: no 'listening on' line within 10 s");
        if (!drain(origin->stdout_fd(), out) && out.find('\n') == std::string::npos) {
            origin->reap();
            throw std::runtime_error("origin: exited at start (" + describe_wait_status(origin->wait_status()) + ")");
        }
    }
    std::string first = out.substr(0, out.find('\n'));
    const std::string prefix = "listening on ";
    if (first.rfind(prefix, 0) != 0) throw std::runtime_error("origin: unexpected first line '" + first + "'");
    return first.substr(prefix.size());
}

std::vector<std::string> model_args(const RunOptions& o, const std::string& authority, const std::string& records) {
    const Spec& s = o.spec;
    std::vector<std::string> args = site_args(s, s.threads);
    for (std::string extra : std::initializer_list<std::string>{"--scenario", std::string(to_string(s.scenario)), "--concurrency",
                              std::to_string(s.concurrency), "--timeout-ms", std::to_string(s.timeout_ms),
                              "--retries", std::to_string(s.retries), "--keepalive", s.keepalive ? "on" : "off",
                              "--origin", authority, "--start", s.start, "--records", records, "--json"})
        args.push_back(std::move(extra));
    if (s.max_pages) {
        args.push_back("--max-pages");
        args.push_back(std::to_string(*s.max_pages));
    }
    return args;
}

nlohmann::json machine() {
    utsname u{};
    ::uname(&u);
    return {{"cpus", std::thread::hardware_concurrency()},
            {"kernel", std::string(u.release)},
            {"compiler", fmt::format("g++ {}", __VERSION__)}};
}

std::string git_revision() {
#ifdef ROSETTA_SOURCE_DIR
    auto run = [](const std::string& command) {
        std::string output;
        if (FILE* pipe = ::popen(command.c_str(), "r")) {
            char buffer[256];
            while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
            ::pclose(pipe);
        }
        while (!output.empty() && output.back() == '\n') output.pop_back();
        return output;
    };
    std::string dir = ROSETTA_SOURCE_DIR;
    std::string sha = run("git -C '" + dir + "' rev-parse --short=12 HEAD 2>/dev/null");
    if (sha.empty()) return "unknown";
    if (!run("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty()) sha += "-dirty";
    return sha;
#else
    return "unknown";
#endif
}

// A records file the harness owns when the user did not ask for one; removed afterwards.
class TempFile {
public:
    TempFile() {
        std::string pattern = (std::filesystem::temp_directory_path() / "rosetta-records-XXXXXX").string();
        int fd = ::mkstemp(pattern.data());
        if (fd < 0) throw std::runtime_error("cannot create a temporary records file");
        ::close(fd);
        path_ = pattern;
    }
    ~TempFile() { std::filesystem::remove(path_); }
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
        if (fd_ >= 0) ::close(fd_);
        if (shown_) std::fputs("\r\033[K", stderr);
    }
    void tick(std::int64_t now_ns, std::int64_t start_ns) {
        if (!enabled_ || now_ns - last_ns_ < 500'000'000) return;
        last_ns_ = now_ns;
        if (fd_ < 0) fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // the model creates it
        char buffer[65536];
        ssize_t n = 0;
        while (fd_ >= 0 && (n = ::read(fd_, buffer, sizeof buffer)) > 0)
            for (ssize_t i = 0; i < n; ++i) lines_ += buffer[i] == '\n';
        std::fprintf(stderr, "\r\033[K%s: %llu attempts, %.1f s", label_.c_str(),
                     static_cast<unsigned long long>(lines_), static_cast<double>(now_ns - start_ns) / 1e9);
        shown_ = true;
    }

private:
    std::string path_, label_;
    bool enabled_;
    int fd_ = -1;
    std::uint64_t lines_ = 0;
    std::int64_t last_ns_ = 0;
    bool shown_ = false;
};

}  // namespace

nlohmann::json run_model(const RunOptions& o) {
    const Spec& s = o.spec;
    const ModelInfo* info = find_model(o.model);
    nlohmann::json result = {
        {"model", o.model},
        {"scenario", to_string(s.scenario)},
        {"concurrency", info && info->one_at_a_time ? 1 : s.concurrency},
        {"threads", s.threads},
        {"pages", s.pages},
        {"max_pages", s.max_pages ? nlohmann::json(*s.max_pages) : nlohmann::json(nullptr)},
        {"page_bytes", s.page_bytes},
        {"links", s.links},
        {"latency_ms", s.latency_ms},
        {"faults", s.faults.to_string()},
        {"timeout_ms", s.timeout_ms},
        {"retries", s.retries},
        {"keepalive", s.keepalive},
        {"seed", s.seed},
        {"origin", s.origin.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.origin)},
        {"completed", false},
        {"verified", nullptr},
        {"failure", nullptr},
        {"wall_s", 0.0},
        {"model_wall_s", 0.0},
        {"requests", 0},
        {"urls", 0},
        {"outcomes", RunTotals{}.outcomes_json()},
        {"bytes", 0},
        {"throughput_rps", 0.0},
        {"latency_us", LatencyHistogram{}.summary_json()},
        {"peak_rss_kib", 0},
        {"cpu_user_s", 0.0},
        {"cpu_sys_s", 0.0},
        {"ctx_voluntary", 0},
        {"ctx_involuntary", 0},
        {"peak_inflight", nullptr},
        {"machine", machine()},
        {"git", git_revision()},
    };
    auto fail = [&result](std::string why) {
        if (result["failure"].is_null()) result["failure"] = std::move(why);
        result["completed"] = false;
        return result;
    };

    struct sigaction action{}, old_int{}, old_term{};
    action.sa_handler = on_interrupt;  // no SA_RESTART: poll returns EINTR at once
    ::sigaction(SIGINT, &action, &old_int);
    ::sigaction(SIGTERM, &action, &old_term);
    interrupted = 0;
    struct RestoreSignals {
        struct sigaction old_int, old_term;
        ~RestoreSignals() {
            ::sigaction(SIGINT, &old_int, nullptr);
            ::sigaction(SIGTERM, &old_term, nullptr);
        }
    } restore{old_int, old_term};

    std::unique_ptr<Child> origin;
    std::string authority = s.origin;
    try {
        if (authority.empty()) {
            authority = start_origin(o, origin);
        } else if (auto why = check_reachable(authority)) {
            return fail(*why);
        }
    } catch (const std::exception& e) {
        return fail(e.what());
    }

    std::string executable = model_executable(o.model);
    if (::access(executable.c_str(), X_OK) != 0)
        return fail(fmt::format("rosetta-{} is not built (looked in {})", o.model, model_bin_dir()));

    std::optional<TempFile> temp_records;
    std::string records_path = s.records;
    if (records_path.empty()) {
        temp_records.emplace();
        records_path = temp_records->path();
    }

    std::string out, err;
    std::uint64_t peak_rss = 0;
    std::int64_t start_ns = monotonic_ns(), end_ns = 0;
    {
        std::unique_ptr<Child> model;
        try {
            model = std::make_unique<Child>(executable, model_args(o, authority, records_path), true);
        } catch (const std::exception& e) {
            return fail(e.what());
        }
        Progress progress(records_path, fmt::format("{} {}", o.model, to_string(s.scenario)));
        const std::int64_t deadline_ns = start_ns + static_cast<std::int64_t>(o.deadline_s * 1e9);
        bool out_open = true, err_open = true;
        // One loop waits for everything: output, exit, the deadline, and every 5 ms a sample
        // of the process tree's memory (the peak of a short run lasts milliseconds).
        while (!model->reaped()) {
            std::array<pollfd, 3> p = {pollfd{out_open ? model->stdout_fd() : -1, POLLIN, 0},
                                       pollfd{err_open ? model->stderr_fd() : -1, POLLIN, 0},
                                       pollfd{model->pid_fd(), POLLIN, 0}};
            ::poll(p.data(), p.size(), 5);
            std::int64_t now = monotonic_ns();
            peak_rss = std::max(peak_rss, tree_rss_kib(model->pid()));
            if (p[0].revents) out_open = drain(model->stdout_fd(), out);
            if (p[1].revents) err_open = drain(model->stderr_fd(), err);
            if (p[2].revents & POLLIN) {
                end_ns = monotonic_ns();
                model->reap();
            } else if (interrupted) {
                model->stop(2000);
                fail("interrupted");
            } else if (now > deadline_ns) {
                model->stop(2000);
                fail(fmt::format("deadline: the model was still running after {:g} s (--deadline-s)", o.deadline_s));
            }
            progress.tick(now, start_ns);
        }
        if (end_ns == 0) end_ns = monotonic_ns();
        if (out_open) drain(model->stdout_fd(), out);
        if (err_open) drain(model->stderr_fd(), err);

        const rusage& ru = model->usage();
        result["cpu_user_s"] = seconds(ru.ru_utime);
        result["cpu_sys_s"] = seconds(ru.ru_stime);
        result["ctx_voluntary"] = ru.ru_nvcsw;
        result["ctx_involuntary"] = ru.ru_nivcsw;
        // wait4's ru_maxrss is the largest single process; our sampled sum covers the tree.
        result["peak_rss_kib"] = std::max<std::uint64_t>(peak_rss, static_cast<std::uint64_t>(ru.ru_maxrss));
        result["wall_s"] = static_cast<double>(end_ns - start_ns) / 1e9;

        int status = model->wait_status();
        nlohmann::json inside;
        try {
            inside = nlohmann::json::parse(last_line(out));
        } catch (const std::exception&) {
        }
        if (inside.is_object()) {
            for (const char* key : {"requests", "urls", "outcomes", "bytes", "latency_us"})
                if (inside.contains(key)) result[key] = inside[key];
            result["model_wall_s"] = inside.value("wall_s", 0.0);
            if (!inside.value("failure", nlohmann::json()).is_null()) fail(inside["failure"].get<std::string>());
        }
        if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 && !inside.is_object())) {
            std::string why = fmt::format("rosetta-{} {}", o.model, describe_wait_status(status));
            if (!err.empty()) why += ": " + last_line(err);
            fail(why);
        } else if (result["failure"].is_null()) {
            result["completed"] = true;
        }
        if (!err.empty() && result["completed"].get<bool>()) std::fputs(err.c_str(), stderr);
    }
    double wall = result["wall_s"].get<double>();
    result["throughput_rps"] = wall > 0 ? result["requests"].get<double>() / wall : 0.0;

    if (origin) {
        std::map<std::string, std::uint64_t> counts;
        if (auto body = http_get(authority, "/__stats", 5000)) {
            try {
                nlohmann::json stats = nlohmann::json::parse(*body);
                result["peak_inflight"] = stats.at("peak_inflight");
                for (auto& [path, count] : stats.at("paths").items()) counts[path] = count.get<std::uint64_t>();
            } catch (const std::exception& e) {
                fail(fmt::format("origin /__stats unreadable: {}", e.what()));
            }
        } else {
            fail("origin /__stats did not answer");
        }
        origin->stop(3000);
        try {
            std::vector<Record> records = read_records(records_path);
            Site site(SiteParams::from(s, authority));
            Verdict verdict = verify({site, s.scenario, s.retries, s.max_pages, s.start, records, &counts});
            result["verified"] = verdict.verified;
            if (!verdict.verified) {
                result["mismatches"] = verdict.mismatches;
                result["mismatch_count"] = verdict.mismatch_count;
            }
        } catch (const std::exception& e) {
            result["verified"] = false;
            result["mismatches"] = {e.what()};
        }
    }
    return result;
}

std::string describe_result(const nlohmann::json& r) {
    auto latency = r["latency_us"];
    std::string outcomes;
    for (auto& [name, count] : r["outcomes"].items())
        if (count.get<std::uint64_t>() > 0) outcomes += fmt::format("{}{} {}", outcomes.empty() ? "" : ", ", name, count.get<std::uint64_t>());
    std::string text = fmt::format(
        "{} · {} · {} pages · C={} · latency {} ms · faults {} · keep-alive {}\n", r["model"].get<std::string>(),
        r["scenario"].get<std::string>(), r["pages"].get<int>(), r["concurrency"].get<int>(),
        r["latency_ms"].get<int>(), r["faults"].get<std::string>(), r["keepalive"].get<bool>() ? "on" : "off");
    text += fmt::format("{} in {:.3f} s: {} URLs, {} requests, {:.0f} req/s, {:.1f} MB\n",
                        r["completed"].get<bool>() ? "completed" : "NOT completed", r["wall_s"].get<double>(),
                        r["urls"].get<std::uint64_t>(), r["requests"].get<std::uint64_t>(),
                        r["throughput_rps"].get<double>(), r["bytes"].get<double>() / 1e6);
    if (!r["failure"].is_null()) text += fmt::format("failure: {}\n", r["failure"].get<std::string>());
    text += fmt::format("outcomes: {}\n", outcomes.empty() ? "none" : outcomes);
    text += fmt::format("latency (us): p50 {} · p90 {} · p99 {} · p99.9 {} · max {}\n", latency["p50"].dump(),
                        latency["p90"].dump(), latency["p99"].dump(), latency["p999"].dump(), latency["max"].dump());
    text += fmt::format("cpu: user {:.2f} s, sys {:.2f} s · context switches: {} voluntary, {} involuntary · peak RSS {:.1f} MiB\n",
                        r["cpu_user_s"].get<double>(), r["cpu_sys_s"].get<double>(), r["ctx_voluntary"].dump(),
                        r["ctx_involuntary"].dump(), r["peak_rss_kib"].get<double>() / 1024);
    if (!r["peak_inflight"].is_null()) text += fmt::format("origin: peak in-flight {}\n", r["peak_inflight"].dump());
    if (r["verified"].is_null()) {
        text += "verified: n/a (not our origin; see --records for what was fetched)\n";
    } else if (r["verified"].get<bool>()) {
        text += "verified: yes\n";
    } else {
        text += fmt::format("verified: NO ({} mismatches)\n", r.value("mismatch_count", std::size_t{0}));
        if (r.contains("mismatches"))
            for (auto& m : r["mismatches"]) text += "  - " + m.get<std::string>() + "\n";
    }
    return text;
}

int exit_code_of(const nlohmann::json& result) {
    bool completed = result["completed"].get<bool>();
    bool verified_ok = result["verified"].is_null() || result["verified"].get<bool>();
    return completed && verified_ok ? 0 : 1;
}

}  // namespace rosetta
