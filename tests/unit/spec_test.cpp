#include "scenarios/spec.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <optional>
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
        {{"--scenario", "crawl", "--concurrency", "0x10"}, "--concurrency"},
        {{"--scenario", "crawl", "--concurrency", "10x"}, "--concurrency"},
        {{"--scenario", "crawl", "--seed", "-1"}, "--seed"},
        {{"--scenario", "crawl", "--seed", "18446744073709551616"}, "--seed"},
        {{"--scenario", "crawl", "--faults", ""}, "--faults"},
        {{"--scenario", "crawl", "--faults", "reset=0.1,"}, "--faults"},
        {{"--scenario", "crawl", "--origin", "[::1]:80"}, "--origin"},
        {{"--scenario", "crawl", "--origin", "http://127.0.0.1:80"}, "--origin"},
        {{"--scenario", "crawl", "--records", ""}, "--records"},
        {{"--scenario", "crawl", "--out", ""}, "--out"},
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
    EXPECT_EQ(parse_faults(" none ").to_string(), "none");
}

TEST(FaultRates, reject_unknown_classes_repeats_bad_rates_and_sums_over_one) {
    for (const char* bad : {"boom=0.1", "reset=0.1,reset=0.2", "reset=-0.1", "reset=abc", "reset",
                            "reset=0.6,stall=0.6", "reset=nan"})
        EXPECT_THROW(parse_faults(bad), std::invalid_argument) << bad;
}

namespace {
// parse_faults's reason, or "" when it accepts text.
std::string faults_error(std::string_view text) {
    try {
        parse_faults(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(FaultRates, refuse_an_empty_spec_and_a_stray_comma_anywhere) {
    EXPECT_EQ(faults_error(""), "empty (write none for no faults)");
    EXPECT_EQ(faults_error(" \t"), "empty (write none for no faults)");
    for (const char* bad : {"reset=0.1,", ",reset=0.1", "reset=0.1,,stall=0.1", "reset=0.1, ", ","})
        EXPECT_EQ(faults_error(bad),
                  fmt::format("'{}' has an empty item (a comma too many)",
                              std::string_view(bad).substr(
                                  0, std::string_view(bad).find_last_not_of(' ') + 1)))
            << bad;
    EXPECT_EQ(faults_error("none,reset=0.1"), "'none' is not NAME=RATE");
}

TEST(FaultRates, take_rates_in_decimal_only) {
    for (const char* bad : {"reset=0x1", "reset=0x0.8p0", "reset=inf", "reset=nan", "reset=+0.1",
                            "reset=-0", "reset=1e999", "reset=1_0", "reset=0.1 0.2",
                            "reset=", "reset=.", "reset=e1", "reset=1e", "reset=1.5"})
        EXPECT_NE(faults_error(bad).find("rate of 'reset' must be a decimal number in [0, 1]"),
                  std::string::npos)
            << bad << ": " << faults_error(bad);
    EXPECT_EQ(faults_error("reset=0x1"),
              "rate of 'reset' must be a decimal number in [0, 1], got '0x1'");
    // Refused before it is quoted: the reason stays one line.
    EXPECT_EQ(faults_error("reset=0.1\nstall=0.1"),
              "holds a control character (a newline, a carriage return...)");
    EXPECT_EQ(parse_faults("reset=0.1,\tstall=0.1").to_string(), "reset=0.1,stall=0.1");
    FaultRates rates = parse_faults(" reset = .5 , stall=1e-2,status=0.1E+0 , notfound=0");
    EXPECT_DOUBLE_EQ(rates.reset, 0.5);
    EXPECT_DOUBLE_EQ(rates.stall, 0.01);
    EXPECT_DOUBLE_EQ(rates.status, 0.1);
    EXPECT_DOUBLE_EQ(rates.notfound, 0);
    EXPECT_THROW(parse_faults("slow=1.,reset=0.5"), std::invalid_argument);  // adds up to 1.5
    EXPECT_DOUBLE_EQ(parse_faults("slow=1.").slow, 1);
    // The canonical text may print a small rate with an exponent: it must parse back.
    EXPECT_EQ(parse_faults(parse_faults("notfound=0.00001").to_string()).notfound, 0.00001);
}

TEST(Numbers, are_decimal_text_and_nothing_else) {
    EXPECT_EQ(parse_whole_number("0"), 0u);
    EXPECT_EQ(parse_whole_number("010"), 10u);
    EXPECT_EQ(parse_whole_number("18446744073709551615"), 18446744073709551615u);
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "10x", "1_000",
                            "18446744073709551616", "99999999999999999999"})
        EXPECT_EQ(parse_whole_number(bad), std::nullopt) << bad;
    EXPECT_EQ(parse_decimal("0.5"), 0.5);
    EXPECT_EQ(parse_decimal(".5"), 0.5);
    EXPECT_EQ(parse_decimal("5."), 5.0);
    EXPECT_EQ(parse_decimal("1e-05"), 1e-05);
    EXPECT_EQ(parse_decimal("2E+3"), 2000.0);
    EXPECT_EQ(parse_decimal("007"), 7.0);
    for (const char* bad : {"", ".", "-1", "+1", " 1", "1 ", "nan", "inf", "infinity", "0x10",
                            "0x1p3", "1e", "1e+", "e5", "1.2.3", "1,5", "1e999"})
        EXPECT_EQ(parse_decimal(bad), std::nullopt) << bad;
}

TEST(Numbers, on_a_command_line_are_decimal_and_in_range) {
    Spec spec;
    ASSERT_EQ(parse({"--scenario", "crawl", "--concurrency", "010", "--seed",
                     "18446744073709551615", "--pages", "0007"},
                    spec),
              "");
    EXPECT_EQ(spec.concurrency, 10) << "decimal, not octal";
    EXPECT_EQ(spec.seed, 18446744073709551615u);
    EXPECT_EQ(spec.pages, 7);
    EXPECT_EQ(parse({"--scenario", "crawl", "--seed", "-1"}, spec),
              "--seed: Value -1 not in range 0 to 18446744073709551615");
    EXPECT_EQ(parse({"--scenario", "crawl", "--concurrency", "0x10"}, spec),
              "--concurrency: Value 0x10 not in range 1 to 1000000");
    EXPECT_EQ(parse({"--scenario", "crawl", "--concurrency", " 10"}, spec),
              "--concurrency: Value  10 not in range 1 to 1000000");

    double seconds = 1;
    CLI::App app{"test", "rosetta-test"};
    app.add_option("--deadline-s", seconds)->check(decimal_range(0.1, 86400.0));
    auto error_of = [&app](std::vector<std::string> args) -> std::string {
        std::reverse(args.begin(), args.end());  // CLI11 takes them last first
        try {
            app.parse(args);
        } catch (const CLI::Error& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(error_of({"--deadline-s", "2.5"}), "");
    EXPECT_EQ(seconds, 2.5);
    for (const char* bad : {"nan", "inf", "-1", "0x10", "0.05", "86401", "1e5", " 1"})
        EXPECT_EQ(error_of({"--deadline-s", bad}),
                  fmt::format("--deadline-s: Value {} not in range 0.1 to 86400", bad));
}

TEST(HostPort, parses_host_and_port_and_rejects_the_rest) {
    HostPort hp = parse_host_port("127.0.0.1:8080");
    EXPECT_EQ(hp.host, "127.0.0.1");
    EXPECT_EQ(hp.port, 8080);
    EXPECT_EQ(hp.authority(), "127.0.0.1:8080");
    for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:8o"})
        EXPECT_THROW(parse_host_port(bad), std::invalid_argument) << bad;
}

TEST(HostPort, takes_an_ipv4_address_or_a_host_name_and_says_so) {
    // Syntax only: nothing here is resolved.
    for (const char* good :
         {"127.0.0.1:80", "localhost:8080", "LocalHost:1", "ip6-localhost:65535", "0.0.0.0:80"})
        EXPECT_NO_THROW(parse_host_port(good)) << good;
    EXPECT_EQ(parse_host_port("localhost:8080").host, "localhost");
    for (const char* bad :
         {"[::1]:80", "::1:80", "http://127.0.0.1:80", "127.0.0.1/p:80", "256.0.0.1:80", "1.2.3:80",
          "01.2.3.4:80", "1:80", "-localhost:80", "localhost-:80", "local..host:80",
          "local_host:80", "localhost.:80", "local host:80", "user@localhost:80"}) {
        try {
            parse_host_port(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()),
                      fmt::format("'{}' is not HOST:PORT with HOST an IPv4 address or a host name "
                                  "(no scheme, path or IPv6)",
                                  bad));
        }
    }
    for (const char* bad : {"127.0.0.1:0x50", "127.0.0.1: 80", "127.0.0.1:+80", "127.0.0.1:080x"})
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
