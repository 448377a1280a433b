// rosetta: the harness. `rosetta origin` serves the simulated web, `rosetta run` runs one model
// against it and measures it from outside, `rosetta matrix` runs a grid of such runs,
// `rosetta models` lists the models.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "bench/harness/matrix.hpp"
#include "bench/harness/models.hpp"
#include "bench/harness/result.hpp"
#include "bench/harness/run.hpp"
#include "bench/origin/origin.hpp"
#include "scenarios/net.hpp"
#include "scenarios/output.hpp"

namespace {

// A comma-separated list: CLI11's own delimiter drops empty items ("1,,10" would be 1,10), so
// the text is split here and a stray comma refused, as in --faults. `each` checks an item.
template <typename T>
CLI::Option* add_list_option(CLI::App& app, const std::string& name, std::vector<T>& values,
                             const std::string& type, CLI::Validator each,
                             const std::string& help) {
    CLI::Validator list(
        [each](std::string& text) {
            std::string checked;
            for (std::string_view part : rosetta::split(text, ',')) {
                std::string item(part);
                if (item.empty())
                    return fmt::format("'{}' has an empty item (a comma too many)", text);
                if (std::string error = each(item); !error.empty()) return error;
                checked += (checked.empty() ? "" : ",") + item;
            }
            text = checked;  // as each check rewrote its item
            return std::string();
        },
        each.get_description());
    return app
        .add_option_function<std::string>(
            name,
            [&values](const std::string& text) {
                values.clear();
                for (std::string_view item : rosetta::split(text, ',')) {
                    if constexpr (std::is_same_v<T, int>) {
                        values.push_back(std::stoi(std::string(item)));
                    } else {
                        values.push_back(std::string(item));
                    }
                }
            },
            help)
        ->type_name(type + ",...")
        ->transform(list);
}

}  // namespace

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
        ->transform(whole_range(0, 65535))
        ->capture_default_str();
    OriginOptions origin_options;
    origin
        ->add_option("--header-timeout-ms", origin_options.header_timeout_ms,
                     "Close a connection whose started request is not complete this long after")
        ->transform(whole_range(1, 3'600'000))
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
        ->transform(whole_range(1, 64))
        ->capture_default_str();
    run->add_option("--deadline-s", run_options.deadline_s,
                    "Stop the model after this long and name the failure")
        ->check(decimal_range(0.1, 86400.0))
        ->capture_default_str();

    // rosetta matrix: a preset's grid, any axis of which the options replace.
    std::string preset = "quick";
    std::vector<std::string> grid_models, grid_scenarios;
    std::vector<int> grid_concurrency, grid_latency, grid_threads;
    std::optional<int> grid_repeat, grid_pages, grid_pages_per_task;
    Spec grid_base;
    MatrixOptions matrix_options;
    CLI::App* matrix = app.add_subcommand(
        "matrix", "Run every model through a grid of runs, resumable, results as JSON lines");
    matrix
        ->add_option("--preset", preset,
                     "quick (a few minutes), c10k (the ladder), peers (Python beside ours) or full")
        ->check(CLI::IsMember({"quick", "c10k", "peers", "full"}))
        ->capture_default_str();
    add_list_option(*matrix, "--models", grid_models, "TEXT", CLI::IsMember(ids),
                    "Model ids, comma-separated (default: the preset's, of those built)");
    add_list_option(*matrix, "--scenarios", grid_scenarios, "TEXT",
                    CLI::IsMember({"download", "crawl"}), "download,crawl");
    add_list_option(*matrix, "--concurrency", grid_concurrency, "INT", whole_range(1, 1'000'000),
                    "Concurrency levels, e.g. 1,10,100");
    add_list_option(*matrix, "--latency-ms", grid_latency, "INT", whole_range(0, 3'600'000),
                    "Origin think times (ms), e.g. 0,50");
    add_list_option(*matrix, "--threads", grid_threads, "INT", whole_range(1, 256),
                    "Event loops for the models that use them");
    matrix->add_option("--repeat", grid_repeat, "Runs of each cell; the median is kept")
        ->transform(whole_range(1, 100));
    matrix->add_option("--pages", grid_pages, "Pages of each run (at least, with --pages-per-task)")
        ->transform(whole_range(1, 10'000'000));
    matrix
        ->add_option("--pages-per-task", grid_pages_per_task,
                     "Pages a run fetches per unit of concurrency (0: --pages alone)")
        ->transform(whole_range(0, 100'000));
    add_faults_option(*matrix, grid_base.faults);
    matrix->add_option("--timeout-ms", grid_base.timeout_ms, "Per attempt (ms)")
        ->transform(whole_range(1, 3'600'000))
        ->capture_default_str();
    matrix
        ->add_option("--origin", grid_base.origin,
                     "HOST:PORT of a running HTTP/1.1 server (default: start one a run)")
        ->check(host_port_check());
    double matrix_deadline_s = 600;
    matrix
        ->add_option("--deadline-s", matrix_deadline_s,
                     "Stop a run after this long and name the failure")
        ->check(decimal_range(0.1, 86400.0))
        ->capture_default_str();
    matrix
        ->add_option("--out", matrix_options.out,
                     "Results file, appended to and read first to resume (default: "
                     "results/<date>.jsonl)")
        ->type_name("FILE")
        ->check(file_name_check());
    matrix->add_flag("--dry-run", matrix_options.dry_run, "List the cells to run and stop");
    matrix->add_flag("--quiet", matrix_options.quiet,
                     "No line per cell (they are in --out): the progress and the summary");
    bool stop_saturated = false;
    matrix->add_flag("--stop-saturated", stop_saturated,
                     "Stop a model's climb where the origin saw fewer than half of C in flight "
                     "(the c10k preset does)");

    std::optional<std::string> pin;
    for (CLI::App* command : {run, matrix})
        command
            ->add_option("--pin", pin,
                         "none: origin and model run on any CPU; split: the origin on the first "
                         "half of the CPUs, the model on the rest (run: none; matrix: the "
                         "preset's)")
            ->check(CLI::IsMember({"none", "split"}));
    for (CLI::App* command : {run, matrix})
        command
            ->add_option(
                "--memory-guard", run_options.memory_guard,
                "Stop a run whose memory (RSS + kernel) passes this fraction of "
                "MemAvailable at its start (a tree of processes: if MemAvailable fell by as much)")
            ->check(decimal_range(0.00001, 0.95))
            ->capture_default_str();

    CLI::App* models = app.add_subcommand("models", "List the model ids");
    bool built_only = false;
    models->add_flag("--built", built_only,
                     "Only the ids of the models built, one a line (for scripts)");

    // CLI11 takes an unknown first word (or an option before the command) for a stray argument
    // and answers only that "a subcommand" is required: name the word, and the commands.
    if (argc < 2) {
        std::cerr << "rosetta: a command is required: origin, run, matrix or models (see --help)\n";
        return 2;
    }
    if (const std::string first = argv[1]; first != "-h" && first != "--help") {
        bool known = false;
        for (const CLI::App* command : {origin, run, matrix, models})
            known = known || command->get_name() == first;
        if (!known) {
            std::cerr << fmt::format(
                "rosetta: unknown command '{}': origin, run, matrix or models (see --help)\n",
                argv[1]);
            return 2;
        }
    }

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
        if (pin) run_options.pin = *pin;
        try {
            placement_for(run_options.pin);  // split on one CPU: refused before anything starts
        } catch (const std::invalid_argument& e) {
            why = e.what();
        }
        if (!why && !spec.out.empty()) why = check_appendable("--out", spec.out);
        // The harness reads the records back to count and verify them.
        if (!why && !spec.records.empty())
            if ((why = check_regular_if_present("--records", spec.records)))
                *why += " (rosetta run reads the records back)";
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
                std::cout << fmt::format(
                    "{:<22} {}{}{}{}\n", m.id, m.summary, m.loop_per_thread ? " [--threads T]" : "",
                    m.peer ? fmt::format(" [peer, beside {}]", m.beside) : std::string(),
                    built ? ""
                          : (m.peer ? " (not built: no /usr/bin/python3, or a sanitizer build)"
                                    : " (not built yet)"));
            }
        }
        return 0;
    }
    if (*matrix) {
        try {
            std::vector<std::string> built;
            for (const ModelInfo& m : all_models())
                if (::access(model_executable(m.id).c_str(), X_OK) == 0) built.emplace_back(m.id);
            Grid& grid = matrix_options.grid;
            grid = preset_grid(preset, built);
            if (matrix->count("--models")) grid.models = grid_models;
            if (matrix->count("--scenarios")) {
                grid.scenarios.clear();
                for (const std::string& name : grid_scenarios)
                    grid.scenarios.push_back(name == "crawl" ? Scenario::crawl
                                                             : Scenario::download);
            }
            if (matrix->count("--concurrency")) grid.concurrency = grid_concurrency;
            if (matrix->count("--latency-ms")) grid.latency_ms = grid_latency;
            if (matrix->count("--threads")) grid.threads = grid_threads;
            if (grid_repeat) grid.repeat = *grid_repeat;
            if (pin) grid.pin = *pin;
            if (stop_saturated) grid.stop_when_saturated = true;
            placement_for(grid.pin);
            grid.deadline_s = matrix_deadline_s;
            grid.memory_guard = run_options.memory_guard;
            if (grid_pages) grid.base.pages = *grid_pages;
            if (grid_pages_per_task) grid.pages_per_task = *grid_pages_per_task;
            if (matrix->count("--faults")) grid.base.faults = grid_base.faults;
            grid.base.timeout_ms = grid_base.timeout_ms;
            grid.base.origin = grid_base.origin;
            for (const char* option :
                 {"--models", "--scenarios", "--concurrency", "--latency-ms", "--threads",
                  "--pages", "--pages-per-task", "--faults", "--timeout-ms", "--origin", "--pin"})
                if (matrix->count(option)) grid.preset = preset + ", changed";
            for (const std::string& model : grid.models)
                if (::access(model_executable(model).c_str(), X_OK) != 0)
                    throw std::invalid_argument(
                        fmt::format("--models: {} is not built in this tree", model));
            if (matrix_options.out.empty()) {
                const std::chrono::year_month_day today{
                    std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
                matrix_options.out = fmt::format(
                    "results/{}-{:02}-{:02}.jsonl", static_cast<int>(today.year()),
                    static_cast<unsigned>(today.month()), static_cast<unsigned>(today.day()));
            }
            cells_of(grid);  // a bad grid is an error before anything runs or is written
            if (!matrix->count("--out")) std::filesystem::create_directories("results");
            // The results file is read back first, to resume.
            if (auto why = check_regular_if_present("--out", matrix_options.out))
                throw std::invalid_argument(*why + " (rosetta matrix reads it back to resume)");
            if (auto why = check_appendable("--out", matrix_options.out))
                throw std::invalid_argument(*why);
            std::signal(SIGPIPE, SIG_IGN);
            raise_fd_limit();
            return run_matrix(matrix_options);
        } catch (const std::invalid_argument& e) {  // the grid or --out: before anything ran
            std::cerr << "rosetta matrix: " << e.what() << "\n";
            return 2;
        } catch (const std::filesystem::filesystem_error& e) {
            std::cerr << "rosetta matrix: results/: " << e.code().message() << "\n";
            return 2;
        }
    }
    if (*origin) {
        try {
            return run_origin_command(origin_spec, origin_options);
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
