#include "scenarios/site.hpp"

#include <xxhash.h>

#include <array>
#include <charconv>
#include <deque>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>

#include "scenarios/checksum.hpp"

namespace rosetta {

std::string_view to_string(Fault fault) {
    switch (fault) {
        case Fault::none: return "none";
        case Fault::reset: return "reset";
        case Fault::stall: return "stall";
        case Fault::status: return "status";
        case Fault::notfound: return "notfound";
        case Fault::truncate: return "truncate";
        case Fault::malformed: return "malformed";
        case Fault::slow: return "slow";
    }
    return "?";
}

SiteParams SiteParams::from(const Spec& spec, std::string authority) {
    SiteParams params;
    params.seed = spec.seed;
    params.pages = spec.pages;
    params.links = spec.links;
    params.page_bytes = spec.page_bytes;
    params.faults = spec.faults;
    params.authority = std::move(authority);
    return params;
}

namespace {

// splitmix64 (Steele, Lea, Flood 2014): a counter through a strong 64-bit finaliser. Written
// out here because the site must be the same bytes on every machine and every library
// version; std::mt19937 is portable too, but its distributions are not.
constexpr std::uint64_t golden_gamma = 0x9e3779b97f4a7c15ULL;

std::uint64_t finalize(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t mix(std::uint64_t x) { return finalize(x + golden_gamma); }

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() { return finalize(state_ += golden_gamma); }
    // Uniform in [0, n) by multiply-shift (Lemire); the bias is below 2^-32 for our n.
    int below(int n) {
        return static_cast<int>(
            (static_cast<unsigned __int128>(next()) * static_cast<unsigned>(n)) >> 64);
    }

private:
    std::uint64_t state_;
};

// Independent streams of one seed, so adding a draw to one never shifts another.
enum class Stream : std::uint64_t { links = 1, filler = 2, shuffle = 3, faults = 4 };

std::uint64_t stream_seed(std::uint64_t seed, Stream stream, std::uint64_t index) {
    return mix(mix(seed ^ (static_cast<std::uint64_t>(stream) << 56)) + index);
}

double unit_interval(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

enum class Shape {
    relative,         // 7
    dot_relative,     // ./7
    parent_relative,  // ../p/7
    root_relative,    // /p/7
    absolute,         // http://AUTHORITY/p/7
    fragment,         // 7#sec2
    entity_decimal,   // /p/&#55;
    entity_hex,       // &#x2F;p&#x2F;7
    unquoted_upper,   // <A HREF=7>
    single_quoted,    // <a class='nav' href='./7'>
};
constexpr int shape_count = 10;

struct PlannedLink {
    int target;
    Shape shape;
};

// The generator's intent for one page. page_html() writes it, page_links() reads it: the two
// can never disagree about which links a page has.
struct PagePlan {
    std::vector<PlannedLink> links;  // `links` links, then (if any) one duplicate
    std::array<int, 2> offsite_hosts{};
    std::array<int, 2> offsite_targets{};
};

PagePlan plan_page(const SiteParams& params, int id) {
    Rng rng(stream_seed(params.seed, Stream::links, static_cast<std::uint64_t>(id)));
    PagePlan plan;
    plan.links.reserve(static_cast<std::size_t>(params.links) + 1);
    // Consecutive shapes from a random start: a page with ten links shows every shape, and
    // across pages every shape leads equally often.
    int first_shape = rng.below(shape_count);
    for (int j = 0; j < params.links; ++j)
        plan.links.push_back({rng.below(params.pages), Shape((first_shape + j) % shape_count)});
    if (params.links > 0) {
        const PlannedLink& earlier = plan.links[static_cast<std::size_t>(rng.below(params.links))];
        int other =
            (static_cast<int>(earlier.shape) + 1 + rng.below(shape_count - 1)) % shape_count;
        plan.links.push_back({earlier.target, Shape(other)});
    }
    for (std::size_t k = 0; k < 2; ++k) {
        plan.offsite_hosts[k] = rng.below(100);
        plan.offsite_targets[k] = rng.below(params.pages);
    }
    return plan;
}

void append_int(std::string& out, long long value) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    (void)ec;  // 24 chars always hold a long long
    out.append(digits, end);
}

void append_link(std::string& out, const SiteParams& params, PlannedLink link, int ordinal) {
    std::string target = std::to_string(link.target);
    out += "<li>";
    switch (link.shape) {
        case Shape::relative: out += "<a href=\"" + target + "\">"; break;
        case Shape::dot_relative: out += "<a href=\"./" + target + "\">"; break;
        case Shape::parent_relative: out += "<a href=\"../p/" + target + "\">"; break;
        case Shape::root_relative: out += "<a href=\"/p/" + target + "\">"; break;
        case Shape::absolute:
            out += "<a href=\"http://" + params.authority + "/p/" + target + "\">";
            break;
        case Shape::fragment:
            out += "<a href=\"" + target + "#sec";
            append_int(out, ordinal % 7 + 1);
            out += "\">";
            break;
        case Shape::entity_decimal:  // the first digit as a character reference: 7 -> &#55;
            out += "<a href=\"/p/&#";
            append_int(out, target[0]);
            out += ';';  // appended piecewise: g++ 12 -O3 warns falsely (-Wrestrict) on ";" + ...
            out.append(target, 1);
            out += "\">";
            break;
        case Shape::entity_hex: out += "<a href=\"&#x2F;p&#x2F;" + target + "\">"; break;
        case Shape::unquoted_upper: out += "<A HREF=" + target + ">"; break;
        case Shape::single_quoted: out += "<a class='nav' href='./" + target + "'>"; break;
    }
    out += "page " + target;
    out += link.shape == Shape::unquoted_upper ? "</A></li>\n" : "</a></li>\n";
}

// Text that is not a link in HTML: a crawler that greps for href= fetches these and is wrong.
// They name pages past the end of the site, so a wrong fetch shows as a 404 in /__stats.
long long phantom_comment_target(const SiteParams& params, int id) {
    return static_cast<long long>(params.pages) + id + 1'000'000;
}
long long phantom_script_target(const SiteParams& params, int id) {
    return static_cast<long long>(params.pages) + id + 2'000'000;
}

constexpr std::array<std::string_view, 32> filler_words = {
    "lorem",   "ipsum",  "dolor",  "sit",     "amet",    "consectetur", "adipiscing",
    "elit",    "sed",    "do",     "eiusmod", "tempor",  "incididunt",  "ut",
    "labore",  "et",     "dolore", "magna",   "aliqua",  "enim",        "ad",
    "minim",   "veniam", "quis",   "nostrud", "ullamco", "laboris",     "nisi",
    "aliquip", "ex",     "ea",     "commodo"};

// Appends exactly n bytes of <p> paragraphs of seeded words. One draw yields twelve words
// (5 bits each), which keeps a 16 KiB page at a few microseconds of filler.
void append_filler(std::string& out, std::size_t n, Rng& rng) {
    constexpr std::size_t overhead = 8;  // "<p>" + "</p>\n"
    std::uint64_t bits = 0;
    int words_left = 0;
    auto next_word = [&]() {
        if (words_left == 0) {
            bits = rng.next();
            words_left = 12;
        }
        std::string_view word = filler_words[bits & 31];
        bits >>= 5;
        --words_left;
        return word;
    };
    while (n > 0) {
        if (n < overhead + 1) {  // too little for a paragraph: pad with newlines
            out.append(n, '\n');
            return;
        }
        std::size_t paragraph = 200 + static_cast<std::size_t>(rng.below(400));
        if (paragraph > n || n - paragraph < overhead + 1) paragraph = n;
        std::size_t text = paragraph - overhead;
        out += "<p>";
        bool first = true;
        while (text > 0) {
            std::string_view word = next_word();
            std::size_t need = word.size() + (first ? 0 : 1);
            if (need <= text) {
                if (!first) out += ' ';
                out += word;
                text -= need;
            } else {  // the last word is cut to fit; a lone '.' when only one byte remains
                if (text == 1) {
                    out += '.';
                } else {
                    if (!first) out += ' ';
                    out.append(word.substr(0, first ? text : text - 1));
                }
                text = 0;
            }
            first = false;
        }
        out += "</p>\n";
        n -= paragraph;
    }
}

}  // namespace

Site::Site(SiteParams params) : params_(std::move(params)) {
    const FaultRates& r = params_.faults;
    const double rates[7] = {r.reset,    r.stall,     r.status, r.notfound,
                             r.truncate, r.malformed, r.slow};
    double sum = 0;
    for (int k = 0; k < 7; ++k) fault_edges_[k] = sum += rates[k];
}

std::optional<int> Site::page_of(std::string_view path) const {
    if (path == "/") return 0;
    if (!path.starts_with("/p/")) return std::nullopt;
    std::string_view digits = path.substr(3);
    if (digits.empty() || digits.size() > 9 || (digits[0] == '0' && digits.size() > 1))
        return std::nullopt;
    int id = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (ec != std::errc() || end != digits.data() + digits.size() || id < 0 || id >= params_.pages)
        return std::nullopt;
    return id;
}

std::string Site::page_html(int id) const {
    const auto bytes = static_cast<std::size_t>(params_.page_bytes);
    PagePlan plan = plan_page(params_, id);
    std::string out;
    out.reserve(bytes);
    std::string name = std::to_string(id);
    out += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><base href=\"/p/\">";
    out += "<title>Page " + name + "</title></head>\n<body>\n<h1>Page " + name + "</h1>\n<ul>\n";
    for (std::size_t j = 0; j < plan.links.size(); ++j)
        append_link(out, params_, plan.links[j], static_cast<int>(j));
    out += "</ul>\n<p>Elsewhere: <a href=\"http://offsite-";
    append_int(out, plan.offsite_hosts[0]);
    out += ".example/p/";
    append_int(out, plan.offsite_targets[0]);
    out += "\">a mirror</a>, <a href=\"//offsite-";
    append_int(out, plan.offsite_hosts[1]);
    out += ".example/p/";
    append_int(out, plan.offsite_targets[1]);
    out += "\">another</a>.</p>\n<!-- retired: <a href=\"/p/";
    append_int(out, phantom_comment_target(params_, id));
    // "<\/a>" keeps the script free of "</", which some HTML parsers take as its end.
    out += "\">old</a> -->\n<script>var next = '<a href=\"/p/";
    append_int(out, phantom_script_target(params_, id));
    out += "\">next<\\/a>';</script>\n";
    constexpr std::string_view tail = "</body></html>\n";
    if (out.size() + tail.size() > bytes)
        throw std::logic_error(
            "page " + name + " needs " + std::to_string(out.size() + tail.size()) +
            " bytes for its skeleton, more than page_bytes " + std::to_string(bytes));
    Rng filler(stream_seed(params_.seed, Stream::filler, static_cast<std::uint64_t>(id)));
    append_filler(out, bytes - out.size() - tail.size(), filler);
    out += tail;
    return out;
}

std::uint64_t Site::page_checksum(int id) const { return Checksum::of(page_html(id)); }

std::vector<std::string> Site::page_links(int id) const {
    PagePlan plan = plan_page(params_, id);
    std::vector<std::string> paths;
    paths.reserve(plan.links.size());
    std::unordered_set<int> seen;
    for (const PlannedLink& link : plan.links)
        if (seen.insert(link.target).second) paths.push_back("/p/" + std::to_string(link.target));
    return paths;
}

Fault Site::fault(std::string_view path, int attempt) const {
    if (path == "/__stats" || !params_.faults.any()) return Fault::none;
    std::uint64_t h = XXH3_64bits_withSeed(path.data(), path.size(),
                                           stream_seed(params_.seed, Stream::faults, 0));
    double u =
        unit_interval(mix(h ^ (static_cast<std::uint64_t>(attempt) * 0xd1b54a32d192ed03ULL)));
    constexpr Fault order[7] = {Fault::reset,    Fault::stall,     Fault::status, Fault::notfound,
                                Fault::truncate, Fault::malformed, Fault::slow};
    for (int k = 0; k < 7; ++k)
        if (u < fault_edges_[k]) return order[k];
    return Fault::none;
}

ExpectedUrl Site::expected_attempts(std::string_view path, int retries) const {
    ExpectedUrl result;
    std::optional<int> page = page_of(path);
    for (int attempt = 1; attempt <= retries + 1; ++attempt) {
        ExpectedAttempt a{Outcome::ok, 200};
        switch (fault(path, attempt)) {
            case Fault::none:
            case Fault::slow:
                if (!page) a = {Outcome::http_error, 404};
                break;
            case Fault::reset: a = {Outcome::reset, 0}; break;
            case Fault::stall: a = {Outcome::timeout, 0}; break;
            case Fault::status: a = {Outcome::http_error, 503}; break;
            case Fault::notfound: a = {Outcome::http_error, 404}; break;
            case Fault::truncate: a = {Outcome::truncated, 0}; break;
            case Fault::malformed: a = {Outcome::malformed, 0}; break;
        }
        result.attempts.push_back(a);
        if (!is_retryable(a.outcome, a.status)) break;
    }
    result.final_outcome = result.attempts.back().outcome;
    result.final_status = result.attempts.back().status;
    return result;
}

ExpectedUrl Site::expected(std::string_view path, int retries) const {
    ExpectedUrl result = expected_attempts(path, retries);
    if (result.final_outcome == Outcome::ok) {  // only a page can end ok
        result.bytes = static_cast<std::uint64_t>(params_.page_bytes);
        result.checksum = page_checksum(*page_of(path));
    }
    return result;
}

std::vector<std::string> Site::reachable(std::string_view start, int retries) const {
    std::vector<std::string> order;
    std::unordered_set<std::string> seen;
    std::deque<std::string> frontier;
    seen.emplace(start);
    frontier.emplace_back(start);
    while (!frontier.empty()) {
        std::string path = std::move(frontier.front());
        frontier.pop_front();
        order.push_back(path);
        std::optional<int> page = page_of(path);
        if (!page || expected_attempts(path, retries).final_outcome != Outcome::ok) continue;
        for (std::string& link : page_links(*page))
            if (seen.insert(link).second) frontier.push_back(std::move(link));
    }
    return order;
}

std::vector<std::string> Site::download_paths() const {
    std::vector<std::string> paths;
    paths.reserve(static_cast<std::size_t>(params_.pages));
    for (int id = 0; id < params_.pages; ++id) paths.push_back("/p/" + std::to_string(id));
    Rng rng(stream_seed(params_.seed, Stream::shuffle, 0));
    for (int i = params_.pages - 1; i > 0; --i)
        std::swap(paths[static_cast<std::size_t>(i)],
                  paths[static_cast<std::size_t>(rng.below(i + 1))]);
    return paths;
}

}  // namespace rosetta
