// The crawler's link extractor (scenarios/links.hpp: libxml2's HTML push parser, and a pre-pass
// that keeps text from it) fed arbitrary bytes, then its hrefs resolved against a page URL.
// Every resolved link must be an absolute http(s) URL with no fragment. And the pre-pass must
// not change what libxml2 finds: its hrefs, whole or in pieces, are libxml2's alone
// (Feed::every_byte) -- wherever libxml2 alone has one answer. It does not always: an unclosed
// quote or comment runs to the end of what it holds at the time, so its answer depends on the
// split (links.cpp says so), and the pre-pass splits after a '>'. Nor where bytes are not UTF-8:
// libxml2 decodes the rest as ISO-8859-1 from where it notices, which depends on the split too,
// and the pre-pass hands it a stand-in for malformed text it drops. Nor where a tag holds an odd
// number of quotes: libxml2's recovery then decides where values end from what it holds. An
// input counts when it is UTF-8, its tags' quotes pair up, and libxml2 alone gives the same
// hrefs whole, in the fuzzer's pieces and cut after every '>'. (The first four findings were of
// those kinds: an unclosed href="..." that ended at a '>' or ran on.)
#include "scenarios/links.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "fuzz.hpp"

namespace {

using rosetta::LinkExtractor;

// The hrefs (and base) of html fed in the given pieces: each a length, the last repeated.
std::vector<std::string> hrefs(std::string_view html, LinkExtractor::Feed feed,
                               const std::vector<std::size_t>& pieces) {
    LinkExtractor links(feed);
    std::size_t at = 0;
    for (std::size_t i = 0; at < html.size(); ++i) {
        const std::size_t piece = pieces[std::min(i, pieces.size() - 1)];
        links.feed(html.substr(at, piece));
        at += piece;
    }
    links.finish();
    std::vector<std::string> all = links.hrefs();
    if (links.base_href()) all.push_back("base:" + *links.base_href());
    return all;
}

bool valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        const std::size_t length = lead < 0x80                   ? 1
                                   : lead >= 0xc2 && lead < 0xe0 ? 2
                                   : lead >= 0xe0 && lead < 0xf0 ? 3
                                   : lead >= 0xf0 && lead < 0xf5 ? 4
                                                                 : 0;
        if (length == 0 || i + length > text.size()) return false;
        for (std::size_t k = 1; k < length; ++k)
            if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
        i += length;
    }
    return true;
}

// Every '<' to the next '>' holds an even number of each quote.
bool quotes_pair_up(std::string_view html) {
    for (std::size_t lt = html.find('<'); lt != std::string_view::npos;
         lt = html.find('<', lt + 1)) {
        const std::string_view tag = html.substr(lt, html.find('>', lt) - lt);
        if (std::ranges::count(tag, '"') % 2 != 0 || std::ranges::count(tag, '\'') % 2 != 0)
            return false;
    }
    return true;
}

// Pieces that end after every '>'.
std::vector<std::size_t> after_each_gt(std::string_view html) {
    std::vector<std::size_t> pieces;
    std::size_t from = 0;
    for (std::size_t gt = html.find('>'); gt != std::string_view::npos;
         gt = html.find('>', gt + 1)) {
        pieces.push_back(gt + 1 - from);
        from = gt + 1;
    }
    pieces.push_back(html.size() - from + 1);
    return pieces;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rosetta::fuzz::Input input(data, size);
    const std::size_t piece = std::size_t{input.byte()} * 8 + 1;
    const std::string_view html = input.rest();
    const std::vector<std::size_t> whole{html.size() + 1}, pieces{piece};
    const auto alone = hrefs(html, LinkExtractor::Feed::every_byte, whole);
    if (valid_utf8(html) && quotes_pair_up(html) &&
        alone == hrefs(html, LinkExtractor::Feed::every_byte, pieces) &&
        alone == hrefs(html, LinkExtractor::Feed::every_byte, after_each_gt(html))) {
        ROSETTA_FUZZ_CHECK(hrefs(html, LinkExtractor::Feed::skip_text, whole) == alone);
        ROSETTA_FUZZ_CHECK(hrefs(html, LinkExtractor::Feed::skip_text, pieces) == alone);
    }
    for (const std::string& url : rosetta::extract_links(html, "http://127.0.0.1:8080/p/1")) {
        ROSETTA_FUZZ_CHECK(url.starts_with("http://") || url.starts_with("https://"));
        ROSETTA_FUZZ_CHECK(url.find('#') == std::string::npos);
    }
    return 0;
}
