// One test body for every model: each case runs `rosetta run --model ID ... --json` against
// the harness's own origin and checks the verified result, and what the origin saw, against
// what the model claims. Every model the build has runs it (support.hpp: models_under_test).
#include <fmt/format.h>
#include <gtest/gtest-spi.h>

#include <filesystem>
#include <set>

#include "scenarios/site.hpp"
#include "support.hpp"

using namespace rosetta;
using rosetta::test::run_binary;

namespace {

const char* const full_fault_mix =
    "reset=0.02,stall=0.01,status=0.02,notfound=0.01,truncate=0.01,malformed=0.01,slow=0.01";

// `rosetta run --model ID --json ARGS...`: its result, checked against its exit code.
nlohmann::json run_model(const std::string& id, std::vector<std::string> args) {
    std::vector<std::string> full = {"run", "--model", id, "--json"};
    full.insert(full.end(), args.begin(), args.end());
    test::Ran ran = run_binary("rosetta", full);
    EXPECT_NE(ran.out, "") << ran.err;
    nlohmann::json result = ran.json();
    EXPECT_EQ(ran.exit_code, result["completed"].get<bool>() && result["verified"] != false ? 0 : 1)
        << result.dump(2);
    return result;
}

// The run that proves concurrency from the origin's side: 32 pages with 100 ms of think time
// each, at most 8 at once. One at a time that takes 32 x 100 ms = 3.2 s; eight at a time about
// four rounds, 0.4 s. (100 ms, not 50: under ThreadSanitizer a fork takes some 25 ms, and
// process-per-task must start its 8 children within one think time.)
const std::vector<std::string> concurrency_probe = {
    "--scenario", "download", "--pages", "32", "--latency-ms", "100", "--concurrency", "8"};
constexpr double serial_s = 32 * 0.100;

void expect_concurrent(const nlohmann::json& r) {
    EXPECT_EQ(r["peak_inflight"], 8) << "the origin never held 8 requests at once";
    // A peer's wall time from outside includes the interpreter's start (0.3 to 1.5 s, eventlet's
    // imports the most): its own, from the first request, is what the think times add up in.
    const bool peer = r.contains("peer_of");
    EXPECT_LT(r[peer ? "model_wall_s" : "wall_s"].get<double>(), serial_s / 2)
        << "8 at a time must take far less than one at a time";
}

void expect_one_at_a_time(const nlohmann::json& r) {
    EXPECT_EQ(r["concurrency"], 1) << "a model that waits for one request at a time reports C=1";
    EXPECT_EQ(r["peak_inflight"], 1);
    EXPECT_GE(r["wall_s"].get<double>(), serial_s);
}

class EveryModel : public ::testing::TestWithParam<std::string> {
protected:
    // The attempt's deadline in the fault-mix runs: short, so stalls cost little; a second for
    // a peer, whose interpreter takes several times ours for a response, and a slow response
    // (~100 ms of drip) must not time out on a busy machine.
    std::string fault_timeout_ms() const {
        return test::model_info(GetParam()).peer ? "1000" : "300";
    }
    // A peer whose Python library is not installed says so and exits 77: its cases are skipped
    // with that line, once asked per peer.
    void SetUp() override {
        if (!test::model_info(GetParam()).peer) return;
        static std::map<std::string, std::string> missing;
        if (!missing.contains(GetParam())) {
            test::Ran ran = run_binary(
                "rosetta-" + GetParam(),
                {"--scenario", "download", "--pages", "1", "--retries", "0", "--timeout-ms", "200",
                 "--origin", fmt::format("127.0.0.1:{}", test::closed_port())},
                30);
            missing[GetParam()] = ran.exit_code == 77 ? ran.err : "";
        }
        if (!missing[GetParam()].empty()) GTEST_SKIP() << missing[GetParam()];
    }
    nlohmann::json run(std::vector<std::string> args) {
        args.insert(args.begin(), {"--concurrency", "8"});
        return run_model(GetParam(), args);
    }
    // The same, with --records to a file of the test's, read back.
    nlohmann::json run(std::vector<std::string> args, std::vector<Record>& records) {
        auto path =
            std::filesystem::temp_directory_path() / fmt::format("model-test-{}.jsonl", ::getpid());
        args.insert(args.end(), {"--records", path.string()});
        nlohmann::json r = run(args);
        records = read_records(path.string());
        std::filesystem::remove(path);
        return r;
    }
    static void expect_verified(const nlohmann::json& r) {
        EXPECT_TRUE(r["completed"].get<bool>()) << r.dump(2);
        EXPECT_EQ(r["failure"], nullptr) << r.dump(2);
        EXPECT_EQ(r["verified"], true) << r.dump(2);
    }
    // The site truth for the same options, with a made-up authority: paths, faults and final
    // outcomes do not depend on the port.
    static Site site(int pages, const char* faults) {
        Spec spec;
        spec.pages = pages;
        spec.faults = parse_faults(faults);
        return Site(SiteParams::from(spec, "127.0.0.1:1"));
    }
    static std::map<std::string, int> final_outcomes(const Site& truth,
                                                     const std::vector<std::string>& paths,
                                                     int retries) {
        std::map<std::string, int> counts;
        for (const std::string& path : paths)
            ++counts[std::string(to_string(truth.expected(path, retries).final_outcome))];
        return counts;
    }
};

TEST_P(EveryModel, downloads_every_page_exactly_once) {
    nlohmann::json r = run({"--scenario", "download", "--pages", "120"});
    expect_verified(r);
    EXPECT_EQ(r["urls"], 120);
    EXPECT_EQ(r["requests"], 120);
    EXPECT_EQ(r["outcomes"]["ok"], 120);
    EXPECT_EQ(r["bytes"], 120 * 16384);
    EXPECT_GE(r["peak_inflight"].get<int>(), 1);
    EXPECT_LE(r["peak_inflight"].get<int>(), r["concurrency"].get<int>());
}

TEST_P(EveryModel, crawls_exactly_the_reachable_pages) {
    nlohmann::json r = run({"--scenario", "crawl", "--pages", "150"});
    expect_verified(r);
    EXPECT_EQ(r["urls"].get<std::size_t>(), site(150, "none").reachable("/", 2).size());
    EXPECT_EQ(r["outcomes"]["ok"], r["urls"]);
}

TEST_P(EveryModel, downloads_through_the_full_fault_mix_with_the_outcomes_the_truth_predicts) {
    nlohmann::json r = run({"--scenario", "download", "--pages", "200", "--faults", full_fault_mix,
                            "--timeout-ms", fault_timeout_ms()});
    expect_verified(r);
    Site truth = site(200, full_fault_mix);
    for (auto& [outcome, count] : final_outcomes(truth, truth.download_paths(), 2))
        EXPECT_EQ(r["outcomes"][outcome], count) << outcome;
    EXPECT_GT(r["requests"].get<int>(), 200) << "some attempts must have been retried";
}

TEST_P(EveryModel, crawls_through_the_full_fault_mix_with_the_outcomes_the_truth_predicts) {
    nlohmann::json r = run({"--scenario", "crawl", "--pages", "200", "--faults", full_fault_mix,
                            "--timeout-ms", fault_timeout_ms()});
    expect_verified(r);
    Site truth = site(200, full_fault_mix);
    for (auto& [outcome, count] : final_outcomes(truth, truth.reachable("/", 2), 2))
        EXPECT_EQ(r["outcomes"][outcome], count) << outcome;
}

// --pin split leaves the model one CPU of two: its workers, threads or children all share it.
// (oneTBB's finalize once waited forever there for workers it had put to sleep: thread-pool hung
// in most runs at C = 2, 5 or 100, and in none at 8 or 16.)
TEST_P(EveryModel, finishes_both_programs_on_one_cpu) {
    if (allowed_cpus().size() < 2) GTEST_SKIP() << "one CPU: nothing to split";
    for (auto [scenario, c] : {std::pair{"download", "2"}, {"crawl", "5"}, {"download", "5"}}) {
        if (test::one_at_a_time(GetParam()) && c != std::string_view("2")) break;  // no workers
        nlohmann::json r =
            run_model(GetParam(), {"--scenario", scenario, "--concurrency", c, "--pages", "300",
                                   "--latency-ms", "10", "--pin", "split", "--deadline-s", "30"});
        expect_verified(r);
        EXPECT_FALSE(r["placement"]["model_cpus"].is_null()) << r.dump(2);
    }
}

TEST_P(EveryModel, works_with_keep_alive_off) {
    expect_verified(run({"--scenario", "download", "--pages", "60", "--keepalive", "off"}));
    expect_verified(run({"--scenario", "crawl", "--pages", "60", "--keepalive", "off", "--faults",
                         full_fault_mix, "--timeout-ms", fault_timeout_ms()}));
}

TEST_P(EveryModel, stops_the_crawl_at_the_page_budget) {
    nlohmann::json r = run({"--scenario", "crawl", "--pages", "300", "--max-pages", "25"});
    expect_verified(r);
    EXPECT_EQ(r["urls"], 25);
}

TEST_P(EveryModel, holds_as_many_requests_at_the_origin_at_once_as_it_claims) {
    nlohmann::json r = run_model(GetParam(), concurrency_probe);
    expect_verified(r);
    if (test::one_at_a_time(GetParam())) {
        expect_one_at_a_time(r);
    } else {
        expect_concurrent(r);
    }
}

TEST_P(EveryModel, opens_at_most_c_connections_with_keep_alive_and_one_per_request_without) {
    std::vector<Record> records;
    nlohmann::json on = run({"--scenario", "download", "--pages", "60"}, records);
    expect_verified(on);
    if (test::model_info(GetParam()).connection_per_task) {
        EXPECT_EQ(on["connections"], on["urls"]) << "a connection dies with its task: one per URL";
    } else {
        EXPECT_GE(on["connections"].get<int>(), 1);
        EXPECT_LE(on["connections"].get<int>(), on["concurrency"].get<int>())
            << "keep-alive: connections are reused";
    }
    std::size_t connects = 0;
    for (const Record& record : records) connects += record.connected_ns != 0;
    EXPECT_EQ(connects, on["connections"].get<std::size_t>())
        << "the records name every connection the origin saw";

    nlohmann::json off =
        run({"--scenario", "download", "--pages", "60", "--keepalive", "off"}, records);
    expect_verified(off);
    EXPECT_EQ(off["connections"], off["requests"])
        << "without keep-alive, one connection per request";
    for (const Record& record : records) EXPECT_NE(record.connected_ns, 0) << record.url;
}

TEST_P(EveryModel, records_the_phases_of_every_attempt_in_order_and_who_waited) {
    std::vector<Record> records;
    nlohmann::json r = run({"--scenario", "crawl", "--pages", "80", "--latency-ms", "5"}, records);
    expect_verified(r);
    ASSERT_EQ(records.size(), r["requests"].get<std::size_t>());
    std::set<std::uint64_t> lanes;
    for (const Record& record : records) {
        if (record.connected_ns) {
            EXPECT_LE(record.start_ns, record.connected_ns) << record.url;
        }
        ASSERT_NE(record.first_byte_ns, 0) << record.url << ": every page answers";
        EXPECT_LE(std::max(record.start_ns, record.connected_ns), record.first_byte_ns)
            << record.url;
        EXPECT_GE(record.first_byte_ns - record.start_ns, 5'000'000)
            << "the think time comes before the first byte";
        EXPECT_LE(record.first_byte_ns, record.end_ns) << record.url;
        EXPECT_NE(record.lane, 0u);
        EXPECT_NE(record.task, 0u);
        lanes.insert(record.lane);
    }
    if (test::one_at_a_time(GetParam())) {
        EXPECT_EQ(lanes.size(), 1u) << "one thread did all the waiting";
    }
}

TEST_P(EveryModel, gives_connect_errors_not_a_hang_when_the_origin_is_unreachable) {
    std::string origin = fmt::format("127.0.0.1:{}", test::closed_port());
    for (const char* scenario : {"download", "crawl"}) {
        test::Ran ran =
            run_binary("rosetta-" + GetParam(),
                       {"--scenario", scenario, "--origin", origin, "--pages", "5", "--retries",
                        "1", "--timeout-ms", "500", "--concurrency", "4", "--json"},
                       30);
        nlohmann::json r = ran.json();
        int urls = std::string(scenario) == "download" ? 5 : 1;
        EXPECT_EQ(r["urls"], urls) << ran.out << ran.err;
        EXPECT_EQ(r["requests"], 2 * urls);
        EXPECT_EQ(r["outcomes"]["connect_error"], urls);
        EXPECT_LT(ran.seconds, 10);
    }
}

INSTANTIATE_TEST_SUITE_P(Models, EveryModel, ::testing::ValuesIn(test::models_under_test),
                         test::test_name_of);

#ifndef ROSETTA_TEST_PEERS  // what follows is about our models only
// --threads for the models that run a loop or scheduler a thread: two, each on its own thread
// with its share of C, give the same verified results through the full fault mix (the crawl's
// threads share one frontier and must all end when it is done), and the records name two
// lanes.
class Threads : public ::testing::TestWithParam<std::string> {};

TEST_P(Threads, runs_on_two_threads_each_its_own_lane_with_its_share_of_c_verified) {
    if (!test::model_info(GetParam()).built) GTEST_SKIP() << GetParam() << " is not built";
    for (const char* scenario : {"download", "crawl"}) {
        auto path = std::filesystem::temp_directory_path() /
                    fmt::format("model-test-threads-{}.jsonl", ::getpid());
        nlohmann::json r =
            run_model(GetParam(), {"--scenario", scenario, "--pages", "200", "--concurrency", "8",
                                   "--threads", "2", "--faults", full_fault_mix, "--timeout-ms",
                                   "300", "--records", path.string()});
        std::vector<Record> records = read_records(path.string());
        std::filesystem::remove(path);
        EXPECT_TRUE(r["completed"].get<bool>()) << scenario << r.dump(2);
        EXPECT_EQ(r["verified"], true) << scenario << r.dump(2);
        EXPECT_EQ(r["threads"], 2) << scenario;
        std::set<std::uint64_t> lanes;
        std::set<std::pair<std::uint64_t, std::uint64_t>> tasks;
        for (const Record& record : records) {
            lanes.insert(record.lane);
            tasks.insert({record.lane, record.task});
        }
        EXPECT_EQ(lanes.size(), 2u) << scenario << ": one lane per thread";
        EXPECT_LE(tasks.size(), 8u) << scenario << ": C=8 tasks over both lanes";
    }
}

// The result names the loops a run really had: one for a model that waits on one thread, and
// no more than C for one that spreads over threads, whatever --threads asked.
TEST(Threads, reports_the_loops_a_run_really_had_not_the_threads_asked) {
    nlohmann::json r =
        run_model("blocking", {"--scenario", "download", "--pages", "5", "--threads", "3"});
    EXPECT_EQ(r["verified"], true) << r.dump(2);
    EXPECT_EQ(r["threads"], 1);
    r = run_model("epoll-callbacks", {"--scenario", "download", "--pages", "5", "--concurrency",
                                      "2", "--threads", "3"});
    EXPECT_EQ(r["verified"], true) << r.dump(2);
    EXPECT_EQ(r["threads"], 2) << "two requests keep two reactors busy, not three";
}

INSTANTIATE_TEST_SUITE_P(Models, Threads,
                         ::testing::Values(std::string("epoll-callbacks"),
                                           std::string("boost-fibers")),
                         test::test_name_of);

// The concurrency check must catch a model that runs one request at a time while it claims
// C=8, and the blocking model is exactly that: its result, held to what a concurrent model
// must show, fails on both counts.
TEST(ConcurrencyCheck, fails_on_a_model_that_runs_serially_while_claiming_eight_at_once) {
    nlohmann::json serial = run_model("blocking", concurrency_probe);
    ASSERT_EQ(serial["completed"], true) << serial.dump(2);
    ::testing::TestPartResultArray failures;
    {
        ::testing::ScopedFakeTestPartResultReporter intercept(
            ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
        expect_concurrent(serial);
    }
    ASSERT_EQ(failures.size(), 2);
    EXPECT_NE(std::string(failures.GetTestPartResult(0).message()).find("never held 8"),
              std::string::npos);
    EXPECT_NE(std::string(failures.GetTestPartResult(1).message()).find("far less"),
              std::string::npos);
}

#endif  // ROSETTA_TEST_PEERS

}  // namespace
