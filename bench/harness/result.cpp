#include "bench/harness/result.hpp"

#include <fmt/format.h>
#include <sys/utsname.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench/harness/models.hpp"
#include "bench/harness/process.hpp"
#include "scenarios/lanes.hpp"
#include "scenarios/records.hpp"

namespace rosetta {

namespace {

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
    if (!run("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null").empty())
        sha += "-dirty";
    return sha;
#else
    return "unknown";
#endif
}

// Why a run on our origin has no verdict, in one line; empty when it has one.
std::string unverified_because(const nlohmann::json& r) {
    if (!r["verified"].is_null()) return {};
    if (!r["origin"].is_null()) return "n/a (not our origin; see --records for what was fetched)";
    const std::string failure = r["failure"].is_string() ? r["failure"].get<std::string>() : "";
    if (failure.starts_with("interrupted") || failure.starts_with("deadline"))
        return "not checked: the run was stopped before it finished";
    return "not checked: the run did not complete";
}

}  // namespace

nlohmann::json run_fields(const RunOptions& o) {
    const Spec& s = o.spec;
    const ModelInfo* info = find_model(o.model);
    return {
        {"model", o.model},
        {"scenario", to_string(s.scenario)},
        {"concurrency", info && info->one_at_a_time ? 1 : s.concurrency},
        // The loops a run really has: one, or --threads but no more than C (scenarios/lanes.hpp).
        {"threads", info && !info->loop_per_thread ? 1 : lanes_for(s.threads, s.concurrency)},
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
        {"start", s.start},
        {"origin", s.origin.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.origin)},
        {"pin", o.pin},
    };
}

nlohmann::json result_skeleton(const RunOptions& o) {
    nlohmann::json result = run_fields(o);
    result.update(nlohmann::json{
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
        {"urls_per_s", 0.0},
        {"latency_us", LatencyHistogram{}.summary_json()},
        {"peak_rss_kib", 0},
        // The kernel's memory, system-wide, grown since the model started (run.cpp): thread
        // stacks, unreclaimable slab, and the TCP sockets' buffers (which may be slab too).
        {"kernel_kib", {{"stack", 0}, {"slab", 0}, {"sockets", 0}}},
        {"cpu_user_s", 0.0},
        {"cpu_sys_s", 0.0},
        {"ctx_voluntary", 0},
        {"ctx_involuntary", 0},
        {"peak_inflight", nullptr},
        {"connections", nullptr},
        // The CPUs each side was pinned to (--pin split), null where not pinned.
        {"placement", {{"origin_cpus", nullptr}, {"model_cpus", nullptr}}},
        {"machine", machine()},
        {"git", git_revision()},
    });
    // A peer (Python, bench/peers/python/) names the model of ours it stands beside.
    if (const ModelInfo* info = find_model(o.model); info && info->peer)
        result["peer_of"] = std::string(info->beside);
    return result;
}

std::string describe_result(const nlohmann::json& r) {
    auto latency = r["latency_us"];
    std::string outcomes;
    for (auto& [name, count] : r["outcomes"].items())
        if (count.get<std::uint64_t>() > 0)
            outcomes += fmt::format("{}{} {}", outcomes.empty() ? "" : ", ", name,
                                    count.get<std::uint64_t>());
    std::string text =
        fmt::format("{} · {} · {} pages · C={} · latency {} ms · faults {} · keep-alive {}\n",
                    r["model"].get<std::string>(), r["scenario"].get<std::string>(),
                    r["pages"].get<int>(), r["concurrency"].get<int>(), r["latency_ms"].get<int>(),
                    r["faults"].get<std::string>(), r["keepalive"].get<bool>() ? "on" : "off");
    text += fmt::format(
        "{} in {:.3f} s: {} URLs, {} requests, {:.0f} req/s, {:.0f} URLs/s, {:.1f} MB\n",
        r["completed"].get<bool>() ? "completed" : "NOT completed", r["wall_s"].get<double>(),
        r["urls"].get<std::uint64_t>(), r["requests"].get<std::uint64_t>(),
        r["throughput_rps"].get<double>(), r["urls_per_s"].get<double>(),
        r["bytes"].get<double>() / 1e6);
    if (!r["failure"].is_null())
        text += fmt::format("failure: {}\n", r["failure"].get<std::string>());
    text += fmt::format("outcomes: {}\n", outcomes.empty() ? "none" : outcomes);
    text += fmt::format("latency (us): p50 {} · p90 {} · p99 {} · p99.9 {} · max {}\n",
                        latency["p50"].dump(), latency["p90"].dump(), latency["p99"].dump(),
                        latency["p999"].dump(), latency["max"].dump());
    text += fmt::format(
        "cpu: user {:.2f} s, sys {:.2f} s · context switches: {} voluntary, {} involuntary · peak "
        "RSS {:.1f} MiB\n",
        r["cpu_user_s"].get<double>(), r["cpu_sys_s"].get<double>(), r["ctx_voluntary"].dump(),
        r["ctx_involuntary"].dump(), r["peak_rss_kib"].get<double>() / 1024);
    if (r.contains("placement") && r["placement"].is_object()) {
        auto cpus = [](const nlohmann::json& list) {
            return list.is_array() ? describe_cpus(list.get<std::vector<int>>())
                                   : std::string("any CPU");
        };
        const nlohmann::json& p = r["placement"];
        if (!p["origin_cpus"].is_null() || !p["model_cpus"].is_null())
            text += fmt::format("placement (--pin {}): origin on {}, model on {}\n",
                                r.value("pin", "?"), cpus(p["origin_cpus"]), cpus(p["model_cpus"]));
    }
    if (!r["peak_inflight"].is_null())
        text += fmt::format("origin: peak in-flight {} · connections accepted {}\n",
                            r["peak_inflight"].dump(), r["connections"].dump());
    if (std::string why = unverified_because(r); !why.empty()) {
        text += "verified: " + why + "\n";
    } else if (r["verified"].get<bool>()) {
        text += "verified: yes\n";
    } else {
        text += fmt::format("verified: NO ({} mismatches)\n",
                            r.value("mismatch_count", std::size_t{0}));
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
