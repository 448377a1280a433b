#include "scenarios/links.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <unordered_set>

#include "scenarios/url.hpp"

namespace rosetta {

namespace {

// libxml2 wants its globals set up once before threads parse concurrently; the parser would
// otherwise do it lazily, and racily, on first use. A magic static makes it once per process.
void init_libxml2_once() {
    static const bool initialised = (xmlInitParser(), true);
    static_cast<void>(initialised);
}

std::string_view trim_html_space(std::string_view text) {
    constexpr std::string_view space = " \t\n\f\r";
    const auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(space) - first + 1);
}

// The value of attribute `name` in libxml2's NULL-terminated name/value list; nullopt when the
// attribute is absent, "" for a bare attribute (<a href>), whose value libxml2 gives as NULL.
std::optional<std::string_view> attribute(const xmlChar** attributes, const char* name) {
    if (attributes == nullptr) return std::nullopt;
    for (; attributes[0] != nullptr; attributes += 2) {
        if (std::strcmp(reinterpret_cast<const char*>(attributes[0]), name) != 0) continue;
        if (attributes[1] == nullptr) return std::string_view{};
        return std::string_view(reinterpret_cast<const char*>(attributes[1]));
    }
    return std::nullopt;
}

void ignore_message(void*, const char*, ...) {}

// ---------------------------------------------------------------------------------------------
// The pre-pass: text goes around libxml2.
//
// Why: libxml2 2.9 reads text one character at a time (htmlCurrentChar, then a copy into its
// buffer, then a test for '<' and '&'), about 75 instructions a byte whatever the options or SAX
// callbacks. Measured with callgrind on the benchmark's 16 KiB page of prose: 1.6 million
// instructions an extraction, of which the text is 1.3 million, against 0.2 million for the
// markup and 0.1 million to resolve the eleven URLs. Text never holds a link.
//
// How: feed() hands libxml2 every byte except runs of text, and it drops a run only when libxml2
// itself says it is about to read one. After forwarding up to a '>', it asks the parser context:
// has libxml2 parsed everything it was given, and is it in element content (XML_PARSER_CONTENT)?
// Then the bytes up to the next '<' are character data, or the body of a <script> or <style>
// (which libxml2 ends only at a "</", and a run without '<' holds none), and memchr skips them.
// libxml2 still decides what is a tag, an attribute value holding '>', a comment, a doctype,
// where a script ends (in 2.9 at any "</" and a letter, and an end tag such as </p> or </div>
// may close it, depending on the open elements), and whether <title> or <textarea> hold markup
// (in 2.9 they do). A lexical state machine would have to repeat all of that, element stack
// included, and where it erred it would drop bytes libxml2 reads as markup; asking cannot
// disagree with libxml2. In the same spirit, a '<' followed by a letter, '/', '!' or '?' ends
// the run even where libxml2 would read it as text (inside a script), and every byte after it
// goes to libxml2 until libxml2 says it is back in text.
//
// Dropping a run must leave libxml2's state as if it had read it. Two things in 2.9 depend on
// text, and both are kept:
//  - Text directly in <html> or <head>, or before any element, makes libxml2 open an implied
//    <p>, which changes the element stack (and so which end tag closes a later <script>). The
//    question says no there, so that text reaches libxml2; it is rare.
//  - The first malformed UTF-8 sequence switches libxml2 to ISO-8859-1 for the rest of the
//    document, attribute values included. Dropped text is checked with libxml2's own rules
//    (Utf8Check) and, at the first bad sequence, one stray continuation byte is forwarded in its
//    place, so libxml2 switches at the same point.
//
// Result: 0.39 million instructions for the page above, a quarter of libxml2 alone.
//
// Accepted costs: each question is an htmlParseChunk call, about 400 instructions, so it is asked
// only where at least min_skipped_run bytes of text follow the '>' (or the chunk ends first).
// Markup-dense pages (tables, lists) ask almost nothing but pay for the two memchr calls per tag
// that find the '>' and look past it: 3% more than libxml2 alone on the benchmark's table page.
// Markup itself is no cheaper: libxml2 still reads every tag, comment and script byte by byte, so
// a page that is mostly script gains little. The question reads four fields of libxml2's parser
// context (instate, name, input->cur, input->end), public in 2.9; a libxml2 whose push parser
// used them differently would fail the differential tests in links_test.cpp. And where libxml2
// 2.9's own answer depends on how the body is split (an unclosed comment opened as "<!-->" runs
// to the end of whatever libxml2 holds at the time), there is no one answer to keep: the pre-pass
// gives the answer libxml2 gives for the split it makes.
// ---------------------------------------------------------------------------------------------

// Short runs are forwarded rather than asked about: a question costs what libxml2 spends on about
// five bytes of text, and between tags ("</td> <td>") there are seldom more than a few.
constexpr std::size_t min_skipped_run = 16;

// libxml2 2.9 in element content reads "<" as markup when a letter, '/', '!' or '?' follows.
bool may_open_markup(char next) {
    const auto c = static_cast<unsigned char>(next);
    return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '/' || c == '!' || c == '?';
}

// The first '<' in [from, end) that may open markup, or end. A '<' that ends the chunk counts:
// what follows it is not known yet.
const char* find_markup(const char* from, const char* end) {
    for (;;) {
        const auto* lt = static_cast<const char*>(std::memchr(from, '<', end - from));
        if (lt == nullptr) return end;
        if (lt + 1 == end || may_open_markup(lt[1])) return lt;
        from = lt + 1;
    }
}

bool is_ascii(const char* from, const char* end) {
    std::uint64_t seen = 0;
    for (; end - from >= 8; from += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, from, sizeof word);
        seen |= word;
    }
    for (; from != end; ++from) seen |= static_cast<unsigned char>(*from);
    return (seen & 0x8080808080808080u) == 0;
}

// libxml2 2.9's test for well-formed UTF-8 (htmlCurrentChar), byte by byte so that a sequence may
// straddle two feeds: the structure, and no overlong forms (C0, C1, E0 80-9F, F0 80-8F); it lets
// surrogates and code points up to 0x1FFFFF through, so this does too.
class Utf8Check {
public:
    // False at the first malformed byte, read as the continuation of earlier bytes.
    bool accept(const char* from, const char* end) {
        if (continuations_ == 0 && is_ascii(from, end)) return true;
        for (; from != end; ++from) {
            const auto byte = static_cast<unsigned char>(*from);
            if (continuations_ > 0) {
                if (byte < lowest_next_ || byte > 0xBF) return false;
                lowest_next_ = 0x80;
                --continuations_;
            } else if (byte >= 0x80) {
                if (byte < 0xC2 || byte > 0xF7) return false;
                continuations_ = byte < 0xE0 ? 1 : byte < 0xF0 ? 2 : 3;
                lowest_next_ = byte == 0xE0 ? 0xA0 : byte == 0xF0 ? 0x90 : 0x80;
            }
        }
        return true;
    }
    // True when the text may end here: no sequence left unfinished.
    bool complete() const { return continuations_ == 0; }

private:
    int continuations_ = 0;             // still expected in the current sequence
    unsigned char lowest_next_ = 0x80;  // what the next continuation must reach (no overlongs)
};

}  // namespace

struct LinkExtractor::State {
    std::vector<std::string> hrefs;
    std::optional<std::string> base_href;
    htmlParserCtxtPtr parser = nullptr;
    bool finished = false;

    // The pre-pass: see "text goes around libxml2" above.
    const bool skip_text;
    bool in_text = false;      // dropping a run of text libxml2 said it would read as text
    bool utf8_broken = false;  // we have shown libxml2 malformed UTF-8: it reads Latin-1 now
    Utf8Check dropped_utf8;    // the run being dropped, as libxml2 would have read it

    // libxml2 has already lowercased the names and decoded the entities in the values.
    static void on_start_element(void* user_data, const xmlChar* tag, const xmlChar** attributes) {
        auto& state = *static_cast<State*>(user_data);
        const char* name = reinterpret_cast<const char*>(tag);
        if (name[0] == 'a' && name[1] == '\0') {
            auto href = attribute(attributes, "href");
            if (!href) return;
            std::string_view value = trim_html_space(*href);
            if (!value.empty()) state.hrefs.emplace_back(value);
        } else if (!state.base_href && std::strcmp(name, "base") == 0) {
            if (auto href = attribute(attributes, "href")) state.base_href = trim_html_space(*href);
        }
    }

    explicit State(Feed feed) : skip_text(feed == Feed::skip_text) {
        init_libxml2_once();
        // Only startElement: without SAX2's default callbacks libxml2 builds no tree, which
        // would cost 15% more on a typical page. Leaving characters null saves next to nothing:
        // libxml2 walks text one character at a time whether or not anyone listens.
        htmlSAXHandler handler;
        std::memset(&handler, 0, sizeof handler);
        handler.startElement = &State::on_start_element;
        // Broken HTML must print nothing, and two independent locks see to it, each enough on
        // its own: no-op handlers in place of libxml2's defaults, which write to stderr, and
        // NOERROR/NOWARNING below, which clear the handlers so libxml2 has no channel at all.
        // libxml2 still formats each error into the context's last-error record, a cost that
        // only broken pages pay.
        handler.warning = &ignore_message;
        handler.error = &ignore_message;
        handler.fatalError = &ignore_message;
        parser =
            htmlCreatePushParserCtxt(&handler, this, nullptr, 0, nullptr, XML_CHAR_ENCODING_UTF8);
        if (parser == nullptr) throw std::bad_alloc();
        // IGNORE_ENC keeps a <meta charset> from switching the decoder away from UTF-8. Not
        // NOIMPLIED: without an implied <html> around everything, the push parser takes the
        // end of the first top-level element ("<head>…</head>", "<a>…</a>") for the end of
        // the document and ignores every link after it.
        htmlCtxtUseOptions(parser, HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
                                       HTML_PARSE_IGNORE_ENC | HTML_PARSE_NODEFDTD);
    }

    ~State() {
        // Only SAX2 callbacks build a document and we set none, but the context never frees one.
        if (parser->myDoc != nullptr) xmlFreeDoc(parser->myDoc);
        htmlFreeParserCtxt(parser);
    }

    State(const State&) = delete;
    State& operator=(const State&) = delete;

    void forward(const char* from, const char* end) {
        while (from != end) {
            const int size = static_cast<int>(std::min<std::ptrdiff_t>(end - from, INT_MAX));
            htmlParseChunk(parser, from, size, 0);
            from += size;
        }
    }

    // The question: has libxml2 parsed all it was given, and will it read what comes next as
    // the content of an element where text changes nothing? Inside <html> or <head>, or before
    // the first element, text would open an implied <p>.
    bool libxml2_reads_text() const {
        const xmlParserInputPtr input = parser->input;
        if (parser->instate != XML_PARSER_CONTENT || input == nullptr || input->cur != input->end)
            return false;
        const char* name = reinterpret_cast<const char*>(parser->name);
        return name != nullptr && std::strcmp(name, "html") != 0 && std::strcmp(name, "head") != 0;
    }

    // [from, end) is text libxml2 would read; `ends` when markup follows it. Malformed UTF-8 in
    // it is replaced by one byte libxml2 finds as malformed (a lone continuation byte), because
    // the first such sequence switches libxml2 to Latin-1 for every later attribute value.
    void drop_text(const char* from, const char* end, bool ends) {
        if (utf8_broken) return;
        if (dropped_utf8.accept(from, end) && (!ends || dropped_utf8.complete())) return;
        static constexpr char malformed[] = "\x80";
        forward(malformed, malformed + 1);
        utf8_broken = true;
    }

    void feed_skipping_text(const char* at, const char* const end) {
        while (at != end) {
            if (in_text) {
                const char* markup = find_markup(at, end);
                drop_text(at, markup, markup != end);
                if (markup == end) return;
                in_text = false;
                at = markup;
            }
            // Everything from here goes to libxml2 until, after some '>', it says it is back in
            // text; it is asked only where a run worth skipping follows.
            const char* from = at;
            for (;;) {
                const auto* gt = static_cast<const char*>(std::memchr(at, '>', end - at));
                if (gt == nullptr) {
                    forward(from, end);
                    return;
                }
                at = gt + 1;
                const auto ahead = std::min<std::size_t>(end - at, min_skipped_run);
                if (std::memchr(at, '<', ahead) != nullptr) continue;
                forward(from, at);
                from = at;
                if (libxml2_reads_text()) break;
            }
            in_text = true;
        }
    }
};

LinkExtractor::LinkExtractor(Feed feed) : state_(std::make_unique<State>(feed)) {}
LinkExtractor::~LinkExtractor() = default;
LinkExtractor::LinkExtractor(LinkExtractor&&) noexcept = default;
LinkExtractor& LinkExtractor::operator=(LinkExtractor&&) noexcept = default;

void LinkExtractor::feed(std::string_view bytes) {
    if (!state_ || state_->finished) return;
    const char* const end = bytes.data() + bytes.size();
    if (state_->skip_text) {
        state_->feed_skipping_text(bytes.data(), end);
    } else {
        state_->forward(bytes.data(), end);
    }
}

void LinkExtractor::finish() {
    if (!state_ || state_->finished) return;
    htmlParseChunk(state_->parser, nullptr, 0, 1);
    state_->finished = true;
}

const std::vector<std::string>& LinkExtractor::hrefs() const {
    static const std::vector<std::string> none;  // a moved-from extractor has seen nothing
    return state_ ? state_->hrefs : none;
}

const std::optional<std::string>& LinkExtractor::base_href() const {
    static const std::optional<std::string> none;
    return state_ ? state_->base_href : none;
}

std::vector<std::string> resolve_links(const LinkExtractor& links, std::string_view page_url) {
    const UrlResolver page(page_url);
    std::optional<UrlResolver> declared_base;
    if (links.base_href()) {
        if (auto base = page.resolve(*links.base_href())) declared_base.emplace(*base);
    }
    const UrlResolver& resolver = declared_base ? *declared_base : page;

    std::vector<std::string> resolved;
    // Reserved up front so the strings never move: `seen` holds views of them.
    resolved.reserve(links.hrefs().size());
    std::unordered_set<std::string_view> seen;
    seen.reserve(links.hrefs().size());
    for (const std::string& href : links.hrefs()) {
        auto url = resolver.resolve(href);
        if (!url || seen.contains(*url)) continue;
        seen.insert(resolved.emplace_back(*std::move(url)));
    }
    return resolved;
}

std::vector<std::string> extract_links(std::string_view html, std::string_view page_url) {
    LinkExtractor links;
    links.feed(html);
    links.finish();
    return resolve_links(links, page_url);
}

}  // namespace rosetta
