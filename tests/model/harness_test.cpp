// The harness's contract: exit codes, the result's JSON schema, and failures named in words.
#include "support.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

using namespace rosetta;
using rosetta::test::run_binary;

namespace {

int count_lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
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
    test::Ran ran = run_binary("rosetta-blocking", {"--scenario", "download", "--concurrency", "-3"}, 10);
    EXPECT_EQ(ran.exit_code, 2);
    EXPECT_NE(ran.err.find("--concurrency"), std::string::npos) << ran.err;
}

TEST(Harness, answers_help_and_lists_the_models) {
    EXPECT_EQ(run_binary("rosetta", {"--help"}, 10).exit_code, 0);
    EXPECT_EQ(run_binary("rosetta", {"run", "--help"}, 10).exit_code, 0);
    EXPECT_EQ(run_binary("rosetta-blocking", {"--help"}, 10).exit_code, 0);
    test::Ran ran = run_binary("rosetta", {"models"}, 10);
    EXPECT_EQ(ran.exit_code, 0);
    for (const char* id : {"blocking", "process-per-task", "thread-per-task", "thread-pool", "epoll-callbacks",
                           "stackful-fibers", "boost-fibers", "stackless-coroutines", "io-uring"})
        EXPECT_NE(ran.out.find(id), std::string::npos) << id;
}

TEST(Harness, prints_a_result_with_every_field_of_the_schema) {
    auto dir = std::filesystem::temp_directory_path() / fmt::format("harness-test-{}", ::getpid());
    std::filesystem::create_directories(dir);
    std::string out = (dir / "out.jsonl").string(), records = (dir / "records.jsonl").string();
    test::Ran ran = run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "download", "--pages", "20",
                                           "--json", "--out", out, "--records", records});
    ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
    nlohmann::json r = ran.json();
    for (const char* key : {"model", "scenario", "faults", "git"}) EXPECT_TRUE(r[key].is_string()) << key;
    for (const char* key : {"concurrency", "threads", "pages", "latency_ms", "seed", "requests", "urls", "bytes",
                            "peak_rss_kib", "ctx_voluntary", "ctx_involuntary", "peak_inflight"})
        EXPECT_TRUE(r[key].is_number_integer()) << key;
    for (const char* key : {"wall_s", "throughput_rps", "cpu_user_s", "cpu_sys_s"}) EXPECT_TRUE(r[key].is_number()) << key;
    for (const char* key : {"keepalive", "completed", "verified"}) EXPECT_TRUE(r[key].is_boolean()) << key;
    EXPECT_TRUE(r["failure"].is_null());
    for (const char* key : {"ok", "http_error", "timeout", "reset", "truncated", "malformed", "connect_error"})
        EXPECT_TRUE(r["outcomes"][key].is_number_integer()) << key;
    for (const char* key : {"p50", "p90", "p99", "p999", "max"}) EXPECT_TRUE(r["latency_us"][key].is_number_integer()) << key;
    for (const char* key : {"cpus", "kernel", "compiler"}) EXPECT_TRUE(r["machine"].contains(key)) << key;
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
        for (const char* key : {"url", "attempt", "outcome", "status", "bytes", "start_ns", "end_ns", "lane"})
            EXPECT_TRUE(record.contains(key)) << key;
        ++n;
    }
    EXPECT_EQ(n, 20);
    std::filesystem::remove_all(dir);
}

TEST(Harness, names_the_failure_when_the_origin_is_unreachable) {
    std::string origin = fmt::format("127.0.0.1:{}", test::closed_port());
    test::Ran ran = run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "crawl", "--origin", origin, "--json"}, 20);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_FALSE(r["completed"].get<bool>());
    std::string failure = r["failure"].get<std::string>();
    EXPECT_NE(failure.find("unreachable"), std::string::npos) << failure;
    EXPECT_NE(failure.find("ECONNREFUSED"), std::string::npos) << failure;
    EXPECT_TRUE(r["verified"].is_null());
}

TEST(Harness, names_the_failure_when_the_model_cannot_start) {
    auto empty = std::filesystem::temp_directory_path() / fmt::format("no-models-{}", ::getpid());
    std::filesystem::create_directories(empty);
    ::setenv("ROSETTA_BIN_DIR", empty.c_str(), 1);
    test::Ran ran = run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "download", "--pages", "5", "--json"}, 20);
    ::unsetenv("ROSETTA_BIN_DIR");
    std::filesystem::remove_all(empty);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_FALSE(r["completed"].get<bool>());
    EXPECT_NE(r["failure"].get<std::string>().find("not built"), std::string::npos) << r["failure"];
}

TEST(Harness, names_the_failure_when_the_model_overruns_its_deadline) {
    // Every request stalls and the timeout is long: the deadline must stop the model.
    test::Ran ran = run_binary("rosetta", {"run", "--model", "blocking", "--scenario", "download", "--pages", "5",
                                           "--faults", "stall=1", "--timeout-ms", "60000", "--deadline-s", "1", "--json"},
                               30);
    EXPECT_EQ(ran.exit_code, 1);
    nlohmann::json r = ran.json();
    EXPECT_NE(r["failure"].get<std::string>().find("deadline"), std::string::npos) << r["failure"];
    EXPECT_LT(ran.seconds, 10);
    // A stopped model is still reaped with wait4: what it used is measured, not lost.
    EXPECT_GT(r["ctx_voluntary"].get<std::int64_t>(), 0) << r.dump();
}
