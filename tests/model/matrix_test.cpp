// `rosetta matrix`: a grid run K times a cell with the median kept, resumed without running a
// cell twice, a ladder that stops climbing where a model broke, bad grids refused in one line
// before anything runs; and the arithmetic it reports (median, least squares).
#include "bench/harness/matrix.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support.hpp"

using namespace rosetta;
using rosetta::test::run_binary;

namespace {

// The results in a matrix's file (kind "run": no "kind"), or its lines of another kind.
std::vector<nlohmann::json> read_lines(const std::string& path, const std::string& kind = "run") {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        nlohmann::json j = nlohmann::json::parse(line);
        if (j.value("kind", "run") == kind) lines.push_back(std::move(j));
    }
    return lines;
}

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            fmt::format("matrix-test-{}-{}", ::getpid(), name))
        .string();
}

int count_lines(const std::string& text) {
    int n = 0;
    for (char c : text) n += c == '\n';
    return n;
}

}  // namespace

TEST(Matrix, keeps_the_median_of_k_runs_a_cell_and_runs_no_cell_twice_when_resumed) {
    const std::string out = temp_path("resume.jsonl");
    std::filesystem::remove(out);
    const std::vector<std::string> args = {
        "matrix",      "--models",     "blocking,epoll-callbacks",
        "--scenarios", "download",     "--concurrency",
        "1,4",         "--latency-ms", "2",
        "--pages",     "20",           "--repeat",
        "3",           "--out",        out};
    test::Ran first = run_binary("rosetta", args);
    ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
    std::vector<nlohmann::json> lines = read_lines(out);
    // blocking runs one at a time: one cell for both levels; epoll-callbacks: two.
    ASSERT_EQ(lines.size(), 3u) << first.out;
    for (const nlohmann::json& r : lines) {
        EXPECT_EQ(r["verified"], true) << r.dump(2);
        ASSERT_EQ(r["matrix"]["repeat"], 3);
        std::vector<double> rates;
        for (const nlohmann::json& run : r["matrix"]["runs"])
            rates.push_back(run["throughput_rps"].get<double>());
        ASSERT_EQ(rates.size(), 3u);
        std::sort(rates.begin(), rates.end());
        EXPECT_EQ(r["throughput_rps"].get<double>(), rates[1]) << "the median run is the one kept";
        EXPECT_TRUE(r["git"].is_string());
        EXPECT_TRUE(r["machine"].is_object());
    }
    EXPECT_EQ(lines[1]["concurrency"], 1);
    EXPECT_EQ(lines[2]["concurrency"], 4);
    EXPECT_NE(first.out.find("epoll-callbacks"), std::string::npos) << "the summary names it";
    // Memory per task joins the results, one line a ladder; C=1 and 4 span too few tasks for a
    // slope, and the line says so with null fits rather than a number noise made.
    std::vector<nlohmann::json> fits = read_lines(out, "memory_per_task");
    ASSERT_EQ(fits.size(), 2u);
    EXPECT_EQ(fits[1]["model"], "epoll-callbacks");
    EXPECT_EQ(fits[1]["points"], 2);
    EXPECT_TRUE(fits[1]["user"].is_null()) << fits[1].dump();

    test::Ran second = run_binary("rosetta", args);
    ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
    EXPECT_NE(second.out.find("3 already in"), std::string::npos) << second.out;
    EXPECT_NE(second.out.find("0 to run"), std::string::npos) << second.out;
    EXPECT_EQ(read_lines(out).size(), 3u) << "nothing run or written twice";
    std::filesystem::remove(out);
}

TEST(Matrix, stops_a_models_climb_at_its_first_failure_and_names_it) {
    // C=1 needs 20 × 50 ms = 1 s, past the 0.5 s deadline; C=4 would pass, but a ladder does
    // not climb past a rung it fell from.
    const std::string out = temp_path("ladder.jsonl");
    std::filesystem::remove(out);
    test::Ran ran = run_binary("rosetta", {"matrix", "--models", "epoll-callbacks", "--scenarios",
                                           "download", "--concurrency", "1,4", "--latency-ms", "50",
                                           "--pages", "20", "--deadline-s", "0.5", "--out", out});
    EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;
    std::vector<nlohmann::json> lines = read_lines(out);
    ASSERT_EQ(lines.size(), 1u) << ran.out;
    EXPECT_EQ(lines[0]["completed"], false);
    EXPECT_TRUE(lines[0]["failure"].is_string());
    EXPECT_NE(ran.out.find("C=4 L=50ms T=1 pages=20"), std::string::npos) << ran.out;
    EXPECT_NE(ran.out.find("skipped"), std::string::npos) << ran.out;
    EXPECT_NE(ran.out.find("C=1:"), std::string::npos) << "the summary says where: " << ran.out;
    std::filesystem::remove(out);
}

TEST(Matrix, stops_climbing_where_a_model_is_saturated_when_asked) {
    // Two pages at C=8: the origin sees at most 2 requests in flight, under half of 8 — as a
    // model that cannot start its tasks faster shows; C=16 would only queue more behind it.
    const std::string out = temp_path("saturated.jsonl");
    std::filesystem::remove(out);
    std::vector<std::string> args = {"matrix",
                                     "--models",
                                     "epoll-callbacks",
                                     "--scenarios",
                                     "download",
                                     "--concurrency",
                                     "1,8,16",
                                     "--latency-ms",
                                     "20",
                                     "--pages",
                                     "2",
                                     "--out",
                                     out};
    test::Ran climbed = run_binary("rosetta", args);
    ASSERT_EQ(climbed.exit_code, 0) << climbed.out << climbed.err;
    EXPECT_EQ(read_lines(out).size(), 3u) << "without --stop-saturated every rung runs";
    std::filesystem::remove(out);
    args.push_back("--stop-saturated");
    test::Ran ran = run_binary("rosetta", args);
    ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
    std::vector<nlohmann::json> lines = read_lines(out);
    ASSERT_EQ(lines.size(), 2u) << ran.out;
    EXPECT_EQ(lines[1]["concurrency"], 8);
    EXPECT_EQ(lines[1]["peak_inflight"], 2);
    EXPECT_NE(ran.out.find("C=16 L=20ms T=1 pages=2"), std::string::npos) << ran.out;
    EXPECT_NE(ran.out.find("skipped: saturated"), std::string::npos) << ran.out;
    EXPECT_NE(ran.out.find("saturated at C=8: 2 in flight at most"), std::string::npos)
        << "the summary names the limit: " << ran.out;
    std::filesystem::remove(out);
}

TEST(Matrix, refuses_a_bad_grid_in_one_line_before_running_anything) {
    const std::string out = temp_path("bad.jsonl");
    std::filesystem::remove(out);
    std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
        {{"--models", "bogus"}, "bogus"},   {{"--concurrency", ""}, "--concurrency"},
        {{"--preset", "huge"}, "--preset"}, {{"--faults", "reset=2"}, "--faults"},
        {{"--repeat", "0"}, "--repeat"},
    };
    for (const ModelInfo& model : model_list)  // a known id this build lacks (the peers under a
        if (!model.built) {                    // sanitizer, boost-fibers under TSan), if any
            cases.push_back({{"--models", std::string(model.id)}, std::string(model.id)});
            break;
        }
    for (const auto& [bad, named] : cases) {
        std::vector<std::string> args = {"matrix", "--out", out};
        args.insert(args.end(), bad.begin(), bad.end());
        test::Ran ran = run_binary("rosetta", args, 30);
        EXPECT_EQ(ran.exit_code, 2) << named << ": " << ran.out << ran.err;
        EXPECT_EQ(count_lines(ran.err), 1) << ran.err;
        EXPECT_NE(ran.err.find(named), std::string::npos) << ran.err;
        EXPECT_TRUE(ran.out.empty()) << ran.out;
        EXPECT_FALSE(std::filesystem::exists(out)) << named << ": nothing written";
    }
    test::Ran ran =
        run_binary("rosetta", {"matrix", "--out", "/nonexistent-dir/results.jsonl"}, 30);
    EXPECT_EQ(ran.exit_code, 2) << ran.out << ran.err;
    EXPECT_NE(ran.err.find("--out"), std::string::npos) << ran.err;
}

TEST(Matrix, lists_a_presets_cells_without_running_them) {
    const std::string out = temp_path("dry.jsonl");
    test::Ran ran =
        run_binary("rosetta", {"matrix", "--preset", "c10k", "--dry-run", "--out", out});
    ASSERT_EQ(ran.exit_code, 0) << ran.err;
    EXPECT_NE(ran.out.find("C=19000 L=1000ms"), std::string::npos) << ran.out;
    EXPECT_NE(ran.out.find("blocking download C=1 L=1000ms T=1 pages=5\n"), std::string::npos)
        << "one cell for a model that runs one at a time: " << ran.out;
    EXPECT_EQ(ran.out.find("blocking download C=10 "), std::string::npos) << ran.out;
    EXPECT_NE(ran.out.find("placement (--pin none)"), std::string::npos) << ran.out;
    // The quick preset says where it puts the origin and the models: apart, given two CPUs.
    ran = run_binary("rosetta", {"matrix", "--preset", "quick", "--dry-run", "--out", out});
    ASSERT_EQ(ran.exit_code, 0) << ran.err;
    EXPECT_NE(ran.out.find(allowed_cpus().size() >= 2 ? "placement (--pin split): the origin on "
                                                      : "placement (--pin none)"),
              std::string::npos)
        << ran.out;
    std::filesystem::remove(out);
}

TEST(MatrixArithmetic, keeps_the_median_run_or_the_first_failure_with_every_run_on_record) {
    auto run = [](double rps, bool completed) {
        return nlohmann::json{{"throughput_rps", rps}, {"latency_us", {{"p99", 1000}}},
                              {"peak_rss_kib", 100},   {"completed", completed},
                              {"verified", completed}, {"failure", nullptr}};
    };
    nlohmann::json m = median_of({run(30, true), run(10, true), run(20, true)}, "quick");
    EXPECT_EQ(m["throughput_rps"], 20);
    EXPECT_EQ(m["matrix"]["runs"].size(), 3u);
    EXPECT_EQ(m["matrix"]["preset"], "quick");
    m = median_of({run(30, true), run(5, false), run(20, true)}, "quick");
    EXPECT_EQ(m["throughput_rps"], 5) << "a failure is the cell's answer, not an outlier";
}

TEST(MatrixArithmetic, fits_a_line_by_least_squares_with_its_quality) {
    Fit exact = least_squares({100, 1000, 10000},
                              {5000 + 8.5 * 100, 5000 + 8.5 * 1000, 5000 + 8.5 * 10000});
    EXPECT_NEAR(exact.slope, 8.5, 1e-9);
    EXPECT_NEAR(exact.intercept, 5000, 1e-6);
    EXPECT_NEAR(exact.r2, 1.0, 1e-12);
    Fit noisy = least_squares({1, 2, 3, 4}, {1, 3, 2, 4});
    EXPECT_GT(noisy.r2, 0.3);
    EXPECT_LT(noisy.r2, 0.9);
    EXPECT_EQ(least_squares({5, 5, 5}, {1, 2, 3}).slope, 0) << "no spread in x, no slope";
}

TEST(MatrixArithmetic, fits_memory_per_task_over_the_in_flight_counts_of_the_good_cells) {
    auto cell = [](int c, double inflight, double rss, double stack, bool ok) {
        return nlohmann::json{
            {"model", "m"},
            {"scenario", "download"},
            {"latency_ms", 1000},
            {"threads", 1},
            {"concurrency", c},
            {"peak_inflight", inflight},
            {"peak_rss_kib", rss},
            {"completed", ok},
            {"verified", ok},
            {"failure", nullptr},
            {"git", "abc"},
            {"kernel_kib", {{"stack", stack}, {"slab", 2 * stack}, {"sockets", 0}}}};
    };
    // 8 KiB of RSS and 16 + 32 KiB of kernel per task over a 3 MiB base; the failed cell's
    // numbers must not count.
    std::vector<nlohmann::json> results;
    for (int c : {100, 1000, 10000}) results.push_back(cell(c, c, 3072 + 8.0 * c, 16.0 * c, true));
    results.push_back(cell(19000, 5000, 1e9, 1e9, false));
    std::vector<nlohmann::json> fits = memory_per_task(results);
    ASSERT_EQ(fits.size(), 1u);
    const nlohmann::json& f = fits[0];
    EXPECT_EQ(f["kind"], "memory_per_task");
    EXPECT_EQ(f["points"], 3);
    EXPECT_EQ(f["inflight"], nlohmann::json({100, 10000}));
    EXPECT_NEAR(f["user"]["slope_kib"].get<double>(), 8.0, 1e-9);
    EXPECT_NEAR(f["user"]["intercept_kib"].get<double>(), 3072, 1e-6);
    EXPECT_NEAR(f["user_kernel"]["slope_kib"].get<double>(), 8.0 + 48.0, 1e-9);
    EXPECT_NEAR(f["user"]["r2"].get<double>(), 1.0, 1e-12);
    EXPECT_EQ(f["git"], "abc");
}
