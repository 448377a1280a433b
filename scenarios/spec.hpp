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
}

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

// Parses "reset=0.01,stall=0.02", "none" or "". Throws std::invalid_argument with a one-line
// reason naming the bad part (unknown class, rate outside [0,1], sum over 1, repeated class).
FaultRates parse_faults(std::string_view text);

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

// Parses "HOST:PORT" (port 1-65535). Throws std::invalid_argument.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
    std::string authority() const { return host + ":" + std::to_string(port); }
};
HostPort parse_host_port(std::string_view text);

}  // namespace rosetta
