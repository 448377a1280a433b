#include "scenarios/links.hpp"

#include "scenarios/url.hpp"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <unordered_set>

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

}  // namespace

struct LinkExtractor::State {
    std::vector<std::string> hrefs;
    std::optional<std::string> base_href;
    htmlParserCtxtPtr parser = nullptr;
    bool finished = false;

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

    State() {
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
        parser = htmlCreatePushParserCtxt(&handler, this, nullptr, 0, nullptr,
                                          XML_CHAR_ENCODING_UTF8);
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
};

LinkExtractor::LinkExtractor() : state_(std::make_unique<State>()) {}
LinkExtractor::~LinkExtractor() = default;
LinkExtractor::LinkExtractor(LinkExtractor&&) noexcept = default;
LinkExtractor& LinkExtractor::operator=(LinkExtractor&&) noexcept = default;

void LinkExtractor::feed(std::string_view bytes) {
    if (!state_ || state_->finished) return;
    while (!bytes.empty()) {
        const int size = static_cast<int>(std::min<std::size_t>(bytes.size(), INT_MAX));
        htmlParseChunk(state_->parser, bytes.data(), size, 0);
        bytes.remove_prefix(static_cast<std::size_t>(size));
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
