// Bad input on every command line: `rosetta` and each model executable refuse it with one line on
// stderr that names the option (and the value), exit status 2, nothing on stdout, and no file
// left behind. Every row fails while its command line is parsed, before an origin or a run
// starts, so the whole table takes seconds.
#include <algorithm>
#include <filesystem>
#include <set>

#include "support.hpp"

using namespace rosetta;

namespace {

struct Row {
    std::vector<std::string> args;  // "{dir}": the scratch directory; "{origin}": a closed port
    std::string says;               // what the one line must contain: the option and the value
};

// A model's command line, good but for the part under test.
std::vector<std::string> model(std::vector<std::string> bad) {
    std::vector<std::string> args = {"--scenario", "download", "--origin", "{origin}"};
    args.insert(args.end(), bad.begin(), bad.end());
    return args;
}

// Every model executable shares the parser (scenarios/spec.cpp, scenarios/model_main.cpp); each
// is run through all of these.
const std::vector<Row> model_rows = {
    {model({"--bogus"}), "The following argument was not expected: --bogus"},
    {model({"stray"}), "The following argument was not expected: stray"},
    {{"--origin", "{origin}"}, "--scenario is required"},
    {{"--scenario", "download"}, "--origin: required"},
    {model({"--scenario", "crawl"}), "--scenario: At Most 1 required but received 2"},
    {{"--scenario", "browse", "--origin", "{origin}"},
     "--scenario: browse not in {download,crawl}"},
    {model({"--concurrency", "0"}), "--concurrency: Value 0 not in range 1 to 1000000"},
    {model({"--concurrency", "-5"}), "--concurrency: Value -5 not in range 1 to 1000000"},
    {model({"--concurrency", "1000001"}), "--concurrency: Value 1000001 not in range"},
    {model({"--concurrency", "99999999999999999999"}),
     "--concurrency: Value 99999999999999999999 not in range"},
    {model({"--concurrency", "many"}), "--concurrency: Value many not in range"},
    {model({"--concurrency", "10x"}), "--concurrency: Value 10x not in range"},
    {model({"--concurrency", "0x10"}), "--concurrency: Value 0x10 not in range"},
    {model({"--concurrency", " 10"}), "--concurrency: Value  10 not in range"},
    {model({"--concurrency", "1e2"}), "--concurrency: Value 1e2 not in range"},
    {model({"--concurrency"}), "--concurrency: 1 required"},
    {model({"--pages", "0"}), "--pages: Value 0 not in range 1 to 10000000"},
    {model({"--max-pages", "0"}), "--max-pages: Value 0 not in range 1 to 100000000"},
    {model({"--page-bytes", "255"}), "--page-bytes: Value 255 not in range 256 to 67108864"},
    {model({"--links", "8", "--page-bytes", "1500"}), "--page-bytes: 1500 is too small"},
    {model({"--links", "1001"}), "--links: Value 1001 not in range 0 to 1000"},
    {model({"--latency-ms", "-1"}), "--latency-ms: Value -1 not in range 0 to 3600000"},
    {model({"--timeout-ms", "0"}), "--timeout-ms: Value 0 not in range 1 to 3600000"},
    {model({"--retries", "101"}), "--retries: Value 101 not in range 0 to 100"},
    {model({"--retries", "1", "--retries", "2"}), "--retries: At Most 1 required but received 2"},
    {model({"--threads", "257"}), "--threads: Value 257 not in range 1 to 256"},
    {model({"--keepalive", "maybe"}), "--keepalive: maybe not in {on,off}"},
    {model({"--start", "p/1"}), "--start: 'p/1' is not a path starting with one /"},
    {model({"--seed", "-1"}), "--seed: Value -1 not in range 0 to 18446744073709551615"},
    {model({"--seed", "99999999999999999999"}),
     "--seed: Value 99999999999999999999 not in range 0 to 18446744073709551615"},
    {model({"--seed", "1.5"}), "--seed: Value 1.5 not in range"},
    {model({"--faults", ""}), "--faults: empty (write none for no faults)"},
    {model({"--faults", " "}), "--faults: empty"},
    {model({"--faults", "reset=0.1,"}), "--faults: 'reset=0.1,' has an empty item"},
    {model({"--faults", ",reset=0.1"}), "--faults: ',reset=0.1' has an empty item"},
    {model({"--faults", "reset=0.1,,stall=0.1"}), "--faults: 'reset=0.1,,stall=0.1' has an empty"},
    {model({"--faults", "reset=0x1"}),
     "--faults: rate of 'reset' must be a decimal number in [0, 1], got '0x1'"},
    {model({"--faults", "reset=nan"}), "--faults: rate of 'reset' must be a decimal number"},
    {model({"--faults", "reset=inf"}), "--faults: rate of 'reset' must be a decimal number"},
    {model({"--faults", "reset=-0"}), "got '-0'"},
    {model({"--faults", "reset=1.5"}), "got '1.5'"},
    {model({"--faults", "reset="}), "got ''"},
    {model({"--faults", "reset"}), "--faults: 'reset' is not NAME=RATE"},
    {model({"--faults", "none,reset=0.1"}), "--faults: 'none' is not NAME=RATE"},
    {model({"--faults", "explode=0.1"}), "--faults: unknown fault class 'explode'"},
    {model({"--faults", "reset=0.1,reset=0.2"}), "--faults: fault class 'reset' given twice"},
    {model({"--faults", "reset=0.6,stall=0.6"}), "--faults: fault rates add up to 1.2"},
    {{"--scenario", "download", "--origin", "[::1]:80"},
     "--origin: '[::1]:80' is not HOST:PORT with HOST an IPv4 address or a host name"},
    {{"--scenario", "download", "--origin", "http://127.0.0.1:80"},
     "--origin: 'http://127.0.0.1:80' is not HOST:PORT"},
    {{"--scenario", "download", "--origin", "127.0.0.1/p:80"}, "--origin: '127.0.0.1/p:80' is not"},
    {{"--scenario", "download", "--origin", "256.0.0.1:80"}, "--origin: '256.0.0.1:80' is not"},
    {{"--scenario", "download", "--origin", "127.0.0.1"}, "--origin: '127.0.0.1' is not HOST:PORT"},
    {{"--scenario", "download", "--origin", ":80"}, "--origin: ':80' is not HOST:PORT"},
    {{"--scenario", "download", "--origin", "127.0.0.1:0"}, "'127.0.0.1:0' has no valid port"},
    {{"--scenario", "download", "--origin", "127.0.0.1:65536"}, "'127.0.0.1:65536' has no valid"},
    {{"--scenario", "download", "--origin", "127.0.0.1:0x50"}, "'127.0.0.1:0x50' has no valid"},
    {model({"--out", "{dir}/folder"}), "--out {dir}/folder: Is a directory"},
    {model({"--out", "{dir}/missing/out.jsonl"}),
     "--out {dir}/missing/out.jsonl: No such file or directory"},
    {model({"--records", "{dir}/folder"}), "--records {dir}/folder: Is a directory"},
    {model({"--records", ""}), "--records: empty (leave the option out for none)"},
    {model({"--out", ""}), "--out: empty (leave the option out for none)"},
    {model({"--records="}), "--records: 1 required FILE missing"},
    {model({"--records", "{dir}/missing/r.jsonl"}),
     "--records {dir}/missing/r.jsonl: No such file or directory"},
    // A good file beside a bad one, or beside a bad number: neither is left behind.
    {model({"--out", "{dir}/out.jsonl", "--records", "{dir}/missing/r.jsonl"}),
     "--records {dir}/missing/r.jsonl: No such file or directory"},
    {model({"--records", "{dir}/r.jsonl", "--out", "{dir}/out.jsonl", "--concurrency", "0"}),
     "--concurrency: Value 0 not in range"},
};

// A matrix row lists its cells at most (--dry-run), and has an --out in the scratch directory:
// were it accepted, it would neither start runs nor write results/ here.
std::vector<std::string> matrix(std::vector<std::string> bad) {
    std::vector<std::string> args = {"matrix", "--dry-run", "--out", "{dir}/m.jsonl"};
    args.insert(args.end(), bad.begin(), bad.end());
    return args;
}

// `rosetta run` stops a good row after --deadline-s 5, and starts nothing when its row is bad.
std::vector<std::string> run(std::vector<std::string> bad) {
    std::vector<std::string> args = {"run", "--model", "blocking", "--scenario", "download"};
    args.insert(args.end(), bad.begin(), bad.end());
    return args;
}

const std::vector<Row> rosetta_rows = {
    {{}, "rosetta: a command is required: origin, run, matrix or models"},
    {{"bogus"}, "rosetta: unknown command 'bogus'"},
    {{"bogus", "--json"}, "rosetta: unknown command 'bogus'"},
    {{"--bogus"}, "rosetta: unknown command '--bogus'"},
    {{"--json", "run"}, "rosetta: unknown command '--json'"},
    {{"models", "--bogus"}, "The following argument was not expected: --bogus"},
    {run({"--bogus"}), "The following argument was not expected: --bogus"},
    {{"run", "--scenario", "download"}, "--model is required"},
    {{"run", "--model", "nope", "--scenario", "download"}, "--model: nope not in"},
    {run({"--deadline-s", "nan"}), "--deadline-s: Value nan not in range 0.1 to 86400"},
    {run({"--deadline-s", "inf"}), "--deadline-s: Value inf not in range 0.1 to 86400"},
    {run({"--deadline-s", "-1"}), "--deadline-s: Value -1 not in range"},
    {run({"--deadline-s", "0x10"}), "--deadline-s: Value 0x10 not in range"},
    {run({"--deadline-s", "0.05"}), "--deadline-s: Value 0.05 not in range"},
    {run({"--memory-guard", "nan"}), "--memory-guard: Value nan not in range 1e-05 to 0.95"},
    {run({"--memory-guard", "1"}), "--memory-guard: Value 1 not in range"},
    {run({"--origin-threads", "0"}), "--origin-threads: Value 0 not in range 1 to 64"},
    {run({"--pin", "diagonal"}), "--pin: diagonal not in {none,split}"},
    {run({"--concurrency", "10x"}), "--concurrency: Value 10x not in range"},
    {run({"--seed", "-1"}), "--seed: Value -1 not in range"},
    {run({"--faults", "reset=0.1,"}), "--faults: 'reset=0.1,' has an empty item"},
    {run({"--faults", ""}), "--faults: empty"},
    {run({"--origin", "[::1]:80"}), "--origin: '[::1]:80' is not HOST:PORT"},
    {run({"--origin", "http://127.0.0.1:80"}), "--origin: 'http://127.0.0.1:80' is not"},
    {run({"--links", "8", "--page-bytes", "1500"}), "--page-bytes: 1500 is too small"},
    {run({"--records", "/dev/full"}), "--records /dev/full: not a regular file"},
    {run({"--records", ""}), "--records: empty"},
    {run({"--records", "{dir}/folder"}), "--records {dir}/folder: not a regular file"},
    {run({"--records", "{dir}/missing/r.jsonl"}), "--records {dir}/missing/r.jsonl: No such"},
    {run({"--out", "{dir}/folder"}), "--out {dir}/folder: Is a directory"},
    {run({"--out", "/proc/no-such-file"}), "--out /proc/no-such-file: No such file"},
    {run({"--out", "{dir}/o.jsonl", "--records", "{dir}/missing/r.jsonl"}),
     "--records {dir}/missing/r.jsonl: No such file"},
    {run({"--out", "{dir}/o.jsonl", "--records", "{dir}/r.jsonl", "--seed", "-1"}),
     "--seed: Value -1 not in range"},
    {matrix({"--concurrency", "0x10"}), "--concurrency: Value 0x10 not in range 1 to 1000000"},
    {matrix({"--concurrency", "10,0"}), "--concurrency: Value 0 not in range"},
    {matrix({"--concurrency", "1,,10"}), "--concurrency: '1,,10' has an empty item"},
    {matrix({"--concurrency", "1,10,"}), "--concurrency: '1,10,' has an empty item"},
    {matrix({"--models", "blocking,"}), "--models: 'blocking,' has an empty item"},
    {matrix({"--scenarios", ",crawl"}), "--scenarios: ',crawl' has an empty item"},
    {matrix({"--latency-ms", "-1"}), "--latency-ms: Value -1 not in range"},
    {matrix({"--threads", "0"}), "--threads: Value 0 not in range 1 to 256"},
    {matrix({"--repeat", "0"}), "--repeat: Value 0 not in range 1 to 100"},
    {matrix({"--pages", "1x"}), "--pages: Value 1x not in range"},
    {matrix({"--pages-per-task", "-1"}), "--pages-per-task: Value -1 not in range"},
    {matrix({"--timeout-ms", "0"}), "--timeout-ms: Value 0 not in range"},
    {matrix({"--deadline-s", "nan"}), "--deadline-s: Value nan not in range"},
    {matrix({"--memory-guard", "inf"}), "--memory-guard: Value inf not in range"},
    {matrix({"--faults", "reset=0x1"}), "--faults: rate of 'reset' must be a decimal number"},
    {matrix({"--faults", "reset=0.1,"}), "--faults: 'reset=0.1,' has an empty item"},
    {matrix({"--origin", "[::1]:80"}), "--origin: '[::1]:80' is not HOST:PORT"},
    {matrix({"--origin", "127.0.0.1"}), "--origin: '127.0.0.1' is not HOST:PORT"},
    {matrix({"--models", "nope"}), "--models: nope not in"},
    {matrix({"--preset", "huge"}), "--preset: huge not in"},
    {matrix({"--pin", "diagonal"}), "--pin: diagonal not in {none,split}"},
    {{"matrix", "--dry-run", "--out", "{dir}/folder"}, "--out {dir}/folder: not a regular file"},
    {{"matrix", "--dry-run", "--out", "/dev/null"}, "--out /dev/null: not a regular file"},
    {{"matrix", "--dry-run", "--out", ""}, "--out: empty"},
    {{"matrix", "--dry-run", "--out", "{dir}/missing/m.jsonl"},
     "--out {dir}/missing/m.jsonl: No such file"},
    {{"origin", "--port", "65536"}, "--port: Value 65536 not in range 0 to 65535"},
    {{"origin", "--port", "0x50"}, "--port: Value 0x50 not in range"},
    {{"origin", "--threads", "0"}, "--threads: Value 0 not in range"},
    {{"origin", "--seed", "99999999999999999999"}, "--seed: Value 99999999999999999999 not in"},
    {{"origin", "--faults", "reset=0x1"}, "--faults: rate of 'reset' must be a decimal number"},
    {{"origin", "--links", "8", "--page-bytes", "1500"}, "--page-bytes: 1500 is too small"},
    {{"origin", "--scenario", "crawl"}, "The following arguments were not expected"},
};

std::string expand(std::string text, const std::string& dir, const std::string& origin) {
    for (auto [from, to] :
         {std::pair<std::string, std::string>{"{dir}", dir}, {"{origin}", origin}})
        for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + 1))
            text.replace(at, from.size(), to);
    return text;
}

std::set<std::string> entries_of(const std::filesystem::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        names.insert(entry.path().lexically_relative(dir).string());
    return names;
}

// Runs program on every row: exit 2, nothing on stdout, one line on stderr that starts with the
// program's name ("rosetta matrix: " for rosetta's) and holds the row's words, and the scratch
// directory as it was.
void expect_refused(const std::string& program, const std::vector<Row>& rows) {
    test::ScratchDir scratch("cli-" + program);
    std::filesystem::create_directory(scratch.path() / "folder");
    const std::set<std::string> before = entries_of(scratch.path());
    const std::string dir = scratch.path().string();
    const std::string origin = fmt::format("127.0.0.1:{}", test::closed_port());
    for (const Row& row : rows) {
        std::vector<std::string> args;
        for (const std::string& arg : row.args) args.push_back(expand(arg, dir, origin));
        const std::string says = expand(row.says, dir, origin);
        std::string shown = program;
        for (const std::string& arg : args) shown += " '" + arg + "'";
        SCOPED_TRACE(shown);
        test::Ran ran = test::run_binary(program, args, 10);
        EXPECT_EQ(ran.exit_code, 2) << ran.err;
        EXPECT_EQ(ran.out, "");
        EXPECT_EQ(std::count(ran.err.begin(), ran.err.end(), '\n'), 1) << ran.err;
        EXPECT_TRUE(ran.err.ends_with("\n")) << ran.err;
        EXPECT_TRUE(ran.err.starts_with(program)) << ran.err;
        EXPECT_NE(ran.err.find(says), std::string::npos)
            << "wanted: " << says << "\ngot: " << ran.err;
        if (std::set<std::string> after = entries_of(scratch.path()); after != before) {
            ADD_FAILURE() << "a file was left behind";
            for (const std::string& name : after)  // so that the next rows start clean
                if (!before.contains(name)) std::filesystem::remove_all(scratch.path() / name);
        }
        EXPECT_LT(ran.seconds, 5) << "refused at parse time, before anything started";
    }
}

}  // namespace

class ModelCli : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelCli, refuses_bad_input_in_one_line_naming_the_option_with_exit_2) {
    expect_refused("rosetta-" + GetParam(), model_rows);
}

INSTANTIATE_TEST_SUITE_P(EveryModel, ModelCli, ::testing::ValuesIn(test::models_under_test),
                         test::test_name_of);

TEST(RosettaCli, refuses_bad_input_in_one_line_naming_the_option_with_exit_2) {
    expect_refused("rosetta", rosetta_rows);
}

TEST(Help, of_a_model_says_that_origin_is_required_and_what_faults_accepts) {
    test::Ran help = test::run_binary("rosetta-blocking", {"--help"}, 10);
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_NE(help.out.find("HOST:PORT of a running HTTP/1.1 server (required)"), std::string::npos)
        << help.out;
    EXPECT_EQ(help.out.find("start one"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("(empty is refused)"), std::string::npos) << help.out;
    test::Ran harness = test::run_binary("rosetta", {"run", "--help"}, 10);
    EXPECT_NE(harness.out.find("HOST:PORT of a running HTTP/1.1 server (default: start one)"),
              std::string::npos)
        << harness.out;
}
