// Link extraction of a typical 16 KiB page, the crawler's per-page CPU cost outside the network,
// fed whole or in 1460-byte segments (one TCP segment's payload on Ethernet, the smallest split a
// socket read is likely to hand the crawler). The target is 50 µs. libxml2 2.9 alone needs about
// twice that, 1.6 million instructions, most of them walking the text; the pre-pass that keeps
// text from it (links.cpp) brings the page to 0.39 million (callgrind). The _libxml2_alone
// variants keep the reference in view. The benchmarks after those split the cost into the
// parser's setup, the parsing and the URLs, price the tree we do not build, and check that a
// page of markup with little text (a table) pays nothing for the pre-pass.
#include <benchmark/benchmark.h>
#include <libxml/HTMLparser.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/links.hpp"
#include "scenarios/site.hpp"
#include "scenarios/url.hpp"

namespace rosetta {
namespace {

constexpr std::size_t page_bytes = 16 * 1024;
constexpr std::size_t segment_bytes = 1460;
constexpr std::string_view page_url = "http://127.0.0.1:8080/p/3";

// The shapes the origin serves: relative, dotted, root-relative, absolute on and off the origin,
// a fragment, a duplicate, entity-encoded attributes. Eleven anchors, ten distinct URLs: "7"
// comes twice, and "#top" resolves to the <base> itself.
constexpr std::array<std::string_view, 11> anchors = {
    R"(<a href="7">seven</a>)",
    R"(<a href="./8">eight</a>)",
    R"(<a href="../p/9">nine</a>)",
    R"(<a href="/p/10">ten</a>)",
    R"(<a href="http://127.0.0.1:8080/p/11">eleven</a>)",
    R"(<a href="http://off.example/p/12">off-site</a>)",
    R"(<a href="13#middle">thirteen</a>)",
    R"(<a href="7">seven again</a>)",
    R"(<a href="/p/14?from=3&amp;to=14">fourteen</a>)",
    R"(<a href="&#49;5">fifteen</a>)",
    R"(<a href='#top'>top</a>)",
};
constexpr std::size_t distinct_links = 10;

constexpr std::array<std::string_view, 32> words = {
    "the",     "origin", "serves",  "pages",   "of",      "plain",    "words",  "and",
    "links",   "every",  "model",   "fetches", "them",    "once",     "under",  "a",
    "budget",  "with",   "latency", "faults",  "retries", "timeouts", "bytes",  "crawler",
    "threads", "fibers", "loops",   "waiting", "socket",  "buffer",   "parser", "checksum"};

// Deterministic: a fixed linear congruential sequence picks the words and the paragraph lengths
// (40 to 90 words, about 400 bytes, as in prose), so every run and machine parses the same bytes.
std::string make_page() {
    std::uint32_t state = 12345;
    auto next_random = [&](std::uint32_t bound) {
        state = state * 1664525u + 1013904223u;
        return (state >> 16) % bound;  // the high bits: an LCG's low bits repeat quickly
    };
    auto next_word = [&] { return words[next_random(words.size())]; };
    auto next_paragraph_words = [&] { return 40 + next_random(51); };  // 40 to 90 words
    std::string page =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Page 3</title>\n"
        "<base href=\"/p/\">\n"
        "<!-- retired navigation: <a href=\"/old/1\">old</a> <a href=\"/old/2\">old</a> -->\n"
        "<script>var nav = '<a href=\"/fake/1\">fake</a>';\n"
        "function later(a, b) { return a < b && '<a href=\"/fake/2\">' != b; }</script>\n"
        "</head><body>\n";
    const std::string_view tail = "</p>\n</body></html>\n";
    // Anchors spread evenly over the body, one every `spacing` bytes.
    const std::size_t spacing = (page_bytes - page.size()) / (anchors.size() + 1);
    std::size_t next_anchor = 0;
    std::size_t next_anchor_at = page.size() + spacing;
    page += "<p>";
    std::string piece;
    for (std::uint32_t words_left = next_paragraph_words();; --words_left) {
        piece = next_word();
        if (next_anchor < anchors.size() && page.size() >= next_anchor_at) {
            piece = anchors[next_anchor++];
            next_anchor_at += spacing;
        } else if (words_left == 0) {
            piece.insert(0, "</p>\n<p>");
            words_left = next_paragraph_words();
        }
        if (page.size() + piece.size() + 1 + tail.size() > page_bytes) break;
        page += piece;
        page += ' ';
    }
    page.append(page_bytes - tail.size() - page.size(), ' ');
    page += tail;
    return page;
}

const std::string& page() {
    static const std::string text = make_page();
    return text;
}

bool check_page(benchmark::State& state) {
    const auto links = extract_links(page(), page_url);
    if (page().size() != page_bytes || links.size() != distinct_links) {
        state.SkipWithError("the generated page is not the page this benchmark describes");
        return false;
    }
    return true;
}

void BM_extract_links_16k_page(benchmark::State& state) {
    if (!check_page(state)) return;
    for (auto _ : state) {
        auto links = extract_links(page(), page_url);
        benchmark::DoNotOptimize(links);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page().size()));
}
BENCHMARK(BM_extract_links_16k_page);

// A page exactly as the origin serves it (default site: 16 KiB, 8 links and every link shape).
void BM_extract_links_of_a_site_page(benchmark::State& state) {
    Spec spec;
    rosetta::Site site(rosetta::SiteParams::from(spec, "127.0.0.1:8080"));
    const std::string page = site.page_html(7);
    for (auto _ : state) {
        auto links = extract_links(page, "http://127.0.0.1:8080/p/7");
        benchmark::DoNotOptimize(links.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page.size()));
}
BENCHMARK(BM_extract_links_of_a_site_page);

void extract_links_in_segments(benchmark::State& state, LinkExtractor::Feed feed) {
    if (!check_page(state)) return;
    const std::string_view text = page();
    for (auto _ : state) {
        LinkExtractor extractor(feed);
        for (std::size_t at = 0; at < text.size(); at += segment_bytes)
            extractor.feed(text.substr(at, segment_bytes));
        extractor.finish();
        auto links = resolve_links(extractor, page_url);
        benchmark::DoNotOptimize(links);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void BM_extract_links_16k_page_in_1460_byte_segments(benchmark::State& state) {
    extract_links_in_segments(state, LinkExtractor::Feed::skip_text);
}
BENCHMARK(BM_extract_links_16k_page_in_1460_byte_segments);

// The same two without the pre-pass: what libxml2 2.9 costs on its own.
void BM_extract_links_16k_page_libxml2_alone(benchmark::State& state) {
    if (!check_page(state)) return;
    for (auto _ : state) {
        LinkExtractor extractor(LinkExtractor::Feed::every_byte);
        extractor.feed(page());
        extractor.finish();
        auto links = resolve_links(extractor, page_url);
        benchmark::DoNotOptimize(links);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page().size()));
}
BENCHMARK(BM_extract_links_16k_page_libxml2_alone);

void BM_extract_links_16k_page_in_1460_byte_segments_libxml2_alone(benchmark::State& state) {
    extract_links_in_segments(state, LinkExtractor::Feed::every_byte);
}
BENCHMARK(BM_extract_links_16k_page_in_1460_byte_segments_libxml2_alone);

// The parts. Setup: a parser context with its dictionary and input buffer, nothing parsed.
void BM_link_extractor_setup_only(benchmark::State& state) {
    for (auto _ : state) {
        LinkExtractor extractor;
        benchmark::DoNotOptimize(extractor);
    }
}
BENCHMARK(BM_link_extractor_setup_only);

// Setup and parsing, no URL work.
void BM_link_extractor_parse_16k_page(benchmark::State& state) {
    for (auto _ : state) {
        LinkExtractor extractor;
        extractor.feed(page());
        extractor.finish();
        benchmark::DoNotOptimize(extractor.hrefs().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page().size()));
}
BENCHMARK(BM_link_extractor_parse_16k_page);

// 16 KiB of table rows, a link in each: markup with runs of text too short to be worth skipping,
// where the pre-pass should cost nothing measurable. Parsing only, the URLs are not the point.
const std::string& table_page() {
    static const std::string text = [] {
        std::string rows =
            "<!DOCTYPE html>\n<html><head><title>Index</title></head><body><table>\n";
        const std::string_view tail = "</table></body></html>\n";
        for (int row = 0;; ++row) {
            const std::string id = std::to_string(row);
            std::string line = "<tr><td class=\"n\">" + id + "</td><td><a href=\"/p/" + id +
                               "\">page " + id + "</a></td><td>ok</td></tr>\n";
            if (rows.size() + line.size() + tail.size() > page_bytes) break;
            rows += line;
        }
        rows.append(page_bytes - tail.size() - rows.size(), '\n');
        return rows += tail;
    }();
    return text;
}

void parse_table_page(benchmark::State& state, LinkExtractor::Feed feed) {
    for (auto _ : state) {
        LinkExtractor extractor(feed);
        extractor.feed(table_page());
        extractor.finish();
        benchmark::DoNotOptimize(extractor.hrefs().data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * table_page().size()));
}

void BM_parse_links_of_16k_table_page(benchmark::State& state) {
    parse_table_page(state, LinkExtractor::Feed::skip_text);
}
BENCHMARK(BM_parse_links_of_16k_table_page);

void BM_parse_links_of_16k_table_page_libxml2_alone(benchmark::State& state) {
    parse_table_page(state, LinkExtractor::Feed::every_byte);
}
BENCHMARK(BM_parse_links_of_16k_table_page_libxml2_alone);

// The URL work alone: base, eleven hrefs, normalisation, duplicates.
void BM_resolve_links_of_16k_page(benchmark::State& state) {
    LinkExtractor extractor;
    extractor.feed(page());
    extractor.finish();
    for (auto _ : state) {
        auto links = resolve_links(extractor, page_url);
        benchmark::DoNotOptimize(links);
    }
}
BENCHMARK(BM_resolve_links_of_16k_page);

// What the SAX-only handler saves: libxml2's ordinary use, a whole document tree.
void BM_libxml2_tree_of_16k_page_for_comparison(benchmark::State& state) {
    const int options = HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
    for (auto _ : state) {
        htmlDocPtr document = htmlReadMemory(page().data(), static_cast<int>(page().size()),
                                             nullptr, "UTF-8", options);
        benchmark::DoNotOptimize(document);
        xmlFreeDoc(document);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page().size()));
}
BENCHMARK(BM_libxml2_tree_of_16k_page_for_comparison);

void BM_resolve_url_relative(benchmark::State& state) {
    for (auto _ : state) {
        auto url = resolve_url(page_url, "../p/9");
        benchmark::DoNotOptimize(url);
    }
}
BENCHMARK(BM_resolve_url_relative);

}  // namespace
}  // namespace rosetta
