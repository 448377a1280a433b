// The spec: every option of the workbench, parsed in one place for every executable
// (`rosetta run`, `rosetta origin`, each `rosetta-<id>`), so a model never sees argv.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// CLI11 is declared, not included: its single header costs seconds of compile time in every
// file that includes it (it defines objects at namespace scope, so each one generates their
// code), and nearly every file includes this one. Files that build a CLI::App include
// <CLI/CLI.hpp> themselves.
namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace rosetta {

enum class Scenario { download, crawl };
std::string_view to_string(Scenario scenario);

// Probabilities per attempt of each fault class the origin can inject. They are drawn in
// this order from one uniform number, so their sum must stay <= 1.
struct FaultRates {
    double reset = 0, stall = 0, status = 0, notfound = 0, truncate = 0, malformed = 0, slow = 0;

    double total() const { return reset + stall + status + notfound + truncate + malformed + slow; }
    bool any() const { return total() > 0; }
    // Canonical text: "none", or "name=rate,..." in the fixed order above, zero rates left out,
    // each rate in the shortest form that parses back to the same double.
    std::string to_string() const;
    bool operator==(const FaultRates&) const = default;
};

// Parses "none" or "NAME=RATE,..." (e.g. "reset=0.01,stall=0.02"; spaces around items, names and
// rates are ignored), each RATE a decimal number in [0, 1] (parse_decimal). Throws
// std::invalid_argument with a one-line reason naming the bad part: an empty text or item (a
// stray comma), an unknown or repeated class, a rate that is not such a number, a sum over 1.
FaultRates parse_faults(std::string_view text);

// The parts of text between separators, empty ones included ("a,,b" gives "a", "", "b"; ""
// gives one empty part): the lists on a command line refuse a stray separator rather than
// skip it.
std::vector<std::string_view> split(std::string_view text, char separator);

// Numbers on a command line are decimal text, nothing else. CLI11 reads them with strtoll(s, 0)
// and strtold, so on its own "010" would be 8, "0x10" 16, " 10" 10, and "nan" would pass any
// range check (every comparison with it is false).
// ASCII digits only, at most 2^64 - 1; nullopt otherwise.
std::optional<std::uint64_t> parse_whole_number(std::string_view text);
// DIGITS[.DIGITS][e[+|-]DIGITS] or .DIGITS[e...]: no sign, no hex, no inf or nan; nullopt
// otherwise, and for a number too large for a double.
std::optional<double> parse_decimal(std::string_view text);
// CLI11 checks with CLI::Range's help text ("INT in [LOW - HIGH]") and error ("Value X not in
// range LOW to HIGH") that accept only such text. whole_range also rewrites the text as the
// plain decimal CLI11's own conversion reads back as the same number ("010" as "10"): add it
// with ->transform(), as ->check() would throw the rewrite away.
CLI::Validator whole_range(std::uint64_t low, std::uint64_t high);
CLI::Validator decimal_range(double low, double high);
// The check of an --origin HOST:PORT: parse_host_port's reason is the error.
CLI::Validator host_port_check();
// The check of a FILE option (--records, --out): an empty path would silently mean none.
CLI::Validator file_name_check();

struct Spec {
    Scenario scenario = Scenario::download;
    int concurrency = 100;
    int pages = 1000;
    std::optional<int> max_pages;
    int page_bytes = 16384;
    int links = 8;
    int latency_ms = 0;
    FaultRates faults;
    int timeout_ms = 5000;
    int retries = 2;
    bool keepalive = true;
    int threads = 1;
    std::uint64_t seed = 1;
    std::string origin;       // HOST:PORT, empty: the harness starts one
    std::string start = "/";  // normalised when parsed (normalize_path): "/p/../p/3#f" is "/p/3"
    bool json = false;
    std::string records;  // per-attempt records file, empty: none
    std::string out;      // result JSON lines file to append to, empty: none
    int port = 0;         // `rosetta origin` only: port to listen on, 0 = ephemeral

    bool operator==(const Spec&) const = default;
};

// Smallest body that still holds a page's skeleton and its links.
int min_page_bytes(int links);

// --faults SPEC, parsed into `faults` (rosetta matrix takes it alone).
void add_faults_option(CLI::App& app, FaultRates& faults);
// The options of the synthetic site and origin: --pages --page-bytes --links --latency-ms
// --faults --threads --seed.
void add_site_options(CLI::App& app, Spec& spec);
// The options of a client run: --scenario (required) --concurrency --max-pages --timeout-ms
// --retries --keepalive --origin --start --json --records --out.
void add_client_options(CLI::App& app, Spec& spec);
// Both: what `rosetta run` and every model executable accept.
void add_spec_options(CLI::App& app, Spec& spec);

// The spec written back as the options that parse to it: what the harness passes to the
// origin (site_args) and to a model (spec_args), so no option can silently fall back to its
// default on the other side. Every option add_site_options / add_spec_options registers is
// written, defaults included; flags only when set, --max-pages/--origin/--records/--out only
// when given. parse(spec_args(s)) == s is a test.
std::vector<std::string> site_args(const Spec& spec);
std::vector<std::string> spec_args(const Spec& spec);

// Cross-option checks CLI11 cannot express (page-bytes vs links, start path shape).
// Throws CLI::ValidationError naming the option.
void validate(const Spec& spec);

// Parses argv into app. --help prints the help and exits 0; any user mistake prints one line
// "<program>: <option>: <reason>" on stderr and exits 2. Never returns on those paths.
void parse_command_line(CLI::App& app, int argc, char** argv, const Spec* spec_to_validate);

// Parses "HOST:PORT": HOST an IPv4 address or a host name (letters, digits, '-' and dots), PORT
// 1-65535. No scheme, path or IPv6: "[::1]:80" and "http://127.0.0.1:80" would only fail later,
// when resolved. Throws std::invalid_argument.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    std::string authority() const { return host + ":" + std::to_string(port); }
};
HostPort parse_host_port(std::string_view text);

}  // namespace rosetta
