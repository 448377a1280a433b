// rosetta: the harness. `rosetta origin` serves the simulated web, `rosetta run` runs one model
// against it and measures it from outside, `rosetta models` lists the models.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "bench/harness/models.hpp"
#include "bench/harness/result.hpp"
#include "bench/harness/run.hpp"
#include "bench/origin/origin.hpp"
#include "scenarios/net.hpp"
#include "scenarios/output.hpp"

int main(int argc, char** argv) {
    using namespace rosetta;
    CLI::App app{
        "Concurrency Rosetta: the same downloader and crawler in every concurrency model, "
        "measured against a local origin.",
        "rosetta"};
    app.require_subcommand(1);

    Spec origin_spec;
    CLI::App* origin = app.add_subcommand(
        "origin", "Run the origin server in the foreground (SIGINT/SIGTERM stop it)");
    add_site_options(*origin, origin_spec);
    origin->add_option("--port", origin_spec.port, "Port on 127.0.0.1 (0: an ephemeral one)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();

    RunOptions run_options;
    CLI::App* run = app.add_subcommand(
        "run", "Run one model on one scenario, measure it from outside, verify it");
    std::vector<std::string> ids;
    for (const ModelInfo& m : all_models()) ids.emplace_back(m.id);
    run->add_option("--model", run_options.model, "Model id (see `rosetta models`)")
        ->check(CLI::IsMember(ids))
        ->required();
    add_spec_options(*run, run_options.spec);
    run->add_option("--origin-threads", run_options.origin_threads,
                    "Event loops of the origin the harness starts")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    run->add_option("--deadline-s", run_options.deadline_s,
                    "Stop the model after this long and name the failure")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();

    CLI::App* models = app.add_subcommand("models", "List the model ids");
    bool built_only = false;
    models->add_flag("--built", built_only,
                     "Only the ids of the models built, one a line (for scripts)");

    // Spec validation applies to whichever subcommand carries a spec; parse first, then check,
    // and the files a run writes are checked before anything starts.
    parse_command_line(app, argc, argv, nullptr);
    try {
        if (*run) validate(run_options.spec);
        if (*origin) validate(origin_spec);
    } catch (const CLI::Error& e) {
        std::cerr << "rosetta: " << e.what() << " (see --help)\n";
        return 2;
    }
    const Spec& spec = run_options.spec;
    if (*run) {
        std::optional<std::string> why;
        if (!spec.out.empty()) why = check_appendable("--out", spec.out);
        // The harness reads the records back to count and verify them: a device or a pipe
        // would give back something else, or never end (/dev/full reads as endless zeros).
        std::error_code ec;
        if (!why && !spec.records.empty() && std::filesystem::exists(spec.records, ec) &&
            !std::filesystem::is_regular_file(spec.records, ec))
            why =
                fmt::format("--records {}: not a regular file (rosetta run reads the records back)",
                            spec.records);
        if (!why && !spec.records.empty()) why = check_appendable("--records", spec.records);
        if (why) {
            std::cerr << "rosetta: " << *why << "\n";
            return 2;
        }
    }

    if (*models) {
        for (const ModelInfo& m : all_models()) {
            bool built = ::access(model_executable(m.id).c_str(), X_OK) == 0;
            if (built_only) {
                if (built) std::cout << m.id << "\n";
            } else {
                std::cout << fmt::format("{:<22} {}{}{}\n", m.id, m.summary,
                                         m.loop_per_thread ? " [--threads T]" : "",
                                         built ? "" : " (not built yet)");
            }
        }
        return 0;
    }
    if (*origin) {
        try {
            return run_origin_command(origin_spec);
        } catch (const std::exception& e) {
            std::cerr << "rosetta origin: " << e.what() << "\n";
            return 1;
        }
    }
    // A terminal that closes must not kill the harness before it has stopped its children and
    // kept what they did: SIGHUP, like SIGINT, stops the run (see run_model). Output to that
    // closed terminal then fails quietly instead of raising SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    nlohmann::json result = run_model(run_options);
    if (!spec.out.empty()) {
        if (auto why = append_to("--out", spec.out, result.dump() + "\n")) {
            result["completed"] = false;
            if (result["failure"].is_null()) result["failure"] = *why;
            std::cerr << "rosetta: " << *why << "\n";
        }
    }
    if (spec.json) {
        std::cout << result.dump() << std::endl;
    } else {
        std::cout << describe_result(result) << std::flush;
    }
    return exit_code_of(result);
}
