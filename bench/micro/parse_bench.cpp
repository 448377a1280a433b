// What parsing one page costs a model: a 16 KiB response like the origin's, parsed by a fresh
// ResponseParser (construction included) whose sink only counts bytes. The budget is 2 us for
// the one-buffer case, so parsing never shows next to a syscall per page.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "scenarios/http.hpp"

namespace rosetta {
namespace {

constexpr std::size_t body_size = 16384;
constexpr std::size_t segment_size = 1460;  // one Ethernet-MTU TCP segment of payload
constexpr std::size_t chunk_size = 4096;    // a server flushing a 4 KiB buffer per chunk

std::string page_body() {
    std::string body = "<!doctype html><html><body>";
    while (body.size() < body_size) body += "<p>the quick brown fox jumps over the lazy dog</p>\n";
    body.resize(body_size);
    return body;
}

std::string header_lines() {
    return "HTTP/1.1 200 OK\r\n"
           "Server: rosetta-origin\r\n"
           "Content-Type: text/html\r\n";
}

const std::string& content_length_response() {
    static const std::string response = header_lines() +
                                        "Content-Length: " + std::to_string(body_size) +
                                        "\r\nConnection: keep-alive\r\n\r\n" + page_body();
    return response;
}

const std::string& chunked_response() {
    static const std::string response = [] {
        std::string out = header_lines() +
                          "Transfer-Encoding: chunked\r\n"
                          "Connection: keep-alive\r\n\r\n";
        const std::string body = page_body();
        char size_line[32];
        for (std::size_t at = 0; at < body.size(); at += chunk_size) {
            const std::size_t n = std::min(chunk_size, body.size() - at);
            std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
            out.append(size_line).append(body, at, n).append("\r\n");
        }
        return out + "0\r\n\r\n";
    }();
    return response;
}

// One response per iteration, fed in pieces of at most `piece` bytes.
void parse_response(benchmark::State& state, const std::string& response, std::size_t piece) {
    for (auto _ : state) {
        std::uint64_t received = 0;
        ResponseParser parser([&received](std::string_view bytes) { received += bytes.size(); });
        for (std::size_t at = 0; at < response.size(); at += piece)
            parser.feed(std::string_view(response).substr(at, piece));
        benchmark::DoNotOptimize(received);
        if (parser.state() != ResponseParser::State::done || received != body_size) {
            state.SkipWithError("the response did not parse");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * response.size()));
}

void BM_parse_16k_response(benchmark::State& state) {
    parse_response(state, content_length_response(), content_length_response().size());
}
BENCHMARK(BM_parse_16k_response);

void BM_parse_16k_response_in_1460_byte_segments(benchmark::State& state) {
    parse_response(state, content_length_response(), segment_size);
}
BENCHMARK(BM_parse_16k_response_in_1460_byte_segments);

void BM_parse_16k_chunked_response(benchmark::State& state) {
    parse_response(state, chunked_response(), chunked_response().size());
}
BENCHMARK(BM_parse_16k_chunked_response);

// The buffered path: the first read ends inside the header, so the parser keeps that part and
// takes the rest of the header from the next read line by line before the body goes direct.
void BM_parse_16k_response_split_inside_the_header(benchmark::State& state) {
    const std::string_view response = content_length_response();
    const std::size_t split = 40;  // inside "Server: rosetta-origin"
    for (auto _ : state) {
        std::uint64_t received = 0;
        ResponseParser parser([&received](std::string_view bytes) { received += bytes.size(); });
        parser.feed(response.substr(0, split));
        parser.feed(response.substr(split));
        benchmark::DoNotOptimize(received);
        if (parser.state() != ResponseParser::State::done || received != body_size) {
            state.SkipWithError("the response did not parse");
            break;
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * response.size()));
}
BENCHMARK(BM_parse_16k_response_split_inside_the_header);

}  // namespace
}  // namespace rosetta
