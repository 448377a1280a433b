// The main of every model executable (rosetta-<id>): parse the spec, run the model's download
// or crawl, stream the records, print the model-side result. Compiled once per model with
// ROSETTA_MODEL_ID set; the model itself only provides download() and crawl().
#include "scenarios/model.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#ifndef ROSETTA_MODEL_ID
#error "ROSETTA_MODEL_ID must name the model"
#endif

int main(int argc, char** argv) {
    using namespace rosetta;
    Spec spec;
    CLI::App app{fmt::format("Concurrency Rosetta model '{}': runs the download or crawl scenario "
                             "against an origin and prints the model-side result. Usually started "
                             "by `rosetta run`.",
                             ROSETTA_MODEL_ID),
                 "rosetta-" ROSETTA_MODEL_ID};
    add_spec_options(app, spec);
    parse_command_line(app, argc, argv, &spec);
    if (spec.origin.empty()) {
        std::cerr << app.get_name() << ": --origin: required (rosetta run starts an origin for you)\n";
        return 2;
    }
    // A peer that resets while we write must become an outcome, not a dead process.
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    nlohmann::json result = {{"model", ROSETTA_MODEL_ID}, {"scenario", to_string(spec.scenario)}};
    Failure failure;
    std::optional<Recorder> recorder;
    double wall_s = 0;
    try {
        Endpoint origin = resolve_endpoint(spec.origin);
        recorder.emplace(spec.records);
        ModelRun run{spec, origin, *recorder, RetryPolicy{spec.retries}};
        std::int64_t t0 = monotonic_ns();
        failure = spec.scenario == Scenario::download ? download(run) : crawl(run);
        wall_s = static_cast<double>(monotonic_ns() - t0) / 1e9;
        if (!recorder->close() && !failure) failure = recorder->write_error();
    } catch (const std::exception& e) {
        failure = e.what();
    }

    RunTotals totals = recorder ? recorder->totals() : RunTotals{};
    result["completed"] = !failure.has_value();
    result["failure"] = failure ? nlohmann::json(*failure) : nlohmann::json(nullptr);
    result["wall_s"] = wall_s;
    result["requests"] = totals.requests;
    result["urls"] = totals.urls;
    result["outcomes"] = totals.outcomes_json();
    result["bytes"] = totals.bytes;
    result["throughput_rps"] = wall_s > 0 ? static_cast<double>(totals.urls) / wall_s : 0.0;
    result["latency_us"] = totals.latency_us.summary_json();

    if (!spec.out.empty()) {
        std::ofstream out(spec.out, std::ios::app);
        out << result.dump() << '\n';
    }
    if (spec.json) {
        std::cout << result.dump() << std::endl;
    } else {
        std::cout << fmt::format("{} {}: {} URLs, {} requests in {:.3f} s ({:.0f} URLs/s){}\n", ROSETTA_MODEL_ID,
                                 to_string(spec.scenario), totals.urls, totals.requests, wall_s,
                                 result["throughput_rps"].get<double>(),
                                 failure ? " - failed: " + *failure : std::string());
        std::cout << "outcomes: " << result["outcomes"].dump() << "\nlatency_us: " << result["latency_us"].dump()
                  << std::endl;
    }
    return failure ? 1 : 0;
}
