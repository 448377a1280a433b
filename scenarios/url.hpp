// URLs with Boost.URL: resolution, normalisation, same-origin. Every URL a crawler stores or
// compares goes through normalize_url or resolve_url first, so two spellings of one resource
// ("HTTP://Host:80/a/./b%7e" and "http://host/a/b~") become one string and are fetched once.
#pragma once

#include <boost/url/url.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace rosetta {

// Resolves href against base (an absolute URL) per RFC 3986 (boost::urls::resolve), normalises
// (scheme/host lowercase, percent-encoding normalised, dot segments removed, empty path -> "/",
// default port 80 for http dropped), removes the fragment. nullopt if href is unparseable or the
// result is not http/https (mailto:, javascript:, data: …).
//
// Also dropped: a base that is not an absolute URL, and results without a host ("http:g" is a
// valid RFC 3986 answer but names nothing we could connect to). Percent-encoding normalised means
// RFC 3986 6.2.2: hex digits uppercased, unreserved octets decoded ("%7e" -> "~"); other octets
// keep their escape ("%2F" stays "%2F", it is not the same path as "/"). https drops 443. An
// href with a space or a raw non-ASCII byte is not RFC 3986 and is refused, where a browser
// would percent-encode it first.
std::optional<std::string> resolve_url(std::string_view base, std::string_view href);

// Same normalisation of an absolute URL; nullopt if not an absolute http(s) URL.
std::optional<std::string> normalize_url(std::string_view absolute);

// True when url (absolute) is http and its host:port equals authority ("127.0.0.1:8080"; a URL
// without port means 80). Case-insensitive host.
bool same_origin(std::string_view url, std::string_view authority);

// The request target of an absolute URL: path plus "?query" if any; "/" when the path is empty.
// Throws std::invalid_argument if url is not an absolute URL.
std::string request_target(std::string_view url);

// An absolute path ("/p/3?x") normalised as a URL's path would be: dot segments removed,
// unreserved escapes decoded, the fragment dropped ("/p/../p/3#f" and "/p/%33" are "/p/3").
// nullopt when text does not start with exactly one '/' ("//host/p" names another host) or
// is not a valid path.
std::optional<std::string> normalize_path(std::string_view text);

// "http://" + authority + path, normalised. Throws std::invalid_argument if that is not a URL.
std::string absolute_url(std::string_view authority, std::string_view path);

// One base, parsed and normalised once, for many hrefs: a page's dozen links share it.
// resolve_url(base, href) == UrlResolver(base).resolve(href). Owns its copy of the base.
//
// Like a browser, it resolves against the normalised base. RFC 3986 merges with the base path
// as written, which differs only for a base whose last segment is a dot segment: against
// "http://a/b/..", "d" is "http://a/d" here and "http://a/b/d" in the RFC's letter.
class UrlResolver {
public:
    // A base that is not an absolute http(s) URL makes every resolve() return nullopt.
    explicit UrlResolver(std::string_view base);

    std::optional<std::string> resolve(std::string_view href) const;
    // The normalised base, nullopt when it is unusable.
    const std::optional<std::string>& base() const { return base_; }

private:
    std::optional<std::string> base_;
    boost::urls::url shielded_base_;  // base_ prepared for Boost.URL, see shield() in url.cpp
};

}  // namespace rosetta
