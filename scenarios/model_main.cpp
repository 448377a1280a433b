// The main of every model executable (rosetta-<id>): parse the spec, run the model's download
// or crawl, stream the records, print the model-side result. Compiled once for every model
// (its options and JSON take as long to compile as a small model); each executable adds only
// its id, a one-line file models/CMakeLists.txt generates. The model itself only provides
// download() and crawl().
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "scenarios/census.hpp"
#include "scenarios/model.hpp"
#include "scenarios/output.hpp"

// The model's id ("blocking"), defined in the file generated for each model executable.
extern const char rosetta_model_id[];

namespace {

[[noreturn]] void usage_error(const std::string& program, const std::string& what) {
    std::cerr << program << ": " << what << "\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rosetta;
    const std::string id = rosetta_model_id;
    Spec spec;
    CLI::App app{fmt::format("Concurrency Rosetta model '{}': runs the download or crawl scenario "
                             "against an origin and prints the model-side result. Usually started "
                             "by `rosetta run`.",
                             id),
                 "rosetta-" + id};
    add_spec_options(app, spec);
    // Only rosetta run starts an origin: here it is required (checked below, after the parse,
    // with a line that says so).
    app.get_option("--origin")->description("HOST:PORT of a running HTTP/1.1 server (required)");
    parse_command_line(app, argc, argv, &spec);
    const std::string program = app.get_name();
    if (spec.origin.empty())
        usage_error(program, "--origin: required (rosetta run starts an origin for you)");
    if (!spec.out.empty())
        if (auto why = check_appendable("--out", spec.out)) usage_error(program, *why);
    // A peer that resets while we write must become an outcome, not a dead process.
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    std::optional<Recorder> recorder;
    try {
        recorder.emplace(spec.records);
    } catch (const std::exception& e) {
        usage_error(program, e.what());
    }

    Failure failure;
    double wall_s = 0;
    try {
        Endpoint origin = resolve_endpoint(spec.origin);
        ModelRun run(spec, origin, *recorder);
        // Whatever the model starts, it must join, reap and close before it returns. A thread
        // started and joined first puts in the baseline what a runtime starts with the first
        // thread and keeps (ThreadSanitizer's background thread).
        std::thread([] {}).join();
        const Census before = Census::of_this_process();
        std::int64_t t0 = monotonic_ns();
        try {
            failure = spec.scenario == Scenario::download ? download(run) : crawl(run);
        } catch (const std::exception& e) {  // LimitReached, from a model that lets it rise
            failure = e.what();
        }
        wall_s = static_cast<double>(monotonic_ns() - t0) / 1e9;
        if (std::string leak = Census::settled_since(before).left_behind_since(before);
            !leak.empty())
            failure = failure ? *failure + "; " + leak : leak;
    } catch (const std::exception& e) {
        failure = e.what();
    }
    if (!recorder->close() && !failure) failure = recorder->write_error();

    RunTotals totals = recorder->totals();
    Rates rates = rates_of(totals, wall_s);
    nlohmann::json result = {
        {"model", id},
        {"scenario", to_string(spec.scenario)},
        {"completed", !failure},
        {"failure", failure ? nlohmann::json(*failure) : nlohmann::json(nullptr)},
        {"wall_s", wall_s},
        {"requests", totals.requests},
        {"urls", totals.urls},
        {"outcomes", totals.outcomes_json()},
        {"bytes", totals.bytes},
        {"throughput_rps", rates.throughput_rps},
        {"urls_per_s", rates.urls_per_s},
        {"latency_us", totals.latency_us.summary_json()}};
    if (!spec.out.empty()) {
        if (auto why = append_to("--out", spec.out, result.dump() + "\n")) {
            result["completed"] = false;
            if (result["failure"].is_null()) result["failure"] = *why;
            std::cerr << program << ": " << *why << "\n";
        }
    }
    if (spec.json) {
        std::cout << result.dump() << std::endl;
    } else {
        std::cout << fmt::format(
            "{} {}: {} URLs, {} requests in {:.3f} s ({:.0f} req/s, {:.0f} URLs/s){}\n", id,
            to_string(spec.scenario), totals.urls, totals.requests, wall_s, rates.throughput_rps,
            rates.urls_per_s,
            result["failure"].is_null() ? ""
                                        : " - failed: " + result["failure"].get<std::string>());
        std::cout << "outcomes: " << result["outcomes"].dump()
                  << "\nlatency_us: " << result["latency_us"].dump() << std::endl;
    }
    return result["completed"].get<bool>() ? 0 : 1;
}
