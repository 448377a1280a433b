// <a href> and <base href> from HTML with libxml2's HTML push parser, fed as bytes arrive (the
// crawler feeds each body chunk as it comes off the socket), so no model has to buffer a whole
// body to find its links.
//
// What libxml2 does for us, and the tests pin: tag and attribute names are lowercased
// (<A HREF=7>), entities in attribute values are decoded ("?a=1&amp;b=&#55;"), unquoted and
// single-quoted values parse, and <script>/<style> bodies and comments are not markup, so an
// <a> inside them is no link. Broken HTML (unclosed tags, stray end tags) is recovered from
// silently. Bytes are taken as UTF-8 whatever a <meta charset> says.
//
// Where libxml2 2.9 parts from a browser, accepted because a well-formed page never goes there:
// after an explicit </html> it ignores the rest of the document, links included (</body> is
// fine); and after the first byte that is not UTF-8 it decodes the rest as ISO-8859-1, which
// leaves ASCII hrefs alone (and resolve_url refuses the others anyway).
//
// Cost: libxml2 2.9's HTML parser walks text one character at a time, about 75 instructions a
// byte whatever the options or SAX callbacks, so a 16 KiB page of prose would cost 1.6 million
// instructions before a single URL is resolved. Text never holds a link, so feed() keeps from
// libxml2 the runs of text it has said it is about to read as text (the pre-pass in links.cpp),
// which brings that page to 0.39 million; bench/micro/links_bench.cpp measures both ways.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rosetta {

class LinkExtractor {
public:
    // Which bytes reach libxml2. skip_text gives the same hrefs and base as every_byte, only
    // sooner; every_byte is libxml2 alone, the reference the tests and benchmarks compare with.
    enum class Feed { skip_text, every_byte };

    explicit LinkExtractor(Feed feed = Feed::skip_text);
    ~LinkExtractor();
    LinkExtractor(const LinkExtractor&) = delete;
    LinkExtractor& operator=(const LinkExtractor&) = delete;
    LinkExtractor(LinkExtractor&&) noexcept;
    LinkExtractor& operator=(LinkExtractor&&) noexcept;

    // Any split, even one byte at a time. libxml2 buffers what it cannot parse yet, so a feed
    // costs a copy into that buffer plus the parsing it unblocks. Ignored after finish().
    void feed(std::string_view bytes);
    // End of body: parses what was held back waiting for more. Idempotent.
    void finish();

    // Raw href values of <a> in document order: entities decoded, surrounding whitespace
    // trimmed, empty ones skipped. Complete only after finish().
    const std::vector<std::string>& hrefs() const;
    // The FIRST <base href> (trimmed, possibly empty), wherever it stands in the document.
    const std::optional<std::string>& base_href() const;

private:
    struct State;  // behind a pointer: libxml2 holds its address across moves
    std::unique_ptr<State> state_;
};

// Resolves hrefs against <base href> (itself resolved against page_url) if present, else against
// page_url; unusable ones dropped; fragments removed; duplicates removed keeping first occurrence.
// A <base href> that does not resolve to an http(s) URL is ignored, as browsers do.
std::vector<std::string> resolve_links(const LinkExtractor& links, std::string_view page_url);

// Convenience: feed + finish + resolve.
std::vector<std::string> extract_links(std::string_view html, std::string_view page_url);

}  // namespace rosetta
