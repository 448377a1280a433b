#include "scenarios/links.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rosetta {
namespace {

using Strings = std::vector<std::string>;

constexpr std::string_view page = "http://127.0.0.1:8080/p/3";

Strings hrefs_of(std::string_view html) {
    LinkExtractor links;
    links.feed(html);
    links.finish();
    return links.hrefs();
}

// Whatever the process writes to descriptor 2 while it lives: libxml2 reports to stderr
// through C stdio, which GoogleTest's own output never touches during the test body.
class StderrCapture {
public:
    StderrCapture() : file_(std::tmpfile()), saved_(dup(2)) {
        std::fflush(stderr);
        dup2(fileno(file_), 2);
    }
    ~StderrCapture() {
        restore();
        std::fclose(file_);
    }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        for (int c; (c = std::fgetc(file_)) != EOF;) out += static_cast<char>(c);
        return out;
    }

private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        dup2(saved_, 2);
        close(saved_);
        saved_ = -1;
    }

    std::FILE* file_;
    int saved_;
};

TEST(LinkExtractor, ignores_links_inside_comments_scripts_and_styles) {
    const std::string_view html = R"(<html><head>
        <!-- <a href="in-comment">old</a> -->
        <script>document.write('<a href="in-script">x</a>'); if (a < b) {}</script>
        <style>a[href="in-style"] { color: red }</style>
        </head><body><a href="real">real</a>
        <script type="text/template"><a href="in-template"></a></script>
        <!----><a href="after-empty-comment">y</a></body></html>)";
    EXPECT_EQ(hrefs_of(html), (Strings{"real", "after-empty-comment"}));
}

TEST(LinkExtractor, decodes_entities_in_attribute_values) {
    const std::string_view html = R"(<a href="/q?a=1&amp;b=2">1</a>
        <a href="/p/&#55;">2</a><a href="/p/&#x37;">3</a><a href="/p/&#X37;&lt;&quot;">4</a>)";
    EXPECT_EQ(hrefs_of(html), (Strings{"/q?a=1&b=2", "/p/7", "/p/7", "/p/7<\""}));
}

TEST(LinkExtractor, reads_unquoted_single_quoted_and_uppercase_markup) {
    const std::string_view html =
        R"(<A HREF=7>a</A><a href='8'>b</a><a HrEf="9">c</a><BASE HREF=/sub/><a href=/p/10?x=1>)";
    LinkExtractor links;
    links.feed(html);
    links.finish();
    EXPECT_EQ(links.hrefs(), (Strings{"7", "8", "9", "/p/10?x=1"}));
    EXPECT_EQ(links.base_href(), "/sub/");
}

TEST(LinkExtractor, trims_whitespace_and_skips_empty_and_missing_hrefs) {
    const std::string_view html =
        "<a href='  7\n'>a</a><a href=''>b</a><a href='  \t'>c</a><a href>d</a><a name=x>e</a>";
    EXPECT_EQ(hrefs_of(html), (Strings{"7"}));
}

TEST(LinkExtractor, reports_the_first_base_href_only) {
    LinkExtractor links;
    links.feed("<head><base target=_top><base href=' /first/ '><base href='/second/'></head>");
    links.finish();
    EXPECT_EQ(links.base_href(), "/first/");
    EXPECT_TRUE(links.hrefs().empty());
}

TEST(LinkExtractor, has_no_base_href_without_a_base_element) {
    LinkExtractor links;
    links.feed("<a href=1>");
    links.finish();
    EXPECT_EQ(links.base_href(), std::nullopt);
}

TEST(LinkExtractor, gives_the_same_result_fed_one_byte_at_a_time) {
    const std::string html = R"(<!DOCTYPE html><html><head><meta charset="utf-8">
        <base href="../base/"><title>t &amp; t</title>
        <script>var x = "<a href='no'>"; // </scr + ipt>
        </script><!-- <a href="no2"> --></head>
        <body><p>text <A HREF=7>seven</A> <a href='./8?a=1&amp;b=&#50;'>eight</a>
        <div><a href = "  ../p/9#frag  ">nine</a></span><a href="caf&eacute;">x</a>
        <a href=http://127.0.0.1:8080/p/10>ten</a><a href=#only></body></html>)";
    LinkExtractor whole;
    whole.feed(html);
    whole.finish();

    LinkExtractor bytewise;
    for (char c : html) bytewise.feed(std::string_view(&c, 1));
    bytewise.finish();

    const Strings expected = {"7", "./8?a=1&b=2", "../p/9#frag", "caf\xc3\xa9",
                              "http://127.0.0.1:8080/p/10", "#only"};
    EXPECT_EQ(whole.hrefs(), expected);
    EXPECT_EQ(bytewise.hrefs(), expected);
    EXPECT_EQ(whole.base_href(), "../base/");
    EXPECT_EQ(bytewise.base_href(), "../base/");
}

TEST(LinkExtractor, gives_the_same_result_for_every_split_in_two) {
    const std::string html =
        "<p>a<!-- <a href=c> --><script>'<a href=s>'</script><a href=\"x&amp;y\">1</a>"
        "<style>p{}</style><a href='z'>";
    for (std::size_t split = 0; split <= html.size(); ++split) {
        LinkExtractor links;
        links.feed(std::string_view(html).substr(0, split));
        links.feed(std::string_view(html).substr(split));
        links.finish();
        EXPECT_EQ(links.hrefs(), (Strings{"x&y", "z"})) << "split at " << split;
    }
}

TEST(LinkExtractor, recovers_from_broken_html_and_prints_nothing) {
    const std::string_view html = R"(<html><body></div></div><p><b><i>unclosed
        <a href=1>one<a href="2">two</p></td></table><a href='3' <a href=4>
        <div <a href=5>x</a> &bogus; &#xZZ; < > <a href="6">six)"
                                  "\xff\xfe<a href=7>";
    StderrCapture capture;
    Strings hrefs = hrefs_of(html);
    const std::string printed = capture.text();
    EXPECT_EQ(printed, "");
    ASSERT_GE(hrefs.size(), 3u);
    EXPECT_EQ(hrefs[0], "1");
    EXPECT_EQ(hrefs[1], "2");
    EXPECT_EQ(hrefs[2], "3");
    EXPECT_NE(std::find(hrefs.begin(), hrefs.end(), "6"), hrefs.end());
}

// Not what a browser does, but what libxml2 2.9 does; a change here means a libxml2 that does.
TEST(LinkExtractor, ignores_what_follows_an_explicit_end_of_html_but_not_of_body) {
    EXPECT_EQ(hrefs_of("<html><body><a href=1></body><a href=2></html><a href=3>"),
              (Strings{"1", "2"}));
}

TEST(LinkExtractor, takes_bytes_as_utf8_whatever_the_meta_charset_says) {
    const std::string_view html =
        "<head><meta charset=\"iso-8859-1\"></head><body><a href=\"/caf\xc3\xa9\">x</a>";
    EXPECT_EQ(hrefs_of(html), (Strings{"/caf\xc3\xa9"}));
}

TEST(LinkExtractor, finish_is_idempotent_and_ignores_later_feeds) {
    LinkExtractor links;
    links.feed("<a href=1><a hr");
    links.finish();
    links.finish();
    links.feed("ef=2>");
    links.finish();
    EXPECT_EQ(links.hrefs(), (Strings{"1"}));
}

TEST(LinkExtractor, keeps_parsing_after_a_move) {
    LinkExtractor first;
    first.feed("<a href=1><a hr");
    LinkExtractor second(std::move(first));
    second.feed("ef=2>");
    LinkExtractor third;
    third = std::move(second);
    third.feed("<a href=3>");
    third.finish();
    EXPECT_EQ(third.hrefs(), (Strings{"1", "2", "3"}));
}

TEST(ResolveLinks, resolves_the_origin_link_shapes_against_the_page) {
    const std::string_view html =
        "<a href=7><a href=./8><a href=../p/9><a href=/p/10><a href=http://127.0.0.1:8080/p/11>"
        "<a href=http://off.example/p/12><a href=\"/p/1&#51;\">";
    EXPECT_EQ(extract_links(html, page),
              (Strings{"http://127.0.0.1:8080/p/7", "http://127.0.0.1:8080/p/8",
                       "http://127.0.0.1:8080/p/9", "http://127.0.0.1:8080/p/10",
                       "http://127.0.0.1:8080/p/11", "http://off.example/p/12",
                       "http://127.0.0.1:8080/p/13"}));
}

TEST(ResolveLinks, resolves_against_a_relative_base_resolved_against_the_page) {
    const std::string_view html = "<head><base href='../q/'></head><a href=7><a href=/root>";
    EXPECT_EQ(extract_links(html, "http://127.0.0.1:8080/p/deep/3"),
              (Strings{"http://127.0.0.1:8080/p/q/7", "http://127.0.0.1:8080/root"}));
}

TEST(ResolveLinks, lets_the_first_base_win) {
    const std::string_view html =
        "<base href='http://other.example/one/'><base href='/two/'><a href=7>";
    EXPECT_EQ(extract_links(html, page), (Strings{"http://other.example/one/7"}));
}

TEST(ResolveLinks, ignores_a_base_that_is_not_http) {
    EXPECT_EQ(extract_links("<base href='javascript:x'><a href=7>", page),
              (Strings{"http://127.0.0.1:8080/p/7"}));
    EXPECT_EQ(extract_links("<base href='has space'><a href=7>", page),
              (Strings{"http://127.0.0.1:8080/p/7"}));
}

TEST(ResolveLinks, resolves_fragment_only_links_to_the_page_without_fragment) {
    EXPECT_EQ(extract_links("<a href='#top'><a href='#'><a href=''>", "http://a/p/3?x=1#here"),
              (Strings{"http://a/p/3?x=1"}));
}

TEST(ResolveLinks, removes_fragments_and_duplicates_keeping_the_first) {
    const std::string_view html =
        "<a href=9><a href=7#a><a href=./7#b><a href=../p/7><a href=9><a href=HTTP://127.0.0.1:"
        "8080/p/%37><a href=8>";
    EXPECT_EQ(extract_links(html, page),
              (Strings{"http://127.0.0.1:8080/p/9", "http://127.0.0.1:8080/p/7",
                       "http://127.0.0.1:8080/p/8"}));
}

TEST(ResolveLinks, drops_mailto_javascript_and_unparseable_links) {
    const std::string_view html =
        "<a href='mailto:a@example.com'><a href='javascript:void(0)'><a href='data:,x'>"
        "<a href='tel:1'><a href='has space'><a href='%zz'><a href=ok>";
    EXPECT_EQ(extract_links(html, page), (Strings{"http://127.0.0.1:8080/p/ok"}));
}

TEST(ResolveLinks, finds_nothing_in_a_page_without_links) {
    EXPECT_TRUE(extract_links("<html><head><title>x</title></head><body><p>no links</p>", page)
                    .empty());
    EXPECT_TRUE(extract_links("", page).empty());
    EXPECT_TRUE(extract_links("plain text, not even markup", page).empty());
}

TEST(ResolveLinks, finds_nothing_against_an_unusable_page_url) {
    EXPECT_TRUE(extract_links("<a href=7><a href=/x>", "not a url").empty());
}

}  // namespace
}  // namespace rosetta
