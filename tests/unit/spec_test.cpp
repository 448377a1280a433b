#include "scenarios/spec.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace rosetta;

namespace {
// Parses args with every spec option; returns the CLI11 error text, or "" on success.
std::string parse(std::vector<std::string> args, Spec& spec) {
    CLI::App app{"test", "rosetta-test"};
    add_spec_options(app, spec);
    std::vector<char*> argv;
    std::string name = "rosetta-test";
    argv.push_back(name.data());
    for (auto& a : args) argv.push_back(a.data());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
        validate(spec);
    } catch (const CLI::Error& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(Spec, has_the_documented_defaults) {
    Spec spec;
    ASSERT_EQ(parse({"--scenario", "crawl"}, spec), "");
    EXPECT_EQ(spec.scenario, Scenario::crawl);
    EXPECT_EQ(spec.concurrency, 100);
    EXPECT_EQ(spec.pages, 1000);
    EXPECT_FALSE(spec.max_pages.has_value());
    EXPECT_EQ(spec.page_bytes, 16384);
    EXPECT_EQ(spec.links, 8);
    EXPECT_EQ(spec.latency_ms, 0);
    EXPECT_FALSE(spec.faults.any());
    EXPECT_EQ(spec.timeout_ms, 5000);
    EXPECT_EQ(spec.retries, 2);
    EXPECT_TRUE(spec.keepalive);
    EXPECT_EQ(spec.threads, 1);
    EXPECT_EQ(spec.seed, 1u);
    EXPECT_EQ(spec.start, "/");
    EXPECT_FALSE(spec.json);
}

TEST(Spec, parses_every_option) {
    Spec spec;
    ASSERT_EQ(parse({"--scenario=download",
                     "--concurrency",
                     "7",
                     "--pages",
                     "50",
                     "--max-pages",
                     "9",
                     "--page-bytes",
                     "4096",
                     "--links",
                     "3",
                     "--latency-ms",
                     "20",
                     "--faults",
                     "reset=0.1,slow=0.2",
                     "--timeout-ms",
                     "300",
                     "--retries",
                     "0",
                     "--keepalive",
                     "off",
                     "--threads",
                     "2",
                     "--seed",
                     "42",
                     "--origin",
                     "localhost:8080",
                     "--start",
                     "/p/3",
                     "--json",
                     "--records",
                     "r.jsonl",
                     "--out",
                     "o.jsonl"},
                    spec),
              "");
    EXPECT_EQ(spec.scenario, Scenario::download);
    EXPECT_EQ(spec.concurrency, 7);
    EXPECT_EQ(spec.pages, 50);
    EXPECT_EQ(spec.max_pages, 9);
    EXPECT_EQ(spec.page_bytes, 4096);
    EXPECT_EQ(spec.links, 3);
    EXPECT_EQ(spec.latency_ms, 20);
    EXPECT_DOUBLE_EQ(spec.faults.reset, 0.1);
    EXPECT_DOUBLE_EQ(spec.faults.slow, 0.2);
    EXPECT_EQ(spec.timeout_ms, 300);
    EXPECT_EQ(spec.retries, 0);
    EXPECT_FALSE(spec.keepalive);
    EXPECT_EQ(spec.threads, 2);
    EXPECT_EQ(spec.seed, 42u);
    EXPECT_EQ(spec.origin, "localhost:8080");
    EXPECT_EQ(spec.start, "/p/3");
    EXPECT_TRUE(spec.json);
    EXPECT_EQ(spec.records, "r.jsonl");
    EXPECT_EQ(spec.out, "o.jsonl");
}

TEST(Spec, rejects_bad_values_naming_the_option) {
    struct Case {
        std::vector<std::string> args;
        std::string option;
    };
    std::vector<Case> cases = {
        {{"--scenario", "browse"}, "--scenario"},
        {{"--scenario", "crawl", "--concurrency", "0"}, "--concurrency"},
        {{"--scenario", "crawl", "--concurrency", "many"}, "--concurrency"},
        {{"--scenario", "crawl", "--keepalive", "maybe"}, "--keepalive"},
        {{"--scenario", "crawl", "--faults", "reset=2"}, "--faults"},
        {{"--scenario", "crawl", "--faults", "explode=0.1"}, "--faults"},
        {{"--scenario", "crawl", "--origin", "nohost"}, "--origin"},
        {{"--scenario", "crawl", "--origin", "h:99999"}, "--origin"},
        {{"--scenario", "crawl", "--page-bytes", "300"}, "--page-bytes"},
        {{"--scenario", "crawl", "--links", "8", "--page-bytes", "1500"}, "--page-bytes"},
        {{"--scenario", "crawl", "--start", "p/1"}, "--start"},
        {{"--scenario", "crawl", "--start", "//other/p/1"}, "--start"},
        {{"--concurrency", "5"}, "--scenario"},
    };
    for (auto& c : cases) {
        Spec spec;
        std::string error = parse(c.args, spec);
        EXPECT_NE(error.find(c.option), std::string::npos)
            << "args: " << c.args.back() << " error: " << error;
    }
    Spec spec;
    EXPECT_NE(parse({"--scenario", "crawl", "--frobnicate"}, spec), "");
}

TEST(FaultRates, parse_and_print_in_canonical_order) {
    FaultRates rates = parse_faults("slow=0.01, reset=0.02,stall=0,status=0.03");
    EXPECT_DOUBLE_EQ(rates.reset, 0.02);
    EXPECT_DOUBLE_EQ(rates.status, 0.03);
    EXPECT_DOUBLE_EQ(rates.slow, 0.01);
    EXPECT_DOUBLE_EQ(rates.total(), 0.06);
    EXPECT_EQ(rates.to_string(), "reset=0.02,status=0.03,slow=0.01");
    EXPECT_EQ(parse_faults("none").to_string(), "none");
    EXPECT_EQ(parse_faults("").to_string(), "none");
}

TEST(FaultRates, reject_unknown_classes_repeats_bad_rates_and_sums_over_one) {
    for (const char* bad : {"boom=0.1", "reset=0.1,reset=0.2", "reset=-0.1", "reset=abc", "reset",
                            "reset=0.6,stall=0.6", "reset=nan"})
        EXPECT_THROW(parse_faults(bad), std::invalid_argument) << bad;
}

TEST(HostPort, parses_host_and_port_and_rejects_the_rest) {
    HostPort hp = parse_host_port("127.0.0.1:8080");
    EXPECT_EQ(hp.host, "127.0.0.1");
    EXPECT_EQ(hp.port, 8080);
    EXPECT_EQ(hp.authority(), "127.0.0.1:8080");
    for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:8o"})
        EXPECT_THROW(parse_host_port(bad), std::invalid_argument) << bad;
}

TEST(Spec, normalises_the_crawl_start_as_the_crawler_will_fetch_it) {
    for (const char* start : {"/p/../p/3", "/p/3#f", "/p/%33", "/p/./3"}) {
        Spec spec;
        ASSERT_EQ(parse({"--scenario", "crawl", "--start", start}, spec), "") << start;
        EXPECT_EQ(spec.start, "/p/3") << start;
    }
}

namespace {
// A spec in which every option differs from its default.
Spec unusual_spec() {
    Spec spec;
    spec.scenario = Scenario::crawl;
    spec.concurrency = 7;
    spec.pages = 50;
    spec.max_pages = 9;
    spec.page_bytes = 4096;
    spec.links = 3;
    spec.latency_ms = 20;
    spec.faults = parse_faults(
        "reset=0.1,stall=0.0125,status=0.03,notfound=1e-05,truncate=0.01,"
        "malformed=0.01,slow=0.123456789");
    spec.timeout_ms = 300;
    spec.retries = 0;
    spec.keepalive = false;
    spec.threads = 2;
    spec.seed = 18446744073709551615u;
    spec.origin = "localhost:8080";
    spec.start = "/p/3";
    spec.json = true;
    spec.records = "r.jsonl";
    spec.out = "o.jsonl";
    return spec;
}
}  // namespace

TEST(Spec, written_back_as_arguments_parses_to_the_same_spec) {
    for (const Spec& original : {Spec{}, unusual_spec()}) {
        Spec back;
        ASSERT_EQ(parse(spec_args(original), back), "");
        EXPECT_TRUE(back == original);
        EXPECT_EQ(back.faults.to_string(), original.faults.to_string());
    }
}

namespace {
// Every long option app accepts (but --help) appears in args, or the test fails naming it.
void expect_every_option_in(const CLI::App& app, const std::vector<std::string>& args) {
    std::set<std::string> written(args.begin(), args.end());
    for (const CLI::Option* option : app.get_options()) {
        if (option->get_name() == "--help") continue;
        for (const std::string& name : option->get_lnames())
            EXPECT_TRUE(written.count("--" + name)) << "--" << name << " is not written back";
    }
}
}  // namespace

TEST(Spec, written_back_as_arguments_names_every_option_the_executables_accept) {
    // A new option that spec_args forgets would silently take its default in the model, one
    // that site_args forgets in the origin.
    Spec spec;
    CLI::App model{"test", "rosetta-test"};
    add_spec_options(model, spec);
    expect_every_option_in(model, spec_args(unusual_spec()));
    CLI::App origin{"test", "rosetta-origin-test"};
    add_site_options(origin, spec);
    expect_every_option_in(origin, site_args(unusual_spec()));
}
