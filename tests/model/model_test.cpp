// One test body for every model: each case runs `rosetta run --model ID ... --json` against
// the harness's own origin and checks the verified result. A model joins by adding its id to
// models_under_test.
#include "scenarios/site.hpp"
#include "support.hpp"

#include <fmt/format.h>

using namespace rosetta;
using rosetta::test::run_binary;

namespace {

const char* const full_fault_mix = "reset=0.02,stall=0.01,status=0.02,notfound=0.01,truncate=0.01,malformed=0.01,slow=0.01";

class EveryModel : public ::testing::TestWithParam<std::string> {
protected:
    nlohmann::json run(std::vector<std::string> args) {
        std::vector<std::string> full = {"run", "--model", GetParam(), "--json", "--concurrency", "8"};
        full.insert(full.end(), args.begin(), args.end());
        test::Ran ran = run_binary("rosetta", full);
        EXPECT_NE(ran.out, "") << ran.err;
        nlohmann::json result = ran.json();
        EXPECT_EQ(ran.exit_code, exit_code_for(result)) << result.dump(2);
        return result;
    }
    static int exit_code_for(const nlohmann::json& r) {
        return r["completed"].get<bool>() && r["verified"] != false ? 0 : 1;
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
    static std::map<std::string, int> final_outcomes(const Site& truth, const std::vector<std::string>& paths,
                                                     int retries) {
        std::map<std::string, int> counts;
        for (const std::string& path : paths) ++counts[std::string(to_string(truth.expected(path, retries).final_outcome))];
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
                            "--timeout-ms", "300"});
    expect_verified(r);
    Site truth = site(200, full_fault_mix);
    for (auto& [outcome, count] : final_outcomes(truth, truth.download_paths(), 2))
        EXPECT_EQ(r["outcomes"][outcome], count) << outcome;
    EXPECT_GT(r["requests"].get<int>(), 200) << "some attempts must have been retried";
}

TEST_P(EveryModel, crawls_through_the_full_fault_mix_with_the_outcomes_the_truth_predicts) {
    nlohmann::json r = run({"--scenario", "crawl", "--pages", "200", "--faults", full_fault_mix,
                            "--timeout-ms", "300"});
    expect_verified(r);
    Site truth = site(200, full_fault_mix);
    for (auto& [outcome, count] : final_outcomes(truth, truth.reachable("/", 2), 2))
        EXPECT_EQ(r["outcomes"][outcome], count) << outcome;
}

TEST_P(EveryModel, works_with_keep_alive_off) {
    expect_verified(run({"--scenario", "download", "--pages", "60", "--keepalive", "off"}));
    expect_verified(run({"--scenario", "crawl", "--pages", "60", "--keepalive", "off", "--faults", full_fault_mix,
                         "--timeout-ms", "300"}));
}

TEST_P(EveryModel, stops_the_crawl_at_the_page_budget) {
    nlohmann::json r = run({"--scenario", "crawl", "--pages", "300", "--max-pages", "25"});
    expect_verified(r);
    EXPECT_EQ(r["urls"], 25);
}

TEST_P(EveryModel, gives_connect_errors_not_a_hang_when_the_origin_is_unreachable) {
    std::string origin = fmt::format("127.0.0.1:{}", test::closed_port());
    for (const char* scenario : {"download", "crawl"}) {
        test::Ran ran = run_binary("rosetta-" + GetParam(),
                                   {"--scenario", scenario, "--origin", origin, "--pages", "5", "--retries", "1",
                                    "--timeout-ms", "500", "--concurrency", "4", "--json"},
                                   30);
        nlohmann::json r = ran.json();
        int urls = std::string(scenario) == "download" ? 5 : 1;
        EXPECT_EQ(r["urls"], urls) << ran.out << ran.err;
        EXPECT_EQ(r["requests"], 2 * urls);
        EXPECT_EQ(r["outcomes"]["connect_error"], urls);
        EXPECT_LT(ran.seconds, 10);
    }
}

INSTANTIATE_TEST_SUITE_P(Models, EveryModel, ::testing::ValuesIn(test::models_under_test), test::test_name_of);

}  // namespace
