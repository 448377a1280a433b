#include "scenarios/url.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rosetta {
namespace {

struct Example {
    std::string_view href;
    std::optional<std::string_view> expected;  // nullopt: resolve_url must refuse it
};

constexpr std::string_view rfc_base = "http://a/b/c/d;p?q";

void expect_resolutions(std::string_view base, const std::vector<Example>& examples) {
    for (const Example& example : examples) {
        const std::optional<std::string> actual = resolve_url(base, example.href);
        if (example.expected) {
            EXPECT_EQ(actual, std::optional<std::string>(*example.expected))
                << "href \"" << example.href << "\"";
        } else {
            EXPECT_EQ(actual, std::nullopt) << "href \"" << example.href << "\"";
        }
    }
}

// RFC 3986 5.4.1, with our two deliberate differences: fragments are removed ("g#s" is
// "http://a/b/c/g") and an empty path becomes "/" ("//g" is "http://g/"). "g:h" is a fine URI
// but not http, so it is refused.
TEST(ResolveUrl, follows_the_rfc_3986_normal_examples) {
    expect_resolutions(rfc_base,
                       {
                           {"g:h", std::nullopt},         {"g", "http://a/b/c/g"},
                           {"./g", "http://a/b/c/g"},     {"g/", "http://a/b/c/g/"},
                           {"/g", "http://a/g"},          {"//g", "http://g/"},
                           {"?y", "http://a/b/c/d;p?y"},  {"g?y", "http://a/b/c/g?y"},
                           {"#s", "http://a/b/c/d;p?q"},  {"g#s", "http://a/b/c/g"},
                           {"g?y#s", "http://a/b/c/g?y"}, {";x", "http://a/b/c/;x"},
                           {"g;x", "http://a/b/c/g;x"},   {"g;x?y#s", "http://a/b/c/g;x?y"},
                           {"", "http://a/b/c/d;p?q"},    {".", "http://a/b/c/"},
                           {"./", "http://a/b/c/"},       {"..", "http://a/b/"},
                           {"../", "http://a/b/"},        {"../g", "http://a/b/g"},
                           {"../..", "http://a/"},        {"../../", "http://a/"},
                           {"../../g", "http://a/g"},
                       });
}

// RFC 3986 5.4.2. Boost.URL 1.81 alone gives "http://a/../g" for the first, second and fourth
// (it keeps ".." above the root); we follow the RFC. "http:g" is "http:g" for a strict parser,
// an http URL without a host, which nobody can fetch, so it is refused.
TEST(ResolveUrl, follows_the_rfc_3986_abnormal_examples) {
    expect_resolutions(rfc_base, {
                                     {"../../../g", "http://a/g"},
                                     {"../../../../g", "http://a/g"},
                                     {"/./g", "http://a/g"},
                                     {"/../g", "http://a/g"},
                                     {"g.", "http://a/b/c/g."},
                                     {".g", "http://a/b/c/.g"},
                                     {"g..", "http://a/b/c/g.."},
                                     {"..g", "http://a/b/c/..g"},
                                     {"./../g", "http://a/b/g"},
                                     {"./g/.", "http://a/b/c/g/"},
                                     {"g/./h", "http://a/b/c/g/h"},
                                     {"g/../h", "http://a/b/c/h"},
                                     {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
                                     {"g;x=1/../y", "http://a/b/c/y"},
                                     {"g?y/./x", "http://a/b/c/g?y/./x"},
                                     {"g?y/../x", "http://a/b/c/g?y/../x"},
                                     {"g#s/./x", "http://a/b/c/g"},
                                     {"g#s/../x", "http://a/b/c/g"},
                                     {"http:g", std::nullopt},
                                 });
}

TEST(ResolveUrl, resolves_the_link_shapes_the_origin_serves) {
    expect_resolutions("http://127.0.0.1:8080/p/3",
                       {
                           {"7", "http://127.0.0.1:8080/p/7"},
                           {"./7", "http://127.0.0.1:8080/p/7"},
                           {"../p/7", "http://127.0.0.1:8080/p/7"},
                           {"/p/7", "http://127.0.0.1:8080/p/7"},
                           {"http://127.0.0.1:8080/p/7#top", "http://127.0.0.1:8080/p/7"},
                           {"http://off.example/p/7", "http://off.example/p/7"},
                           {"#section", "http://127.0.0.1:8080/p/3"},
                       });
}

TEST(ResolveUrl, normalises_what_it_resolves) {
    expect_resolutions("http://a/b/c",
                       {
                           {"HTTP://Example.COM:80/x/../Y/%7euser", "http://example.com/Y/~user"},
                           {"//Other.Example:8080/./z", "http://other.example:8080/z"},
                           {"d/%2e%2E/e", "http://a/b/e"},
                           {"HTTPS://S.Example:443", "https://s.example/"},
                       });
}

TEST(ResolveUrl, rejects_non_http_schemes) {
    expect_resolutions("http://a/b/c", {
                                           {"mailto:someone@example.com", std::nullopt},
                                           {"javascript:void(0)", std::nullopt},
                                           {"JavaScript:alert(1)", std::nullopt},
                                           {"data:text/html,<p>hi</p>", std::nullopt},
                                           {"ftp://a/file", std::nullopt},
                                           {"tel:+15551234567", std::nullopt},
                                       });
}

TEST(ResolveUrl, rejects_unparseable_hrefs) {
    expect_resolutions("http://a/b/c", {
                                           {"has space", std::nullopt},
                                           {"bad%zzescape", std::nullopt},
                                           {"trailing%", std::nullopt},
                                           {"http://[::1/", std::nullopt},
                                           {"http://a:99999/", std::nullopt},
                                           {"http://a:0/", std::nullopt},
                                       });
}

TEST(ResolveUrl, rejects_everything_against_a_base_that_is_not_an_absolute_http_url) {
    EXPECT_EQ(resolve_url("/relative/base", "g"), std::nullopt);
    EXPECT_EQ(resolve_url("mailto:x@example.com", "g"), std::nullopt);
    EXPECT_EQ(resolve_url("", "http://a/"), std::nullopt);
}

// Boost.URL 1.81's own path normalisation would turn "%2F" into "/", another resource.
TEST(ResolveUrl, keeps_escaped_reserved_characters_escaped) {
    expect_resolutions("http://a/b/c", {
                                           {"x%2fy", "http://a/b/x%2Fy"},
                                           {"x%3Ay%40z", "http://a/b/x%3Ay%40z"},
                                           {"q?a=1%26b%3D2", "http://a/b/q?a=1%26b%3D2"},
                                           {"literal%2525", "http://a/b/literal%2525"},
                                       });
}

TEST(NormalizeUrl, lowercases_scheme_and_host_but_not_path_or_query) {
    EXPECT_EQ(normalize_url("HTTP://WWW.Example.COM/A/B?C=D"), "http://www.example.com/A/B?C=D");
    EXPECT_EQ(normalize_url("hTtPs://Example.com/"), "https://example.com/");
}

TEST(NormalizeUrl, drops_the_default_port_of_the_scheme_only) {
    EXPECT_EQ(normalize_url("http://a:80/x"), "http://a/x");
    EXPECT_EQ(normalize_url("https://a:443/x"), "https://a/x");
    EXPECT_EQ(normalize_url("http://a:443/x"), "http://a:443/x");
    EXPECT_EQ(normalize_url("https://a:80/x"), "https://a:80/x");
    EXPECT_EQ(normalize_url("http://a:8080/x"), "http://a:8080/x");
    EXPECT_EQ(normalize_url("http://a:/x"), "http://a/x");
    EXPECT_EQ(normalize_url("http://a:0080/x"), "http://a/x");
    EXPECT_EQ(normalize_url("http://a:08080/x"), "http://a:8080/x");
}

TEST(NormalizeUrl, removes_dot_segments) {
    EXPECT_EQ(normalize_url("http://a/b/./c/../d"), "http://a/b/d");
    EXPECT_EQ(normalize_url("http://a/../../x"), "http://a/x");
    EXPECT_EQ(normalize_url("http://a/b/.."), "http://a/");
    EXPECT_EQ(normalize_url("http://a/.."), "http://a/");
    EXPECT_EQ(normalize_url("http://a/..x/.y"), "http://a/..x/.y");
}

TEST(NormalizeUrl, decodes_unreserved_escapes_and_uppercases_the_rest) {
    EXPECT_EQ(normalize_url("http://a/%7euser/%7E%41%2d%5F%2E"), "http://a/~user/~A-_.");
    EXPECT_EQ(normalize_url("http://a/x%2fy%3a"), "http://a/x%2Fy%3A");
    EXPECT_EQ(normalize_url("http://a/?q=%7e%26%e2%82%ac"), "http://a/?q=~%26%E2%82%AC");
    EXPECT_EQ(normalize_url("http://%41.example/"), "http://a.example/");
}

TEST(NormalizeUrl, gives_an_empty_path_the_root_and_removes_the_fragment) {
    EXPECT_EQ(normalize_url("http://a"), "http://a/");
    EXPECT_EQ(normalize_url("http://a?q"), "http://a/?q");
    EXPECT_EQ(normalize_url("http://a:80#top"), "http://a/");
    EXPECT_EQ(normalize_url("http://a/b?q#top"), "http://a/b?q");
}

TEST(NormalizeUrl, rejects_what_is_not_an_absolute_http_url) {
    for (std::string_view text : {"", "/p/1", "p/1", "//a/p", "ftp://a/", "mailto:x@example.com",
                                  "http:g", "http:///x", "http://a b/", "http://a:70000/"}) {
        EXPECT_EQ(normalize_url(text), std::nullopt) << "\"" << text << "\"";
    }
}

TEST(NormalizeUrl, is_idempotent) {
    for (std::string_view text : {"HTTP://A:80/b/../%7ec%2f?x=%2525#f", "http://a/%252F",
                                  "https://[::1]:443/", "http://a/b/c/./../../g"}) {
        const auto once = normalize_url(text);
        ASSERT_TRUE(once) << text;
        EXPECT_EQ(normalize_url(*once), once) << text;
    }
}

TEST(SameOrigin, matches_host_and_port) {
    EXPECT_TRUE(same_origin("http://127.0.0.1:8080/p/1", "127.0.0.1:8080"));
    EXPECT_TRUE(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
}

TEST(SameOrigin, takes_a_missing_port_as_80_on_either_side) {
    EXPECT_TRUE(same_origin("http://example.com/x", "example.com:80"));
    EXPECT_TRUE(same_origin("http://example.com:80/x", "example.com"));
    EXPECT_TRUE(same_origin("http://example.com/x", "example.com"));
    EXPECT_FALSE(same_origin("http://example.com/x", "example.com:8080"));
}

TEST(SameOrigin, compares_hosts_case_insensitively) {
    EXPECT_TRUE(same_origin("http://LocalHost:8080/", "localhost:8080"));
    EXPECT_TRUE(same_origin("HTTP://localhost:8080/", "LOCALHOST:8080"));
}

TEST(SameOrigin, refuses_https_other_ports_other_hosts_and_garbage) {
    EXPECT_FALSE(same_origin("https://127.0.0.1:8080/", "127.0.0.1:8080"));
    EXPECT_FALSE(same_origin("http://127.0.0.1:8081/", "127.0.0.1:8080"));
    EXPECT_FALSE(same_origin("http://127.0.0.2:8080/", "127.0.0.1:8080"));
    EXPECT_FALSE(same_origin("http://localhost:8080/", "127.0.0.1:8080"));
    EXPECT_FALSE(same_origin("/p/1", "127.0.0.1:8080"));
    EXPECT_FALSE(same_origin("http://a:99999/", "a:34463"));
    EXPECT_FALSE(same_origin("http://a/", "a b"));
}

TEST(RequestTarget, is_the_path_and_query) {
    EXPECT_EQ(request_target("http://a:8080/p/7"), "/p/7");
    EXPECT_EQ(request_target("http://a/p/7?x=1&y=%2F"), "/p/7?x=1&y=%2F");
    EXPECT_EQ(request_target("http://a/p/7#top"), "/p/7");
}

TEST(RequestTarget, is_the_root_for_an_empty_path) {
    EXPECT_EQ(request_target("http://a"), "/");
    EXPECT_EQ(request_target("http://a?q=1"), "/?q=1");
}

TEST(RequestTarget, throws_for_a_relative_url) {
    EXPECT_THROW(request_target("/p/7"), std::invalid_argument);
}

TEST(AbsoluteUrl, joins_authority_and_path_and_normalises) {
    EXPECT_EQ(absolute_url("127.0.0.1:8080", "/p/7"), "http://127.0.0.1:8080/p/7");
    EXPECT_EQ(absolute_url("127.0.0.1:8080", "/"), "http://127.0.0.1:8080/");
    EXPECT_EQ(absolute_url("127.0.0.1:8080", ""), "http://127.0.0.1:8080/");
    EXPECT_EQ(absolute_url("Example.COM:80", "/a/./b/../c?q"), "http://example.com/a/c?q");
    EXPECT_EQ(absolute_url("127.0.0.1:8080", "p/7"), "http://127.0.0.1:8080/p/7");
    EXPECT_THROW(absolute_url("a b", "/"), std::invalid_argument);
}

TEST(NormalizePath, gives_a_path_as_a_crawler_would_fetch_it) {
    EXPECT_EQ(normalize_path("/"), "/");
    EXPECT_EQ(normalize_path("/p/3"), "/p/3");
    EXPECT_EQ(normalize_path("/p/../p/3"), "/p/3");
    EXPECT_EQ(normalize_path("/p/3#fragment"), "/p/3");
    EXPECT_EQ(normalize_path("/p/%33"), "/p/3");
    EXPECT_EQ(normalize_path("/../p/3?x=%7e"), "/p/3?x=~");
    EXPECT_EQ(normalize_path("/a%2Fb"), "/a%2Fb") << "a reserved escape is another resource";
}

TEST(NormalizePath, refuses_what_is_not_an_absolute_path) {
    EXPECT_EQ(normalize_path(""), std::nullopt);
    EXPECT_EQ(normalize_path("p/3"), std::nullopt);
    EXPECT_EQ(normalize_path("//other/p/1"), std::nullopt)
        << "a network-path reference names another host";
    EXPECT_EQ(normalize_path("http://127.0.0.1:1/p/1"), std::nullopt);
    EXPECT_EQ(normalize_path("/p 3"), std::nullopt);
}

TEST(UrlResolver, resolves_like_resolve_url_with_one_parse_of_the_base) {
    const UrlResolver resolver("HTTP://A:80/b/c/d;p?q");
    EXPECT_EQ(resolver.base(), "http://a/b/c/d;p?q");
    for (std::string_view href : {"g", "../../../g", "?y", "#s", "//g", "mailto:x@y"}) {
        EXPECT_EQ(resolver.resolve(href), resolve_url(rfc_base, href)) << href;
    }
    EXPECT_EQ(UrlResolver("not a url").resolve("http://a/"), std::nullopt);
}

}  // namespace
}  // namespace rosetta
