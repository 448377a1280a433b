#include "scenarios/spec.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "scenarios/url.hpp"

namespace rosetta {

std::string_view to_string(Scenario scenario) {
    return scenario == Scenario::download ? "download" : "crawl";
}

namespace {

using RateField = double FaultRates::*;
constexpr std::array<std::pair<std::string_view, RateField>, 7> fault_fields = {{
    {"reset", &FaultRates::reset},
    {"stall", &FaultRates::stall},
    {"status", &FaultRates::status},
    {"notfound", &FaultRates::notfound},
    {"truncate", &FaultRates::truncate},
    {"malformed", &FaultRates::malformed},
    {"slow", &FaultRates::slow},
}};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A CLI11 check from one of our parsers: its std::invalid_argument becomes the error text, so
// the message CLI11 prints (after the option's name) is the parser's own.
template <typename Parse>
CLI::Validator validator_of(Parse parse, std::string name) {
    return CLI::Validator(
        [parse](std::string& text) {
            try {
                parse(text);
            } catch (const std::invalid_argument& e) {
                return std::string(e.what());
            }
            return std::string();
        },
        std::move(name));
}

}  // namespace

std::string FaultRates::to_string() const {
    std::string text;
    for (auto [name, field] : fault_fields) {
        if (this->*field <= 0) continue;
        if (!text.empty()) text += ',';
        text += fmt::format("{}={}", name, this->*field);
    }
    return text.empty() ? "none" : text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (std::size_t from = 0;;) {
        const std::size_t at = text.find(separator, from);
        parts.push_back(text.substr(from, at - from));
        if (at == std::string_view::npos) return parts;
        from = at + 1;
    }
}

FaultRates parse_faults(std::string_view text) {
    FaultRates rates;
    text = trim(text);
    // Empty is refused rather than read as none: it is what an unset shell variable gives.
    if (text.empty()) throw std::invalid_argument("empty (write none for no faults)");
    // Refused before any part of it is quoted in a reason: a newline there would make the one
    // line two (found by tests/fuzz/faults.cpp).
    const auto control = [](char c) {
        return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
    };
    if (std::ranges::any_of(text, control))
        throw std::invalid_argument("holds a control character (a newline, a carriage return...)");
    if (text == "none") return rates;
    std::map<std::string_view, bool> seen;
    for (std::string_view part : split(text, ',')) {
        std::string_view item = trim(part);
        if (item.empty())
            throw std::invalid_argument(
                fmt::format("'{}' has an empty item (a comma too many)", text));
        auto eq = item.find('=');
        if (eq == std::string_view::npos)
            throw std::invalid_argument(fmt::format("'{}' is not NAME=RATE", item));
        std::string_view name = trim(item.substr(0, eq));
        std::string_view rate_text = trim(item.substr(eq + 1));
        RateField field = nullptr;
        for (auto [known, f] : fault_fields)
            if (known == name) field = f;
        if (!field)
            throw std::invalid_argument(fmt::format(
                "unknown fault class '{}' (known: reset, stall, status, notfound, truncate, "
                "malformed, slow)",
                name));
        if (seen[name])
            throw std::invalid_argument(fmt::format("fault class '{}' given twice", name));
        seen[name] = true;
        std::optional<double> rate = parse_decimal(rate_text);
        if (!rate || *rate > 1)
            throw std::invalid_argument(fmt::format(
                "rate of '{}' must be a decimal number in [0, 1], got '{}'", name, rate_text));
        rates.*field = *rate;
    }
    if (rates.total() > 1 + 1e-9)
        throw std::invalid_argument(
            fmt::format("fault rates add up to {:g}, more than 1", rates.total()));
    return rates;
}

std::optional<std::uint64_t> parse_whole_number(std::string_view text) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::optional<double> parse_decimal(std::string_view text) {
    auto digits = [&text] {
        std::size_t n = 0;
        while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
        text.remove_prefix(n);
        return n;
    };
    const std::string copy(text);
    std::size_t mantissa = digits();
    if (!text.empty() && text.front() == '.') {
        text.remove_prefix(1);
        mantissa += digits();
    }
    if (mantissa == 0) return std::nullopt;
    if (!text.empty() && (text.front() == 'e' || text.front() == 'E')) {
        text.remove_prefix(1);
        if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
        if (digits() == 0) return std::nullopt;
    }
    if (!text.empty()) return std::nullopt;
    // Plain decimal text, which strtod reads exactly (the C locale: no program here sets one).
    // Past the largest double it gives inf, refused; below the smallest, 0 or a denormal, kept.
    double value = std::strtod(copy.c_str(), nullptr);
    if (std::isinf(value)) return std::nullopt;
    return value;
}

CLI::Validator whole_range(std::uint64_t low, std::uint64_t high) {
    return CLI::Validator(
        [low, high](std::string& text) {
            std::optional<std::uint64_t> value = parse_whole_number(text);
            if (!value || *value < low || *value > high)
                return fmt::format("Value {} not in range {} to {}", text, low, high);
            text = std::to_string(*value);
            return std::string();
        },
        fmt::format("INT in [{} - {}]", low, high));
}

CLI::Validator decimal_range(double low, double high) {
    return CLI::Validator(
        [low, high](std::string& text) {
            std::optional<double> value = parse_decimal(text);
            if (!value || *value < low || *value > high)
                return fmt::format("Value {} not in range {} to {}", text, low, high);
            return std::string();
        },
        fmt::format("FLOAT in [{} - {}]", low, high));
}

int min_page_bytes(int links) { return 1024 + 128 * links; }

void add_faults_option(CLI::App& app, FaultRates& faults) {
    app.add_option_function<std::string>(
           "--faults", [&faults](const std::string& text) { faults = parse_faults(text); },
           "Fault mix: none, or NAME=RATE,... with NAME one of reset, stall, status, notfound, "
           "truncate, malformed, slow and RATE a decimal in [0, 1], the rates adding up to at "
           "most 1 (empty is refused); e.g. reset=0.01,stall=0.01,status=0.02")
        ->type_name("SPEC")
        ->check(validator_of(parse_faults, "SPEC"))
        ->default_str("none");
}

CLI::Validator host_port_check() { return validator_of(parse_host_port, "HOST:PORT"); }

CLI::Validator file_name_check() {
    return CLI::Validator(
        [](std::string& path) {
            return path.empty() ? std::string("empty (leave the option out for none)")
                                : std::string();
        },
        "");
}

void add_site_options(CLI::App& app, Spec& spec) {
    app.add_option("--pages", spec.pages,
                   "Pages of the synthetic site; download fetches all of them")
        ->transform(whole_range(1, 10'000'000))
        ->capture_default_str();
    app.add_option("--page-bytes", spec.page_bytes, "Body size of a page")
        ->transform(whole_range(256, 64 << 20))
        ->capture_default_str();
    app.add_option("--links", spec.links, "Links per page")
        ->transform(whole_range(0, 1000))
        ->capture_default_str();
    app.add_option("--latency-ms", spec.latency_ms, "Origin think time per response (ms)")
        ->transform(whole_range(0, 3'600'000))
        ->capture_default_str();
    add_faults_option(app, spec.faults);
    app.add_option("--threads", spec.threads,
                   "Event loops / schedulers (event-driven models, origin)")
        ->transform(whole_range(1, 256))
        ->capture_default_str();
    // Its own help keeps CLI11's "UINT": the range is the whole of the type.
    app.add_option("--seed", spec.seed, "Seed of the site and the faults")
        ->transform(whole_range(0, std::numeric_limits<std::uint64_t>::max()).description(""))
        ->capture_default_str();
}

void add_client_options(CLI::App& app, Spec& spec) {
    app.add_option_function<std::string>(
           "--scenario",
           [&spec](const std::string& name) {
               spec.scenario = name == "crawl" ? Scenario::crawl : Scenario::download;
           },
           "Which program: download or crawl")
        ->check(CLI::IsMember({"download", "crawl"}))
        ->type_name("download|crawl")
        ->required();
    app.add_option("--concurrency", spec.concurrency, "At most C requests in flight")
        ->transform(whole_range(1, 1'000'000))
        ->capture_default_str();
    app.add_option_function<int>(
           "--max-pages", [&spec](int m) { spec.max_pages = m; }, "Crawl budget (URLs fetched)")
        ->transform(whole_range(1, 100'000'000))
        ->default_str("none");
    app.add_option("--timeout-ms", spec.timeout_ms, "Per attempt: connect + full response (ms)")
        ->transform(whole_range(1, 3'600'000))
        ->capture_default_str();
    app.add_option("--retries", spec.retries, "Extra attempts for retryable outcomes")
        ->transform(whole_range(0, 100))
        ->capture_default_str();
    app.add_option_function<std::string>(
           "--keepalive", [&spec](const std::string& value) { spec.keepalive = value == "on"; },
           "Reuse connections where the model can")
        ->check(CLI::IsMember({"on", "off"}))
        ->type_name("on|off")
        ->default_str("on");
    app.add_option("--origin", spec.origin,
                   "HOST:PORT of a running HTTP/1.1 server (default: start one)")
        ->check(host_port_check());
    app.add_option_function<std::string>(
           "--start", [&spec](const std::string& path) { spec.start = *normalize_path(path); },
           "Where the crawl starts (a path on the origin)")
        ->check(validator_of(
            [](const std::string& path) {
                if (!normalize_path(path))
                    throw std::invalid_argument(
                        fmt::format("'{}' is not a path starting with one /", path));
            },
            "PATH"))
        ->default_str("/");
    app.add_flag("--json", spec.json, "Print the result as one JSON object");
    app.add_option("--records", spec.records, "Write per-attempt records to FILE (JSON lines)")
        ->type_name("FILE")
        ->check(file_name_check());
    app.add_option("--out", spec.out, "Append the result JSON line to FILE")
        ->type_name("FILE")
        ->check(file_name_check());
}

void add_spec_options(CLI::App& app, Spec& spec) {
    add_client_options(app, spec);
    add_site_options(app, spec);
}

void validate(const Spec& spec) {
    if (spec.page_bytes < min_page_bytes(spec.links))
        throw CLI::ValidationError(
            "--page-bytes", fmt::format("{} is too small for {} links per page (at least {})",
                                        spec.page_bytes, spec.links, min_page_bytes(spec.links)));
}

std::vector<std::string> site_args(const Spec& s) {
    return {"--pages",  std::to_string(s.pages), "--page-bytes", std::to_string(s.page_bytes),
            "--links",  std::to_string(s.links), "--latency-ms", std::to_string(s.latency_ms),
            "--faults", s.faults.to_string(),    "--threads",    std::to_string(s.threads),
            "--seed",   std::to_string(s.seed)};
}

std::vector<std::string> spec_args(const Spec& s) {
    std::vector<std::string> args = {"--scenario",    std::string(to_string(s.scenario)),
                                     "--concurrency", std::to_string(s.concurrency),
                                     "--timeout-ms",  std::to_string(s.timeout_ms),
                                     "--retries",     std::to_string(s.retries),
                                     "--keepalive",   s.keepalive ? "on" : "off",
                                     "--start",       s.start};
    auto optional = [&args](const char* option, const std::string& value) {
        if (value.empty()) return;
        args.push_back(option);
        args.push_back(value);
    };
    optional("--max-pages", s.max_pages ? std::to_string(*s.max_pages) : "");
    optional("--origin", s.origin);
    optional("--records", s.records);
    optional("--out", s.out);
    if (s.json) args.push_back("--json");
    for (std::string& arg : site_args(s)) args.push_back(std::move(arg));
    return args;
}

void parse_command_line(CLI::App& app, int argc, char** argv, const Spec* spec_to_validate) {
    std::string program = app.get_name();
    try {
        app.parse(argc, argv);
        if (spec_to_validate) validate(*spec_to_validate);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        std::exit(0);
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app.help("", CLI::AppFormatMode::All);
        std::exit(0);
    } catch (const CLI::ParseError& e) {
        std::string what = e.what();
        for (char& c : what)
            if (c == '\n') c = ' ';
        std::cerr << program << ": " << what << " (see --help)\n";
        std::exit(2);
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << " (see --help)\n";
        std::exit(2);
    }
}

namespace {

// An IPv4 address in dotted decimal, or a host name: dot-separated labels of 1-63 letters, digits
// and '-', not starting or ending with '-'. All digits and dots is an address or nothing (a
// resolver would read "1" as 0.0.0.1).
bool is_host(const std::string& host) {
    if (host.empty() || host.size() > 253) return false;
    if (host.find_first_not_of("0123456789.") == std::string::npos) {
        in_addr address{};
        return ::inet_pton(AF_INET, host.c_str(), &address) == 1;
    }
    for (std::string_view label : split(host, '.')) {
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return false;
        for (char c : label)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-'))
                return false;
    }
    return true;
}

}  // namespace

HostPort parse_host_port(std::string_view text) {
    auto colon = text.rfind(':');
    HostPort hp;
    if (colon != std::string_view::npos) hp.host = std::string(text.substr(0, colon));
    if (!is_host(hp.host))
        throw std::invalid_argument(fmt::format(
            "'{}' is not HOST:PORT with HOST an IPv4 address or a host name (no scheme, path or "
            "IPv6)",
            text));
    std::string_view port_text = text.substr(colon + 1);
    std::optional<std::uint64_t> port = parse_whole_number(port_text);
    if (!port || *port == 0 || *port > 65535)
        throw std::invalid_argument(fmt::format("'{}' has no valid port (1-65535)", text));
    hp.port = static_cast<std::uint16_t>(*port);
    return hp;
}

}  // namespace rosetta
