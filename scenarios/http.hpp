// HTTP/1.1 over plain bytes: no sockets here, the models do the waiting. A model writes the
// bytes of make_get_request() and feeds whatever it reads into a ResponseParser until the
// parser says done or failed; what it read and how it waited is the only thing that differs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "scenarios/outcome.hpp"

namespace rosetta {

// The bytes of a GET request:
//   GET <target> HTTP/1.1\r\n
//   Host: <authority>\r\n
//   User-Agent: concurrency-rosetta\r\n
//   Connection: keep-alive|close\r\n
//   \r\n
// The target must be origin-form ("/p/7?x=1"): it starts with '/' and holds no space or
// control byte; the authority is non-empty with neither. Anything else would let a bad URL
// turn into a different request on the wire, so it throws std::invalid_argument instead.
std::string make_get_request(std::string_view authority, std::string_view target, bool keep_alive);
// The same bytes written over `out`, whose capacity is reused: for a model that sends many
// requests from one buffer and wants no allocation per request.
void write_get_request(std::string& out, std::string_view authority, std::string_view target,
                       bool keep_alive);

// An incremental parser of one HTTP/1.x response, fed the bytes exactly as they were read:
// split anywhere, even one byte at a time. Body bytes go to the sink as they are parsed, with
// chunk framing removed; they are not copied or kept. Interim 1xx responses (100 Continue,
// 103 Early Hints) are skipped: the parser reports the final response.
//
// One parser per response. After done the connection may carry the next response only when
// keep_alive() is true; the bytes after this response, if any, are counted in extra_bytes()
// and not parsed, because a model that pipelines nothing should never see them.
class ResponseParser {
public:
    enum class State { need_more, done, failed };
    // Body bytes as parsed. The view is valid only during the call.
    using BodySink = std::function<void(std::string_view)>;

    explicit ResponseParser(BodySink on_body = {});
    ~ResponseParser();
    // A moved-from parser may only be destroyed or assigned to.
    ResponseParser(ResponseParser&&) noexcept;
    ResponseParser& operator=(ResponseParser&&) noexcept;
    ResponseParser(const ResponseParser&) = delete;
    ResponseParser& operator=(const ResponseParser&) = delete;

    // Takes all of `bytes`. An incomplete header, chunk header or trailer is buffered until the
    // rest arrives; body bytes are handed to the sink straight from `bytes` (a few bytes of a
    // chunk may come from that buffer when they share a read with a split chunk header). Once
    // done or failed, further bytes are ignored and counted in extra_bytes(). An exception from
    // the sink leaves feed() and the parser must then be discarded.
    State feed(std::string_view bytes);
    // Ready for another response, as a new parser with the same sink would be, keeping what it
    // allocated (one allocation less per response, for a model that reuses its parser).
    void reset();
    // The peer closed. Completes a close-delimited body (no Content-Length, not chunked);
    // anything else unfinished fails as truncated, including a close before any byte.
    State feed_eof();

    State state() const;
    int status() const;  // 0 until the final response's status line is parsed
    // Done, and the connection may carry another request: HTTP/1.1 without "Connection:
    // close", or HTTP/1.0 with "Connection: keep-alive"; never after a close-delimited body.
    bool keep_alive() const;
    std::uint64_t body_bytes() const;  // body bytes handed to the sink so far
    // The body is complete with the bytes handed to the sink so far: all of a Content-Length
    // (a chunked or close-delimited body is known complete only when the parse is done).
    bool body_complete() const;
    // When failed: Outcome::malformed (the bytes are not HTTP/1.x, or the body is over 256 MiB,
    // announced or sent: four times the largest page) or Outcome::truncated (the peer closed
    // before the response was complete). Outcome::ok otherwise.
    Outcome failure() const;
    const std::string& error() const;  // one-line reason when failed, empty otherwise
    // Bytes received after the response ended (done) or after it was rejected (failed).
    std::size_t extra_bytes() const;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rosetta
