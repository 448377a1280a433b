#include "bench/origin/request.hpp"

#include <gtest/gtest.h>

#include <string>

namespace rosetta::origin {
namespace {

ParseResult parse(std::string_view input, Request& request) {
    return parse_request(input, request);
}

ParseResult parse(std::string_view input) {
    Request request;
    return parse_request(input, request);
}

TEST(RequestParser, reads_a_request_line_and_its_size) {
    Request r;
    std::string text = "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p/2";
    ASSERT_EQ(parse(text, r), ParseResult::complete);
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/p/1");
    EXPECT_EQ(r.minor_version, 1);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(r.size, text.find("GET /p/2"));
}

TEST(RequestParser, waits_for_the_rest_of_a_request) {
    std::string text = "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    for (std::size_t cut = 0; cut < text.size(); ++cut)
        EXPECT_EQ(parse(text.substr(0, cut)), ParseResult::incomplete) << cut;
}

TEST(RequestParser, follows_connection_semantics_of_each_version) {
    Request r;
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", r), ParseResult::complete);
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", r),
              ParseResult::complete);
    EXPECT_FALSE(r.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", r), ParseResult::complete);
    EXPECT_FALSE(r.keep_alive);
    EXPECT_EQ(r.minor_version, 0);
    ASSERT_EQ(parse("GET / HTTP/1.0\r\nconnection:keep-alive\r\n\r\n", r), ParseResult::complete);
    EXPECT_TRUE(r.keep_alive);
}

TEST(RequestParser, skips_a_body_announced_by_content_length) {
    Request r;
    EXPECT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", r), ParseResult::incomplete);
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdeGET", r),
              ParseResult::complete);
    EXPECT_EQ(r.size, std::string_view("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde").size());
}

TEST(RequestParser, tolerates_bare_line_feeds_and_leading_empty_lines) {
    Request r;
    ASSERT_EQ(parse("\r\n\nGET /p/3 HTTP/1.1\nHost: x\n\n", r), ParseResult::complete);
    EXPECT_EQ(r.target, "/p/3");
}

TEST(RequestParser, refuses_what_is_not_http_1) {
    for (std::string_view bad : {
             "BLAH\r\n\r\n",
             "GET /p/1\r\n\r\n",
             "GET /p/1 HTTP/2.0\r\n\r\n",
             "GET  /p/1 HTTP/1.1\r\n\r\n",
             "G(T /p/1 HTTP/1.1\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nNo colon here\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nBad Name: x\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
             "GET /p/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
         })
        EXPECT_EQ(parse(bad), ParseResult::bad) << bad;
}

TEST(RequestParser, refuses_a_request_line_whose_method_cannot_be_a_token_before_it_ends) {
    using namespace std::string_view_literals;
    for (std::string_view junk : {"\x16\x03\x01\x02"sv, "GE\x01"sv, "\r\nG("sv, "G\0"sv, "GET\r"sv})
        EXPECT_EQ(parse(junk), ParseResult::bad) << junk;
    for (std::string_view start : {"G", "GET", "GET /\x01", "\r\nPOST /p", "\n"})
        EXPECT_EQ(parse(start), ParseResult::incomplete) << start;
}

TEST(RequestParser, refuses_a_head_longer_than_its_limit_even_unfinished) {
    std::string head = "GET /p/1 HTTP/1.1\r\nX: " + std::string(max_request_head, 'a');
    EXPECT_EQ(parse(head), ParseResult::bad);
    EXPECT_EQ(parse(head + "\r\n\r\n"), ParseResult::bad);
    EXPECT_EQ(parse(std::string(max_request_head + 1, 'G')), ParseResult::bad);
}

}  // namespace
}  // namespace rosetta::origin
