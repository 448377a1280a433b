#include "scenarios/http.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rosetta {
namespace {

using State = ResponseParser::State;

// Everything a model can observe about one parsed response.
struct Parsed {
    State state = State::need_more;
    int status = 0;
    bool keep_alive = false;
    std::uint64_t body_bytes = 0;
    std::string body;  // what the sink received, concatenated
    Outcome failure = Outcome::ok;
    std::string error;
    std::size_t extra_bytes = 0;

    bool operator==(const Parsed&) const = default;
};

void PrintTo(const Parsed& p, std::ostream* os) {
    *os << "{state " << static_cast<int>(p.state) << ", status " << p.status << ", keep_alive "
        << p.keep_alive << ", body_bytes " << p.body_bytes << ", body \"" << p.body
        << "\", failure " << to_string(p.failure) << ", error \"" << p.error << "\", extra "
        << p.extra_bytes << "}";
}

// Feeds the pieces in order, then the EOF if asked.
Parsed parse_pieces(const std::vector<std::string_view>& pieces, bool eof) {
    Parsed parsed;
    ResponseParser parser([&](std::string_view bytes) { parsed.body.append(bytes); });
    for (std::string_view piece : pieces) parser.feed(piece);
    if (eof) parser.feed_eof();
    parsed.state = parser.state();
    parsed.status = parser.status();
    parsed.keep_alive = parser.keep_alive();
    parsed.body_bytes = parser.body_bytes();
    parsed.failure = parser.failure();
    parsed.error = parser.error();
    parsed.extra_bytes = parser.extra_bytes();
    return parsed;
}

Parsed parse_whole(std::string_view bytes, bool eof = false) { return parse_pieces({bytes}, eof); }

Parsed parse_split(std::string_view bytes, std::size_t at, bool eof = false) {
    return parse_pieces({bytes.substr(0, at), bytes.substr(at)}, eof);
}

Parsed parse_bytewise(std::string_view bytes, bool eof = false) {
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < bytes.size(); ++i) pieces.push_back(bytes.substr(i, 1));
    return parse_pieces(pieces, eof);
}

// Cut in two at every position, bytes parse exactly as they do whole.
void expect_same_at_every_split(std::string_view bytes) {
    const Parsed whole = parse_whole(bytes);
    for (std::size_t at = 0; at <= bytes.size(); ++at)
        EXPECT_EQ(parse_split(bytes, at), whole) << "split at " << at;
}

// Cut in three at every pair of positions, likewise.
void expect_same_at_every_pair_of_splits(std::string_view bytes) {
    const Parsed whole = parse_whole(bytes);
    for (std::size_t a = 0; a <= bytes.size(); ++a)
        for (std::size_t b = a; b <= bytes.size(); ++b)
            ASSERT_EQ(
                parse_pieces({bytes.substr(0, a), bytes.substr(a, b - a), bytes.substr(b)}, false),
                whole)
                << "split at " << a << " and " << b;
}

const std::string body_16 = "<html>0123456789";

const std::string content_length_response =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 16\r\n"
    "Connection: keep-alive\r\n"
    "\r\n" +
    body_16;

// Three chunks, extensions (one quoted), a last-chunk with an extension, and two trailers.
const std::string chunked_response =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/html\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;name=value\r\n"
    "Hello\r\n"
    "1\r\n"
    ",\r\n"
    "0000A;a;b=\"quoted; value\"\r\n"
    " chunked!\n\r\n"
    "0;last\r\n"
    "X-Checksum: 1234\r\n"
    "X-Other: yes\r\n"
    "\r\n";
const std::string chunked_body = "Hello, chunked!\n";

TEST(ResponseParser, reads_a_content_length_body_fed_whole) {
    const Parsed parsed = parse_whole(content_length_response);
    EXPECT_EQ(parsed.state, State::done);
    EXPECT_EQ(parsed.status, 200);
    EXPECT_TRUE(parsed.keep_alive);
    EXPECT_EQ(parsed.body_bytes, 16u);
    EXPECT_EQ(parsed.body, body_16);
    EXPECT_EQ(parsed.failure, Outcome::ok);
    EXPECT_EQ(parsed.error, "");
    EXPECT_EQ(parsed.extra_bytes, 0u);
}

TEST(ResponseParser, reads_a_content_length_body_fed_one_byte_at_a_time) {
    EXPECT_EQ(parse_bytewise(content_length_response), parse_whole(content_length_response));
}

TEST(ResponseParser, reads_a_content_length_body_split_at_every_position) {
    ASSERT_EQ(parse_whole(content_length_response).state, State::done);
    expect_same_at_every_split(content_length_response);
}

TEST(ResponseParser, reads_a_content_length_body_split_at_every_pair_of_positions) {
    expect_same_at_every_pair_of_splits(content_length_response);
}

TEST(ResponseParser, reads_a_chunked_body_fed_whole) {
    const Parsed parsed = parse_whole(chunked_response);
    EXPECT_EQ(parsed.state, State::done);
    EXPECT_EQ(parsed.status, 200);
    EXPECT_TRUE(parsed.keep_alive);
    EXPECT_EQ(parsed.body, chunked_body);
    EXPECT_EQ(parsed.body_bytes, chunked_body.size());
    EXPECT_EQ(parsed.extra_bytes, 0u);
}

TEST(ResponseParser, reads_a_chunked_body_with_extensions_and_trailers_fed_one_byte_at_a_time) {
    const Parsed parsed = parse_bytewise(chunked_response);
    EXPECT_EQ(parsed.body, chunked_body);
    EXPECT_EQ(parsed, parse_whole(chunked_response));  // which the test above pins field by field
}

TEST(ResponseParser, reads_a_chunked_body_split_at_every_position) {
    expect_same_at_every_split(chunked_response);
}

TEST(ResponseParser, reads_a_chunked_body_split_at_every_pair_of_positions) {
    expect_same_at_every_pair_of_splits(chunked_response);
}

TEST(ResponseParser, reads_an_empty_chunked_body_split_at_every_position) {
    const std::string response =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n\r\n";
    const Parsed whole = parse_whole(response);
    EXPECT_EQ(whole.state, State::done);
    EXPECT_EQ(whole.body_bytes, 0u);
    EXPECT_TRUE(whole.keep_alive);
    EXPECT_EQ(parse_bytewise(response), whole);
    expect_same_at_every_split(response);
}

TEST(ResponseParser, gives_the_same_result_however_the_bytes_are_cut) {
    const std::string next = "HTTP/1.1 200 OK\r\n";  // the start of a pipelined response
    const std::vector<std::string> responses = {
        content_length_response + next,
        chunked_response + next,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + next,
        "HTTP/1.1 100 Continue\r\n\r\n" + chunked_response,
        "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n" + body_16,
    };
    std::mt19937 random(7);
    for (const std::string& response : responses) {
        const Parsed whole = parse_whole(response, true);
        for (int round = 0; round < 500; ++round) {
            std::vector<std::size_t> cuts(random() % 12);
            for (std::size_t& cut : cuts) cut = random() % (response.size() + 1);
            std::ranges::sort(cuts);
            std::vector<std::string_view> pieces;
            std::size_t from = 0;
            for (std::size_t cut : cuts) {
                pieces.push_back(std::string_view(response).substr(from, cut - from));
                from = cut;
            }
            pieces.push_back(std::string_view(response).substr(from));
            ASSERT_EQ(parse_pieces(pieces, true), whole) << response << " round " << round;
        }
    }
}

TEST(ResponseParser, hands_body_bytes_to_the_sink_straight_from_the_callers_buffer) {
    const std::string response = content_length_response;
    std::vector<const char*> seen;
    ResponseParser parser([&](std::string_view bytes) { seen.push_back(bytes.data()); });
    ASSERT_EQ(parser.feed(response), State::done);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], response.data() + response.size() - body_16.size());
}

TEST(ResponseParser, hands_a_chunk_to_the_sink_from_the_callers_buffer_after_a_split_header) {
    const std::string first = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=";
    const std::string second = "1\r\nHello\r\n0\r\n\r\n";
    std::vector<std::string_view> seen;
    ResponseParser parser([&](std::string_view bytes) { seen.push_back(bytes); });
    EXPECT_EQ(parser.feed(first), State::need_more);
    EXPECT_EQ(parser.feed(second), State::done);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].data(), second.data() + 3);
    EXPECT_EQ(seen[0].size(), 5u);
}

TEST(ResponseParser,
     says_a_content_length_body_is_complete_with_its_last_byte_and_chunked_only_when_done) {
    std::vector<bool> complete;
    ResponseParser parser;
    parser = ResponseParser([&](std::string_view) { complete.push_back(parser.body_complete()); });
    parser.feed("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc");
    parser.feed("def");
    EXPECT_EQ(complete, (std::vector<bool>{false, true}));

    complete.clear();
    parser.reset();
    parser.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    parser.feed("3\r\ndef\r\n0\r\n\r\n");
    EXPECT_EQ(complete, (std::vector<bool>{false, false}));
    EXPECT_TRUE(parser.body_complete()) << "done";
}

TEST(ResponseParser, counts_body_bytes_without_a_sink) {
    ResponseParser parser;
    EXPECT_EQ(parser.feed(chunked_response), State::done);
    EXPECT_EQ(parser.body_bytes(), chunked_body.size());
}

TEST(ResponseParser, completes_a_close_delimited_body_at_eof) {
    const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body_16;
    for (std::size_t at = 0; at <= response.size(); ++at) {
        ResponseParser parser;
        EXPECT_EQ(parser.feed(response.substr(0, at)), State::need_more);
        EXPECT_EQ(parser.feed(response.substr(at)), State::need_more);
        EXPECT_EQ(parser.feed_eof(), State::done) << "split at " << at;
        EXPECT_EQ(parser.status(), 200);
        EXPECT_EQ(parser.body_bytes(), 16u);
        EXPECT_FALSE(parser.keep_alive());
    }
}

TEST(ResponseParser, completes_an_empty_close_delimited_body_at_eof) {
    const Parsed parsed = parse_whole("HTTP/1.1 200 OK\r\n\r\n", true);
    EXPECT_EQ(parsed.state, State::done);
    EXPECT_EQ(parsed.body_bytes, 0u);
    EXPECT_FALSE(parsed.keep_alive);
}

TEST(ResponseParser, keeps_an_http_1_0_connection_only_when_asked) {
    const Parsed plain = parse_whole("HTTP/1.0 200 OK\r\nContent-Length: 16\r\n\r\n" + body_16);
    EXPECT_EQ(plain.state, State::done);
    EXPECT_EQ(plain.body, body_16);
    EXPECT_FALSE(plain.keep_alive);

    const Parsed asked = parse_whole(
        "HTTP/1.0 200 OK\r\nContent-Length: 16\r\nConnection: Keep-Alive\r\n\r\n" + body_16);
    EXPECT_EQ(asked.state, State::done);
    EXPECT_TRUE(asked.keep_alive);

    const Parsed to_eof = parse_whole("HTTP/1.0 200 OK\r\n\r\n" + body_16, true);
    EXPECT_EQ(to_eof.state, State::done);
    EXPECT_EQ(to_eof.body, body_16);
    EXPECT_FALSE(to_eof.keep_alive);
}

TEST(ResponseParser, does_not_keep_a_connection_the_server_closes) {
    const Parsed parsed =
        parse_whole("HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\n" + body_16);
    EXPECT_EQ(parsed.state, State::done);
    EXPECT_EQ(parsed.body, body_16);
    EXPECT_FALSE(parsed.keep_alive);
}

TEST(ResponseParser, finishes_responses_without_a_body_at_the_end_of_the_header) {
    // 204 and 304 never have a body, even with a Content-Length; the bytes after are not theirs.
    for (const std::string response :
         {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
          "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}) {
        for (const Parsed& parsed :
             {parse_whole(response + "ABCDE"), parse_bytewise(response + "ABCDE")}) {
            EXPECT_EQ(parsed.state, State::done) << response;
            EXPECT_EQ(parsed.body_bytes, 0u) << response;
            EXPECT_EQ(parsed.body, "") << response;
            EXPECT_TRUE(parsed.keep_alive) << response;
            EXPECT_EQ(parsed.extra_bytes, 5u) << response;
        }
    }
    EXPECT_EQ(parse_whole("HTTP/1.1 204 No Content\r\n\r\n").status, 204);
}

TEST(ResponseParser, parses_4xx_and_5xx_responses_as_done) {
    const Parsed not_found =
        parse_bytewise("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found");
    EXPECT_EQ(not_found.state, State::done);
    EXPECT_EQ(not_found.status, 404);
    EXPECT_EQ(not_found.body, "not found");
    EXPECT_EQ(not_found.failure, Outcome::ok);
    EXPECT_TRUE(not_found.keep_alive);

    const Parsed unavailable = parse_whole(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 1\r\n"
        "\r\nbusy");
    EXPECT_EQ(unavailable.state, State::done);
    EXPECT_EQ(unavailable.status, 503);
    EXPECT_EQ(unavailable.body, "busy");
    EXPECT_EQ(unavailable.failure, Outcome::ok);
}

TEST(ResponseParser, skips_interim_1xx_responses) {
    const std::string response =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" +
        content_length_response;
    const Parsed whole = parse_whole(response);
    EXPECT_EQ(whole.state, State::done);
    EXPECT_EQ(whole.status, 200);
    EXPECT_EQ(whole.body, body_16);
    EXPECT_EQ(parse_bytewise(response), whole);
    expect_same_at_every_split(response);

    ResponseParser parser;
    parser.feed("HTTP/1.1 100 Continue\r\n\r\n");
    EXPECT_EQ(parser.state(), State::need_more);
    EXPECT_EQ(parser.status(), 0);
}

// Each malformed response is rejected the same way whether it arrives whole or byte by byte.
void expect_malformed(const std::string& response) {
    for (const Parsed& parsed : {parse_whole(response), parse_bytewise(response),
                                 parse_whole(response, true), parse_bytewise(response, true)}) {
        EXPECT_EQ(parsed.state, State::failed) << response;
        EXPECT_EQ(parsed.failure, Outcome::malformed) << response;
        EXPECT_NE(parsed.error, "") << response;
        EXPECT_EQ(parsed.error.find('\n'), std::string::npos) << parsed.error;
        EXPECT_EQ(parsed.body_bytes, 0u) << response;
        EXPECT_FALSE(parsed.keep_alive) << response;
    }
}

TEST(ResponseParser, rejects_a_garbage_status_line_as_malformed) {
    expect_malformed("HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    expect_malformed("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n");
    expect_malformed("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
    expect_malformed("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    expect_malformed(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff", 12));
    expect_malformed("\x7f");
    expect_malformed("<html>not a response at all");
    EXPECT_EQ(parse_whole("HTTX/1.1 200 OK\r\n\r\n").error,
              R"(bad status line: bad version in "HTTX/1.1 200 OK")");
}

TEST(ResponseParser, rejects_a_bad_header_line_as_malformed) {
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length 16\r\n\r\n" + body_16);
    expect_malformed("HTTP/1.1 200 OK\r\nBad Header: yes\r\nContent-Length: 16\r\n\r\n" + body_16);
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 16\r\r\n\r\n" + body_16);
    expect_malformed("HTTP/1.1 200 OK\r\n: no name\r\n\r\n");
}

TEST(ResponseParser, rejects_a_bad_content_length_as_malformed) {
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n" + body_16);
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: -16\r\n\r\n" + body_16);
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 16\r\nContent-Length: 17\r\n\r\n" +
                     body_16);
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 16, 17\r\n\r\n" + body_16);
    expect_malformed("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    expect_malformed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 16\r\n\r\n");
    EXPECT_EQ(parse_whole("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n").error,
              "bad header: bad Content-Length");
}

TEST(ResponseParser, rejects_a_bad_chunk_as_malformed) {
    const std::string header = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    expect_malformed(header + "zz\r\nHello\r\n0\r\n\r\n");
    expect_malformed(header + "-5\r\nHello\r\n0\r\n\r\n");
    expect_malformed(header + "5 x\r\nHello\r\n0\r\n\r\n");
    EXPECT_EQ(parse_whole(header + "zz\r\n").error, "bad chunked body: bad chunk");

    // A chunk longer than announced: the bytes where the CRLF belongs are rejected.
    for (const Parsed& parsed : {parse_whole(header + "5\r\nHello!\r\n0\r\n\r\n"),
                                 parse_bytewise(header + "5\r\nHello!\r\n0\r\n\r\n")}) {
        EXPECT_EQ(parsed.state, State::failed);
        EXPECT_EQ(parsed.failure, Outcome::malformed);
        EXPECT_EQ(parsed.body, "Hello");
        EXPECT_NE(parsed.error, "");
    }
}

TEST(ResponseParser, rejects_a_header_over_64_kib_as_malformed) {
    const std::string response =
        "HTTP/1.1 200 OK\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
    const Parsed whole = parse_whole(response);
    EXPECT_EQ(whole.state, State::failed);
    EXPECT_EQ(whole.failure, Outcome::malformed);

    std::vector<std::string_view> pieces;
    for (std::size_t at = 0; at < response.size(); at += 1000)
        pieces.push_back(std::string_view(response).substr(at, 1000));
    const Parsed segmented = parse_pieces(pieces, false);
    EXPECT_EQ(segmented.state, State::failed);
    EXPECT_EQ(segmented.failure, Outcome::malformed);
}

TEST(ResponseParser, rejects_a_chunk_header_over_64_kib_as_malformed) {
    const std::string response =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=" + std::string(70 * 1024, 'a');
    std::vector<std::string_view> pieces;
    for (std::size_t at = 0; at < response.size(); at += 1000)
        pieces.push_back(std::string_view(response).substr(at, 1000));
    const Parsed parsed = parse_pieces(pieces, false);
    EXPECT_EQ(parsed.state, State::failed);
    EXPECT_EQ(parsed.failure, Outcome::malformed);
    EXPECT_NE(parsed.error, "");
}

// Each prefix of a complete response, then the peer closes.
void expect_truncated(std::string_view response, std::string_view reason_start) {
    for (const Parsed& parsed : {parse_whole(response, true), parse_bytewise(response, true)}) {
        EXPECT_EQ(parsed.state, State::failed) << response;
        EXPECT_EQ(parsed.failure, Outcome::truncated) << response;
        EXPECT_TRUE(parsed.error.starts_with(reason_start)) << parsed.error;
        EXPECT_FALSE(parsed.keep_alive);
    }
}

TEST(ResponseParser, reports_eof_before_any_byte_as_truncated) {
    ResponseParser parser;
    EXPECT_EQ(parser.feed(""), State::need_more);
    EXPECT_EQ(parser.feed_eof(), State::failed);
    EXPECT_EQ(parser.failure(), Outcome::truncated);
    EXPECT_EQ(parser.error(), "connection closed before any byte of the response");
    EXPECT_EQ(parser.status(), 0);
}

TEST(ResponseParser, reports_eof_mid_header_as_truncated) {
    expect_truncated("H", "connection closed inside the response header");
    expect_truncated("HTTP/1.1 20", "connection closed inside the response header");
    expect_truncated("HTTP/1.1 200 OK\r\n", "connection closed inside the response header");
    expect_truncated("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r",
                     "connection closed inside the response header");
}

TEST(ResponseParser, reports_eof_mid_body_as_truncated) {
    const std::string response =
        content_length_response.substr(0, content_length_response.size() - 6);
    expect_truncated(response, "connection closed after 10 of 16 body bytes");
    const Parsed parsed = parse_whole(response, true);
    EXPECT_EQ(parsed.status, 200);
    EXPECT_EQ(parsed.body, body_16.substr(0, 10));
    expect_truncated("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n",
                     "connection closed after 0 of 16 body bytes");
}

TEST(ResponseParser, reports_eof_mid_chunk_as_truncated) {
    const std::string header = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string closed = "connection closed inside the chunked body";
    expect_truncated(header, closed);
    expect_truncated(header + "5", closed);
    expect_truncated(header + "5\r\nHel", closed);
    expect_truncated(header + "5\r\nHello", closed);
    expect_truncated(header + "5\r\nHello\r\n", closed);
    expect_truncated(header + "5\r\nHello\r\n0\r\n", closed);
    expect_truncated(header + "5\r\nHello\r\n0\r\nX-Trailer: 1\r\n", closed);
    EXPECT_EQ(parse_whole(header + "5\r\nHel", true).body, "Hel");
}

TEST(ResponseParser, truncates_every_proper_prefix_of_a_response) {
    for (const std::string& response : {content_length_response, chunked_response}) {
        for (std::size_t size = 0; size < response.size(); ++size) {
            const Parsed parsed = parse_whole(std::string_view(response).substr(0, size), true);
            EXPECT_EQ(parsed.state, State::failed) << "prefix of " << size;
            EXPECT_EQ(parsed.failure, Outcome::truncated) << "prefix of " << size;
        }
    }
}

TEST(ResponseParser, counts_bytes_after_the_response_as_extra_not_body) {
    const std::string next = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    for (const std::string& response : {content_length_response, chunked_response}) {
        const Parsed whole = parse_whole(response + next);
        EXPECT_EQ(whole.state, State::done);
        EXPECT_EQ(whole.extra_bytes, next.size());
        EXPECT_EQ(whole.body, parse_whole(response).body);
        EXPECT_EQ(parse_bytewise(response + next), whole);
        for (std::size_t at = 0; at <= response.size() + next.size(); ++at)
            EXPECT_EQ(parse_split(response + next, at), whole) << "split at " << at;
    }

    ResponseParser parser;
    ASSERT_EQ(parser.feed(content_length_response), State::done);
    EXPECT_EQ(parser.feed("more"), State::done);
    EXPECT_EQ(parser.feed_eof(), State::done);
    EXPECT_EQ(parser.extra_bytes(), 4u);
    EXPECT_EQ(parser.body_bytes(), 16u);
}

TEST(ResponseParser, ignores_bytes_and_eof_after_failing) {
    ResponseParser parser;
    ASSERT_EQ(parser.feed("HTTX/1.1 200 OK\r\n\r\n"), State::failed);
    const std::string error = parser.error();
    EXPECT_EQ(parser.feed("HTTP/1.1 200 OK\r\n\r\n"), State::failed);
    EXPECT_EQ(parser.feed_eof(), State::failed);
    EXPECT_EQ(parser.failure(), Outcome::malformed);
    EXPECT_EQ(parser.error(), error);
    EXPECT_EQ(parser.extra_bytes(), 19u);
}

TEST(ResponseParser, keeps_parsing_after_being_moved) {
    std::string body;
    ResponseParser first([&](std::string_view bytes) { body.append(bytes); });
    const std::size_t half = chunked_response.size() / 2;
    first.feed(std::string_view(chunked_response).substr(0, half));
    ResponseParser second = std::move(first);
    EXPECT_EQ(second.feed(std::string_view(chunked_response).substr(half)), State::done);
    EXPECT_EQ(body, chunked_body);

    ResponseParser third;
    third = std::move(second);
    EXPECT_EQ(third.status(), 200);
    EXPECT_EQ(third.body_bytes(), chunked_body.size());
}

TEST(ResponseParser, parses_the_next_response_after_a_reset_as_a_new_parser_would) {
    std::string body;
    ResponseParser parser([&](std::string_view bytes) { body.append(bytes); });
    EXPECT_EQ(parser.feed("HTTX/1.1 200 OK\r\n\r\n"), State::failed);
    parser.reset();
    EXPECT_EQ(parser.state(), State::need_more);
    EXPECT_EQ(parser.status(), 0);
    EXPECT_EQ(parser.error(), "");
    const std::size_t half = chunked_response.size() / 2;
    parser.feed(std::string_view(chunked_response).substr(0, half));
    parser.reset();  // mid-response: what was buffered is gone too
    body.clear();
    EXPECT_EQ(parser.feed(chunked_response), State::done);
    EXPECT_EQ(body, chunked_body) << "the same sink, fed again";
    EXPECT_EQ(parser.body_bytes(), chunked_body.size());
    EXPECT_EQ(parser.extra_bytes(), 0u);
    EXPECT_TRUE(parser.keep_alive());
}

TEST(MakeGetRequest, writes_a_keep_alive_request) {
    EXPECT_EQ(make_get_request("127.0.0.1:8080", "/p/7", true),
              "GET /p/7 HTTP/1.1\r\n"
              "Host: 127.0.0.1:8080\r\n"
              "User-Agent: concurrency-rosetta\r\n"
              "Connection: keep-alive\r\n"
              "\r\n");
}

TEST(MakeGetRequest, writes_a_closing_request) {
    EXPECT_EQ(make_get_request("example.com", "/a/b?c=d%20e", false),
              "GET /a/b?c=d%20e HTTP/1.1\r\n"
              "Host: example.com\r\n"
              "User-Agent: concurrency-rosetta\r\n"
              "Connection: close\r\n"
              "\r\n");
}

TEST(MakeGetRequest, writes_the_same_bytes_over_a_reused_string) {
    std::string out = "left over from a longer request than the next one";
    write_get_request(out, "127.0.0.1:8080", "/p/7", true);
    EXPECT_EQ(out, make_get_request("127.0.0.1:8080", "/p/7", true));
    EXPECT_THROW(write_get_request(out, "host:1", "p/7", true), std::invalid_argument);
}

TEST(MakeGetRequest, refuses_a_target_or_authority_that_would_change_the_request) {
    EXPECT_THROW(make_get_request("host:1", "p/7", true), std::invalid_argument);
    EXPECT_THROW(make_get_request("host:1", "", true), std::invalid_argument);
    EXPECT_THROW(make_get_request("host:1", "/p 7", true), std::invalid_argument);
    EXPECT_THROW(make_get_request("host:1", "/p\r\nX-Injected: 1", true), std::invalid_argument);
    EXPECT_THROW(make_get_request("", "/", true), std::invalid_argument);
    EXPECT_THROW(make_get_request("host\r\n:1", "/", true), std::invalid_argument);
}

// A body is streamed, never held, but one over 256 MiB is refused at once rather than read to
// its deadline: announced (Content-Length) or sent (chunks that add up past it).
TEST(ResponseParser, refuses_a_body_over_256_mib_announced_or_sent) {
    ResponseParser announced;
    EXPECT_EQ(announced.feed("HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n"),
              ResponseParser::State::failed);
    EXPECT_EQ(announced.failure(), Outcome::malformed);
    EXPECT_EQ(announced.error(), "body over 256 MiB (announced or sent)");

    ResponseParser sent;
    EXPECT_EQ(sent.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
              ResponseParser::State::need_more);
    std::string chunk = "8000000\r\n" + std::string(0x8000000, 'x') + "\r\n";  // 128 MiB
    EXPECT_EQ(sent.feed(chunk), ResponseParser::State::need_more);
    EXPECT_EQ(sent.feed(chunk), ResponseParser::State::need_more);
    EXPECT_EQ(sent.feed("1\r\n"), ResponseParser::State::failed);
    EXPECT_EQ(sent.failure(), Outcome::malformed);
    EXPECT_EQ(sent.body_bytes(), std::uint64_t{256} << 20);

    ResponseParser at_the_limit;
    EXPECT_EQ(at_the_limit.feed("HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n"),
              ResponseParser::State::need_more);
}

}  // namespace
}  // namespace rosetta
