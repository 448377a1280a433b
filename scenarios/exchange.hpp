// One attempt at one URL, without the waiting: the request bytes to send, the response parsed
// as its bytes arrive (status, body checksum and, for the crawl, links), and the record the
// attempt ends as. Every model drives one Exchange per attempt; only how it waits for the
// socket differs, and that is the model's whole lesson.
//
//     Exchange exchange(url, attempt, keep_alive, want_links, lane);
//     send(exchange.request());
//     while (!exchange.on_bytes(read_some())) {}   // or on_eof() when the peer closes
//     Record r = exchange.finish();                 // or fail(Outcome::timeout, "...")
#pragma once

#include "scenarios/checksum.hpp"
#include "scenarios/http.hpp"
#include "scenarios/links.hpp"
#include "scenarios/records.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rosetta {

class Exchange {
public:
    // url: absolute and normalised. The attempt's clock starts here, before any connect.
    Exchange(std::string url, std::string_view authority, int attempt, bool keep_alive, bool want_links,
             std::uint64_t lane);
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    const std::string& url() const { return url_; }
    int attempt() const { return attempt_; }
    std::string_view request() const { return request_; }

    // Bytes read from the socket. True when the response is complete or cannot be parsed:
    // stop reading and call finish().
    bool on_bytes(std::string_view bytes);
    // The peer closed its side. finish() tells whether that completed the response.
    void on_eof();
    // Nothing of a response arrived yet: a kept-alive connection that fails now was closed by
    // the server while idle, and the request may be sent again on a new one, uncounted.
    bool received_nothing() const { return received_ == 0; }

    // Ends the attempt as the parser saw it: ok (status < 400), http_error, malformed or
    // truncated (also when called before the response completed).
    Record finish();
    // Ends the attempt with a transport failure: timeout, reset or connect_error.
    Record fail(Outcome outcome, std::string error);

    // The connection may carry the next request: the response completed, both sides keep alive.
    bool connection_reusable() const;
    // Crawl: the page's links, resolved against its <base href> or URL, fragments removed,
    // duplicates removed. Empty unless the attempt ended ok and links were wanted.
    std::vector<std::string> links() const;

private:
    Record make_record(Outcome outcome, int status, std::string error);

    std::string url_;
    int attempt_;
    bool keep_alive_;
    std::uint64_t lane_;
    std::int64_t start_ns_;
    std::string request_;
    Checksum checksum_;
    std::unique_ptr<LinkExtractor> links_;  // crawl only: libxml2's parser costs a few µs to set up
    ResponseParser parser_;
    std::uint64_t received_ = 0;
    bool ok_ = false;
};

}  // namespace rosetta
