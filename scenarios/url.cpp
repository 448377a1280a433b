#include "scenarios/url.hpp"

#include <boost/url/authority_view.hpp>
#include <boost/url/grammar/ci_string.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <cstdint>
#include <stdexcept>

namespace rosetta {

namespace urls = boost::urls;

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char upper_hex(char c) { return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c; }

// RFC 3986 2.3: the only octets whose escape may be decoded without changing the URL.
bool is_unreserved(int octet) {
    return (octet >= 'a' && octet <= 'z') || (octet >= 'A' && octet <= 'Z') ||
           (octet >= '0' && octet <= '9') || octet == '-' || octet == '.' || octet == '_' ||
           octet == '~';
}

// Boost.URL 1.81's normalize_path(), which resolve() runs on every result, decodes each escaped
// octet that may appear literally in a path, not only the unreserved ones RFC 3986 6.2.2.2
// allows: "a%2Fb" comes out as "a/b", a different resource (normalize_query() likewise turns
// "%26" into '&'). So before Boost.URL sees a URL, every escape of a reserved octet gets its '%'
// escaped ("%2F" -> "%252F"); Boost.URL never decodes "%25" because '%' is never allowed
// literally, and unshield() undoes it afterwards. Unreserved escapes ("%7e") are left for
// Boost.URL to decode. The cost, a copy of each URL and two passes over it, is small beside
// Boost.URL's own parse of it (some 2,400 instructions for a short relative href).
std::string shield(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 8);
    for (std::size_t i = 0; i < text.size(); ++i) {
        out += text[i];
        if (text[i] != '%' || i + 2 >= text.size()) continue;
        int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
        if (high >= 0 && low >= 0 && !is_unreserved(high * 16 + low)) out += "25";
    }
    return out;
}

// Inverse of shield() on Boost.URL's output, uppercasing the hex digits on the way (RFC 3986
// 6.2.2.1). Every '%' left there starts a shielded "%25XX": the others were decoded.
void unshield(std::string& text) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < text.size();) {
        if (text[i] == '%' && i + 4 < text.size() && text.compare(i + 1, 2, "25") == 0 &&
            hex_value(text[i + 3]) >= 0 && hex_value(text[i + 4]) >= 0) {
            text[out++] = '%';
            text[out++] = upper_hex(text[i + 3]);
            text[out++] = upper_hex(text[i + 4]);
            i += 5;
        } else {
            text[out++] = text[i++];
        }
    }
    text.resize(out);
}

// The port a URL or authority connects to; 0 when its port is not a usable number. Not
// port_number(): Boost.URL 1.81 wraps it modulo 65536 (":99999" gives 34463).
template <class UrlOrAuthority>
std::uint16_t effective_port(const UrlOrAuthority& view, std::uint16_t if_absent) {
    if (!view.has_port() || view.port().empty()) return if_absent;
    const std::string_view digits = view.port();
    unsigned value = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error != std::errc() || end != digits.data() + digits.size() || value > 65535) return 0;
    return static_cast<std::uint16_t>(value);
}

// Everything after parsing or resolving, on a shielded url (see shield()): the checks and the
// normalisation of the contract. False when the url is not one we could fetch.
bool normalize_in_place(urls::url& url) {
    const urls::scheme scheme = url.scheme_id();
    if (scheme != urls::scheme::http && scheme != urls::scheme::https) return false;
    if (!url.has_authority() || url.encoded_host().empty()) return false;
    // After an authority the path is empty or starts with '/' (RFC 3986 3.3). Boost.URL 1.81
    // parses "http://a!:..0.80::1/x" as host "a!", an empty port and the path "..0.80::1/x",
    // which prints back as another URL (found by tests/fuzz/url.cpp).
    if (!url.encoded_path().empty() && !url.encoded_path().starts_with('/')) return false;
    const std::uint16_t port = effective_port(url, urls::default_port(scheme));
    if (port == 0) return false;

    url.remove_fragment();
    url.normalize();  // lowercase scheme and host, decode unreserved escapes, remove dot segments
    if (port == urls::default_port(scheme)) {
        url.remove_port();
    } else {
        url.set_port_number(port);  // "08080" -> "8080"
    }

    // Boost.URL 1.81 keeps ".." segments that would climb above the root ("http://a/../g",
    // citing RFC 3986 erratum 4547); RFC 3986 5.4.2 and every browser drop them. They can only
    // lead the path, since any other ".." had a segment to remove.
    std::string_view path = url.encoded_path();
    if (path.starts_with("/..") && (path.size() == 3 || path[3] == '/')) {
        while (path.starts_with("/../")) path.remove_prefix(3);
        url.set_encoded_path(path == "/.." ? std::string() : std::string(path));
    }
    // Not set_encoded_path("/"): in 1.81 that writes "http://a/./".
    if (url.encoded_path().empty()) url.set_path_absolute(true);
    return true;
}

std::string unshielded_text(const urls::url& url) {
    std::string text(url.buffer());
    unshield(text);
    // Boost.URL 1.81 writes some paths with a leading "/." that an authority makes needless:
    // "//x" as "/.//x" (the guard it needs when "//" could be taken for an authority), and "/"
    // as "/./" when set. No normal path starts with a dot segment, so it goes, and normalising
    // the result again changes nothing (found by tests/fuzz/url.cpp).
    const std::size_t path = text.find('/', text.find("://") + 3);
    if (path != std::string::npos && text.compare(path, 3, "/./") == 0) text.erase(path, 2);
    return text;
}

std::optional<std::string> finish(urls::url& url) {
    if (!normalize_in_place(url)) return std::nullopt;
    return unshielded_text(url);
}

}  // namespace

UrlResolver::UrlResolver(std::string_view base) {
    const std::string shielded = shield(base);
    auto parsed = urls::parse_uri(shielded);
    if (!parsed) return;
    shielded_base_ = *parsed;
    if (normalize_in_place(shielded_base_)) base_ = unshielded_text(shielded_base_);
}

std::optional<std::string> UrlResolver::resolve(std::string_view href) const {
    if (!base_) return std::nullopt;
    const std::string shielded_href = shield(href);
    auto ref = urls::parse_uri_reference(shielded_href);
    if (!ref) return std::nullopt;
    urls::url result;
    if (!urls::resolve(shielded_base_, *ref, result)) return std::nullopt;
    return finish(result);
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view href) {
    return UrlResolver(base).resolve(href);
}

std::optional<std::string> normalize_url(std::string_view absolute) {
    const std::string shielded = shield(absolute);
    auto parsed = urls::parse_uri(shielded);
    if (!parsed) return std::nullopt;
    urls::url url(*parsed);
    return finish(url);
}

bool same_origin(std::string_view url, std::string_view authority) {
    auto parsed_url = urls::parse_uri(url);
    if (!parsed_url || parsed_url->scheme_id() != urls::scheme::http) return false;
    if (!parsed_url->has_authority()) return false;
    auto parsed_authority = urls::parse_authority(authority);
    if (!parsed_authority) return false;
    const std::uint16_t port = effective_port(*parsed_url, 80);
    return port != 0 && port == effective_port(*parsed_authority, 80) &&
           urls::grammar::ci_is_equal(parsed_url->encoded_host(), parsed_authority->encoded_host());
}

std::string request_target(std::string_view url) {
    auto parsed = urls::parse_uri(url);
    if (!parsed) throw std::invalid_argument("not an absolute URL: " + std::string(url));
    std::string target = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    if (parsed->has_query()) {
        target += '?';
        target += parsed->encoded_query();
    }
    return target;
}

std::optional<std::string> normalize_path(std::string_view text) {
    if (!text.starts_with('/') || text.starts_with("//")) return std::nullopt;
    // Any authority will do: only the path and query of the result are kept.
    auto url = normalize_url("http://host" + std::string(text));
    if (!url) return std::nullopt;
    return request_target(*url);
}

std::string absolute_url(std::string_view authority, std::string_view path) {
    std::string text = "http://";
    text += authority;
    if (!path.empty() && path.front() != '/' && path.front() != '?') text += '/';
    text += path;
    auto normal = normalize_url(text);
    if (!normal) throw std::invalid_argument("not a URL: " + text);
    return *std::move(normal);
}

}  // namespace rosetta
