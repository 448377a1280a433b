// The harness's contract: exit codes, the result's JSON schema, and failures named in words.
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support.hpp"

using namespace rosetta;
using rosetta::test::run_binary;

namespace {

int count_lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
}

// A /proc file's text, or "" once the process is gone. Read with read(2): a process that exits
// between the open and the read makes the read fail with ESRCH, which std::istreambuf_iterator
// would throw out of the test.
std::string proc_file(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::string text;
    char buffer[4096];
    for (ssize_t n; fd && (n = ::read(fd.get(), buffer, sizeof buffer)) > 0;)
        text.append(buffer, static_cast<std::size_t>(n));
    return text;
}

// The processes pid forked from its main thread.
std::vector<pid_t> children_of(pid_t pid) {
    std::istringstream in(proc_file(fmt::format("/proc/{}/task/{}/children", pid, pid)));
    std::vector<pid_t> children;
    for (pid_t child = 0; in >> child;) children.push_back(child);
    return children;
}

std::string command_line(pid_t pid) {
    std::string text = proc_file(fmt::format("/proc/{}/cmdline", pid));
    for (char& c : text)
        if (c == '\0') c = ' ';
    return text;
}

// Gone, or a zombie waiting for whoever adopted it: either way no longer running.
bool has_ended(pid_t pid) {
    std::string stat = proc_file(fmt::format("/proc/{}/stat", pid));
    if (stat.empty()) return true;
    auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// A `rosetta run` that lasts (every request stalls, the timeout is long) with its origin and
// model both running: the three pids, or a failed assertion.
struct LongRun {
    std::unique_ptr<Child> harness;
    pid_t origin = 0, model = 0;
};

void start_long_run(LongRun& run, const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {"run",      "--model",      "blocking", "--scenario",
                                     "download", "--pages",      "20",       "--faults",
                                     "stall=1",  "--timeout-ms", "60000",    "--json"};
    args.insert(args.end(), more.begin(), more.end());
    run.harness = std::make_unique<Child>(test::bin_dir + "/rosetta", args, true);
    for (int i = 0; i < 200 && !(run.origin && run.model); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        for (pid_t child : children_of(run.harness->pid())) {
            std::string command = command_line(child);
            if (command.find(" origin ") != std::string::npos) run.origin = child;
            if (command.find("rosetta-blocking") != std::string::npos) run.model = child;
        }
    }
    ASSERT_NE(run.origin, 0) << "the origin never started";
    ASSERT_NE(run.model, 0) << "the model never started";
}

void expect_ended_within_5_s(pid_t pid, const char* what) {
    for (int i = 0; i < 100 && !has_ended(pid); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(has_ended(pid)) << what << " (pid " << pid << ") outlived the harness";
    if (!has_ended(pid)) ::kill(pid, SIGKILL);
}

}  // namespace

TEST(Harness, exits_2_with_one_line_for_a_bad_option) {
    for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
             {"run", "--model", "blocking", "--scenario", "download", "--concurrency", "zero"},
             {"run", "--model", "no-such-model", "--scenario", "download"},
             {"run", "--model", "blocking", "--scenario", "download", "--faults", "reset=7"},
             {"run", "--model", "blocking"},
             {"run", "--model", "blocking", "--scenario", "download", "--bogus"},
             {"origin", "--pages", "-1"},
             {}}) {
        test::Ran ran = run_binary("rosetta", args, 10);
        EXPECT_EQ(ran.exit_code, 2) << ran.err;
        EXPECT_EQ(count_lines(ran.err), 1) << ran.err;
        EXPECT_EQ(ran.err.find("terminate"), std::string::npos);
    }
    test::Ran ran =
        run_binary("rosetta-blocking", {"--scenario", "download", "--concurrency", "-3"}, 10);
    EXPECT_EQ(ran.exit_code, 2);
    EXPECT_NE(ran.err.find("--concurrency"), std::string::npos) << ran.err;
}

TEST(Harness, answers_help_and_lists_the_models) {
    EXPECT_EQ(run_binary("rosetta", {"--help"}, 10).exit_code, 0);
    EXPECT_EQ(run_binary("rosetta", {"run", "--help"}, 10).exit_code, 0);
    EXPECT_EQ(run_binary("rosetta-blocking", {"--help"}, 10).exit_code, 0);
    test::Ran ran = run_binary("rosetta", {"models"}, 10);
    EXPECT_EQ(ran.exit_code, 0);
    ASSERT_EQ(count_lines(ran.out), static_cast<int>(std::size(model_list)));
    std::string built;
    for (const ModelInfo& model : model_list)
        if (model.built) built += std::string(model.id) + "\n";
    EXPECT_EQ(run_binary("rosetta", {"models", "--built"}, 10).out, built);
    for (const ModelInfo& model : model_list) {
        EXPECT_NE(ran.out.find(std::string(model.id) + " "), std::string::npos) << model.id;
        EXPECT_NE(ran.out.find(std::string(model.summary)), std::string::npos) << model.id;
        if (model.built) {
            test::Ran help = run_binary("rosetta-" + std::string(model.id), {"--help"}, 10);
            EXPECT_EQ(help.exit_code, 0) << model.id << " is in the list as built";
        }
    }
}

TEST(Harness, prints_a_result_with_every_field_of_the_schema) {
    test::ScratchDir dir("harness-test");
    std::string out = dir / "out.jsonl", records = dir / "records.jsonl";
    test::Ran ran =
        run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "download", "--pages",
                               "20", "--json", "--out", out, "--records", records});
    ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
    nlohmann::json r = ran.json();
    for (const char* key : {"model", "scenario", "faults", "git"})
        EXPECT_TRUE(r[key].is_string()) << key;
    for (const char* key :
         {"concurrency", "threads", "pages", "latency_ms", "seed", "requests", "urls", "bytes",
          "peak_rss_kib", "ctx_voluntary", "ctx_involuntary", "peak_inflight"})
        EXPECT_TRUE(r[key].is_number_integer()) << key;
    for (const char* key : {"wall_s", "throughput_rps", "cpu_user_s", "cpu_sys_s"})
        EXPECT_TRUE(r[key].is_number()) << key;
    for (const char* key : {"keepalive", "completed", "verified"})
        EXPECT_TRUE(r[key].is_boolean()) << key;
    EXPECT_TRUE(r["failure"].is_null());
    for (const char* key :
         {"ok", "http_error", "timeout", "reset", "truncated", "malformed", "connect_error"})
        EXPECT_TRUE(r["outcomes"][key].is_number_integer()) << key;
    for (const char* key : {"p50", "p90", "p99", "p999", "max"})
        EXPECT_TRUE(r["latency_us"][key].is_number_integer()) << key;
    for (const char* key : {"cpus", "kernel", "compiler"})
        EXPECT_TRUE(r["machine"].contains(key)) << key;
    for (const char* key : {"stack", "slab", "sockets"})
        EXPECT_TRUE(r["kernel_kib"][key].is_number_integer()) << key;
    EXPECT_EQ(r["concurrency"], 1) << "blocking runs one request at a time";
    EXPECT_GT(r["peak_rss_kib"].get<int>(), 100);
    EXPECT_GT(r["latency_us"]["max"].get<int>(), 0);
    EXPECT_LE(r["latency_us"]["p50"].get<int>(), r["latency_us"]["p99"].get<int>());

    std::ifstream out_file(out);
    std::string line;
    ASSERT_TRUE(std::getline(out_file, line));
    EXPECT_EQ(nlohmann::json::parse(line)["urls"], 20);
    std::ifstream records_file(records);
    int n = 0;
    while (std::getline(records_file, line)) {
        auto record = nlohmann::json::parse(line);
        for (const char* key :
             {"url", "attempt", "outcome", "status", "bytes", "start_ns", "end_ns", "lane"})
            EXPECT_TRUE(record.contains(key)) << key;
        ++n;
    }
    EXPECT_EQ(n, 20);
}

// A run that would endanger the machine is stopped and says so: a guard of 0.001% of
// MemAvailable (well under a MiB on any machine that runs these tests) is passed at once.
TEST(Harness, stops_a_run_past_its_memory_guard_and_names_it) {
    test::Ran ran =
        run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "download", "--pages",
                               "100", "--latency-ms", "20", "--memory-guard", "0.00001", "--json"});
    EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;
    nlohmann::json r = ran.json();
    EXPECT_EQ(r["completed"], false);
    ASSERT_TRUE(r["failure"].is_string()) << r.dump(2);
    EXPECT_TRUE(r["failure"].get<std::string>().starts_with("memory guard")) << r["failure"];
    EXPECT_LT(ran.seconds, 1.5) << "stopped at once, not after 100 × 20 ms";
}

TEST(Harness, names_the_failure_when_the_origin_is_unreachable) {
    std::string origin = fmt::format("127.0.0.1:{}", test::closed_port());
    test::Ran ran = run_binary(
        "rosetta",
        {"run", "--model", "blocking", "--scenario", "crawl", "--origin", origin, "--json"}, 20);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_FALSE(r["completed"].get<bool>());
    std::string failure = r["failure"].get<std::string>();
    EXPECT_NE(failure.find("unreachable"), std::string::npos) << failure;
    EXPECT_NE(failure.find("ECONNREFUSED"), std::string::npos) << failure;
    EXPECT_TRUE(r["verified"].is_null());
}

// A peer whose Python library is missing is skipped with its one line, not a crash: a module
// of that name that cannot be imported, first on the path, stands for the missing package.
TEST(Harness, reports_a_peer_whose_package_is_missing_as_skipped_with_its_one_line) {
    if (!test::model_info("py-asyncio").built) GTEST_SKIP() << "the peers are not built here";
    test::ScratchDir fake("no-aiohttp");
    std::ofstream(fake / "aiohttp.py") << "raise ImportError('no aiohttp', name='aiohttp')\n";
    test::ScopedEnv path("PYTHONPATH", fake.path().string());
    test::Ran ran = run_binary(
        "rosetta",
        {"run", "--model", "py-asyncio", "--scenario", "download", "--pages", "5", "--json"}, 30);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_EQ(r["skipped"], true) << r.dump(2);
    EXPECT_EQ(r["failure"],
              "py-asyncio: skipped: python3-aiohttp is not installed (apt-get install "
              "python3-aiohttp)");
    EXPECT_EQ(r["peer_of"], "stackless-coroutines");
}

// Nothing of a run outlives it: a model that exits leaving a process of its own running (here
// a stand-in executable that starts a sleep and reports success) fails with that named, and
// the process is gone after.
TEST(Harness, fails_a_run_that_leaves_a_process_running_and_kills_it) {
    test::ScratchDir bin("leaky-model");
    const std::string model = bin / "rosetta-blocking";
    std::ofstream(model) << "#!/bin/sh\n"
                            "sleep 300 &\n"
                            "echo $! > '"
                         << (bin / "survivor.pid")
                         << "'\n"
                            "echo '{\"failure\":null,\"wall_s\":0.01}'\n";
    std::filesystem::permissions(model, std::filesystem::perms::owner_all);
    test::ScopedEnv bin_dir("ROSETTA_BIN_DIR", bin.path().string());
    test::Ran ran = run_binary(
        "rosetta",
        {"run", "--model", "blocking", "--scenario", "download", "--pages", "5", "--json"}, 20);
    EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;
    nlohmann::json r = ran.json();
    EXPECT_FALSE(r["completed"].get<bool>());
    EXPECT_EQ(r["failure"],
              "left behind: 1 process of its group still running after it exited (killed)");
    pid_t survivor = 0;
    std::ifstream(bin / "survivor.pid") >> survivor;
    ASSERT_GT(survivor, 0);
    EXPECT_TRUE(has_ended(survivor)) << "the sleep it left was killed";
}

TEST(Harness, names_the_failure_when_the_model_cannot_start) {
    test::ScratchDir empty("no-models");
    test::ScopedEnv bin_dir("ROSETTA_BIN_DIR", empty.path().string());
    test::Ran ran = run_binary(
        "rosetta",
        {"run", "--model", "blocking", "--scenario", "download", "--pages", "5", "--json"}, 20);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_FALSE(r["completed"].get<bool>());
    EXPECT_NE(r["failure"].get<std::string>().find("not built"), std::string::npos) << r["failure"];
}

TEST(Harness, names_the_failure_when_the_model_overruns_its_deadline) {
    // Every request stalls and the timeout is long: the deadline must stop the model.
    test::Ran ran =
        run_binary("rosetta",
                   {"run", "--model", "blocking", "--scenario", "download", "--pages", "5",
                    "--faults", "stall=1", "--timeout-ms", "60000", "--deadline-s", "1", "--json"},
                   30);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_NE(r["failure"].get<std::string>().find("deadline"), std::string::npos) << r["failure"];
    EXPECT_LT(ran.seconds, 10);
    // A stopped model is still reaped with wait4: what it used is measured, not lost.
    EXPECT_GT(r["ctx_voluntary"].get<std::int64_t>(), 0) << r.dump();
}

TEST(Harness,
     counts_what_the_records_of_a_stopped_run_hold_and_says_in_one_line_why_it_is_not_verified) {
    // 100 ms a page and a 1 s deadline: the blocking model gets through about nine of fifty.
    test::ScratchDir dir("stopped-run");
    std::string records = dir / "records.jsonl";
    std::vector<std::string> args = {
        "run",          "--model", "blocking",     "--scenario", "download",  "--pages", "50",
        "--latency-ms", "100",     "--deadline-s", "1",          "--records", records};
    test::Ran human = run_binary("rosetta", args, 30);
    std::size_t lines = read_records(records).size();
    args.push_back("--json");
    test::Ran machine = run_binary("rosetta", args, 30);
    nlohmann::json r = machine.json();
    std::size_t json_lines = read_records(records).size();

    EXPECT_EQ(human.exit_code, 1);
    EXPECT_EQ(machine.exit_code, 1);
    ASSERT_GE(json_lines, 3u);
    EXPECT_EQ(r["requests"].get<std::size_t>(), json_lines)
        << "the summary counts what the records hold";
    EXPECT_EQ(r["urls"].get<std::size_t>(), json_lines);
    EXPECT_EQ(r["outcomes"]["ok"].get<std::size_t>(), json_lines);
    EXPECT_GT(r["throughput_rps"].get<double>(), 0);
    EXPECT_TRUE(r["verified"].is_null())
        << "a stopped run has no verdict, not a list of pages it never reached";
    EXPECT_FALSE(r.contains("mismatches"));

    EXPECT_NE(human.out.find(fmt::format("{} URLs, {} requests", lines, lines)), std::string::npos)
        << human.out;
    EXPECT_NE(human.out.find("verified: not checked: the run was stopped before it finished\n"),
              std::string::npos)
        << human.out;
    EXPECT_EQ(human.out.find("never fetched"), std::string::npos) << human.out;
}

TEST(Harness, verifies_a_crawl_from_any_spelling_of_its_start_and_refuses_a_start_on_another_host) {
    for (const char* start : {"/p/../p/3", "/p/3#f", "/p/%33"}) {
        test::Ran ran = run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "crawl",
                                               "--pages", "60", "--start", start, "--json"});
        EXPECT_EQ(ran.exit_code, 0) << start << ": " << ran.out << ran.err;
        nlohmann::json r = ran.json();
        EXPECT_EQ(r["verified"], true) << start << ": " << r.dump(2);
        EXPECT_EQ(r["start"], "/p/3");
    }
    test::Ran ran = run_binary(
        "rosetta", {"run", "--model", "blocking", "--scenario", "crawl", "--start", "//other/p/1"},
        10);
    EXPECT_EQ(ran.exit_code, 2);
    EXPECT_EQ(count_lines(ran.err), 1) << ran.err;
    EXPECT_NE(ran.err.find("--start"), std::string::npos) << ran.err;
}

TEST(Harness, takes_its_origin_and_model_with_it_when_killed_outright) {
    LongRun run;
    ASSERT_NO_FATAL_FAILURE(start_long_run(run));
    ::kill(run.harness->pid(), SIGKILL);
    run.harness->reap();
    expect_ended_within_5_s(run.model, "the model");
    expect_ended_within_5_s(run.origin, "the origin");
}

TEST(Harness, stops_its_origin_and_model_and_reports_the_run_when_its_terminal_hangs_up) {
    LongRun run;
    ASSERT_NO_FATAL_FAILURE(start_long_run(run));
    ::kill(run.harness->pid(), SIGHUP);
    std::string out;
    for (int i = 0; i < 200 && !has_ended(run.harness->pid()); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        drain(run.harness->stdout_fd(), out);
    }
    ASSERT_TRUE(has_ended(run.harness->pid())) << "SIGHUP did not end the run";
    drain(run.harness->stdout_fd(), out);
    run.harness->reap();
    EXPECT_TRUE(WIFEXITED(run.harness->wait_status()));
    EXPECT_EQ(WEXITSTATUS(run.harness->wait_status()), 1);
    EXPECT_TRUE(has_ended(run.model));
    EXPECT_TRUE(has_ended(run.origin));
    nlohmann::json r = nlohmann::json::parse(out);
    EXPECT_EQ(r["failure"], "interrupted (SIGHUP)");
}

// Seen from outside: the CPUs the kernel lets each process of the run use.
TEST(Harness, pins_the_origin_and_the_model_to_separate_cpus_when_asked_and_says_so) {
    const std::vector<int> cpus = allowed_cpus();
    if (cpus.size() < 2) GTEST_SKIP() << "one CPU: nothing to split";
    LongRun run;
    ASSERT_NO_FATAL_FAILURE(start_long_run(run, {"--pin", "split"}));
    auto allowed = [](pid_t pid) {
        std::istringstream in(proc_file(fmt::format("/proc/{}/status", pid)));
        for (std::string line; std::getline(in, line);)
            if (line.starts_with("Cpus_allowed_list:")) return line.substr(line.find('\t') + 1);
        return std::string("?");
    };
    // Half and half: on 2 CPUs, the first for the origin and the second for the model.
    const std::size_t half = cpus.size() / 2;
    auto list = [](auto first, auto last) {
        return first + 1 == last ? std::to_string(*first)
                                 : fmt::format("{}-{}", *first, *(last - 1));
    };
    const std::string origin_cpus = list(cpus.begin(), cpus.begin() + half),
                      model_cpus = list(cpus.begin() + half, cpus.end());
    EXPECT_EQ(allowed(run.origin), origin_cpus);
    EXPECT_EQ(allowed(run.model), model_cpus);
    EXPECT_EQ(allowed(::getpid()), list(cpus.begin(), cpus.end())) << "the harness's own is kept";
    ::kill(run.harness->pid(), SIGTERM);
    std::string out;
    for (int i = 0; i < 200 && !has_ended(run.harness->pid()); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
        drain(run.harness->stdout_fd(), out);
    }
    drain(run.harness->stdout_fd(), out);
    run.harness->reap();
    nlohmann::json r = nlohmann::json::parse(out);
    EXPECT_EQ(r["pin"], "split");
    EXPECT_EQ(r["placement"]["origin_cpus"],
              nlohmann::json(std::vector<int>(cpus.begin(), cpus.begin() + half)));
    EXPECT_EQ(r["placement"]["model_cpus"],
              nlohmann::json(std::vector<int>(cpus.begin() + half, cpus.end())));

    // On one CPU there is nothing to split: one line, before anything starts.
    test::Ran one = test::run_program(
        test::bin_dir + "/rosetta",
        {"run", "--model", "blocking", "--scenario", "download", "--pin", "split"}, 10,
        {cpus.front()});
    EXPECT_EQ(one.exit_code, 2) << one.out << one.err;
    EXPECT_EQ(count_lines(one.err), 1) << one.err;
    EXPECT_NE(one.err.find("--pin split: needs 2 CPUs"), std::string::npos) << one.err;
}

TEST(Harness, refuses_an_output_file_it_cannot_write_before_anything_starts) {
    test::ScratchDir scratch("unwritable");
    const std::filesystem::path& dir = scratch.path();
    std::vector<std::string> run = {"run",      "--model", "blocking", "--scenario",
                                    "download", "--pages", "5"};
    for (std::vector<std::string> extra : std::vector<std::vector<std::string>>{
             {"--out", dir.string()},
             {"--out", "/proc/no-such-file"},
             {"--records", dir.string()},
             {"--out", (dir / "missing" / "out.jsonl").string()}}) {
        std::vector<std::string> args = run;
        args.insert(args.end(), extra.begin(), extra.end());
        test::Ran ran = run_binary("rosetta", args, 10);
        EXPECT_EQ(ran.exit_code, 2) << extra[1] << ": " << ran.out << ran.err;
        EXPECT_EQ(count_lines(ran.err), 1) << ran.err;
        EXPECT_NE(ran.err.find(extra[0] + " " + extra[1] + ": "), std::string::npos) << ran.err;
        EXPECT_EQ(ran.out, "") << "nothing ran";
    }
    test::Ran model = run_binary(
        "rosetta-blocking",
        {"--scenario", "download", "--origin", "127.0.0.1:1", "--out", dir.string()}, 10);
    EXPECT_EQ(model.exit_code, 2);
    EXPECT_NE(model.err.find("--out " + dir.string() + ": "), std::string::npos) << model.err;
}

TEST(Harness, names_a_failed_write_of_its_result_and_exits_1) {
    if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
    test::Ran ran = run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "download",
                                           "--pages", "5", "--out", "/dev/full", "--json"});
    EXPECT_EQ(ran.exit_code, 1);
    EXPECT_EQ(ran.err, "rosetta: --out /dev/full: No space left on device\n");
    EXPECT_EQ(ran.json()["failure"], "--out /dev/full: No space left on device");

    std::string origin = fmt::format("127.0.0.1:{}", test::closed_port());
    test::Ran model =
        run_binary("rosetta-blocking", {"--scenario", "download", "--origin", origin, "--pages",
                                        "2", "--retries", "0", "--out", "/dev/full", "--json"});
    EXPECT_EQ(model.exit_code, 1);
    EXPECT_EQ(model.json()["failure"], "--out /dev/full: No space left on device");

    // A records file the model cannot write is its named failure; rosetta run refuses one it
    // could not read back before anything starts.
    test::Ran records =
        run_binary("rosetta-blocking", {"--scenario", "download", "--origin", origin, "--pages",
                                        "2", "--retries", "0", "--records", "/dev/full", "--json"});
    EXPECT_EQ(records.exit_code, 1);
    EXPECT_EQ(records.json()["failure"], "--records /dev/full: No space left on device");
    test::Ran harness = run_binary(
        "rosetta",
        {"run", "--model", "blocking", "--scenario", "download", "--records", "/dev/full"}, 10);
    EXPECT_EQ(harness.exit_code, 2);
    EXPECT_EQ(
        harness.err,
        "rosetta: --records /dev/full: not a regular file (rosetta run reads the records back)\n");
}
