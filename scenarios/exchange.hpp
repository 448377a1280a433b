// One attempt at one URL, without the waiting: its deadline, the request bytes to send, the
// response parsed as its bytes arrive (status, body checksum and, for the crawl, links), how a
// failed connect, send or receive is named, and the record the attempt ends as. Every model
// drives one Exchange per attempt; only how it waits for the socket differs, and that is the
// model's whole lesson.
//
//     Exchange exchange(run, url, attempt, TaskId::this_thread());  // the clock starts
//     connect, waiting at most exchange.time_left_ms(); exchange.connected();  // if new
//     send(exchange.request());                           // IoFailure{Step::send, errno}?
//     while (!exchange.on_bytes(read_some())) {}          // on_eof() when the peer closes
//     if (exchange.send_again(failure)) { new connection, send again }  // stale keep-alive
//     Record r = exchange.end(failure);                   // failure empty when all went well
//     exchange.restart(next_url, 1);                      // optional: the next attempt, reusing it
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/checksum.hpp"
#include "scenarios/http.hpp"
#include "scenarios/links.hpp"
#include "scenarios/model.hpp"
#include "scenarios/records.hpp"

namespace rosetta {

// Where an attempt's transport failed.
enum class Step { socket, connect, send, recv };

// In place of an errno: the attempt's deadline passed before the step could complete.
inline constexpr int deadline_passed = -1;

// A failed step and its errno (or deadline_passed). error 0: no failure.
struct IoFailure {
    Step step = Step::connect;
    int error = 0;
    explicit operator bool() const { return error != 0; }
};

class Exchange {
public:
    // url: absolute and normalised. The attempt's clock starts here, before any connect, and
    // its deadline is --timeout-ms later: connect plus the full response must fit in it.
    Exchange(const ModelRun& run, std::string url, int attempt, TaskId who);
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    // The same exchange for another attempt, of this URL or another: as if made anew with the
    // run and the TaskId it was made with (the clock starts again), but keeping what it
    // allocated: the URL's and the request's bytes, the parser. A model that keeps one Exchange
    // per request slot then allocates nothing per attempt (the crawl's link extractor aside).
    void restart(std::string_view url, int attempt);
    // The same for another task (a model whose tasks take exchanges from a pool).
    void restart(std::string_view url, int attempt, TaskId who) {
        who_ = who;
        restart(url, attempt);
    }

    const std::string& url() const { return url_; }
    int attempt() const { return attempt_; }
    std::string_view request() const { return request_; }

    std::int64_t deadline_ns() const { return deadline_ns_; }
    // Nanoseconds left before the deadline; <= 0 once it passed.
    std::int64_t time_left_ns() const;
    // Milliseconds left, rounded up, for poll() and epoll_wait(); 0 once it passed.
    int time_left_ms() const;

    // A new connection is ready for this request (not called for a kept-alive one).
    void connected();
    // Bytes read from the socket. True when the response is complete or cannot be parsed:
    // stop reading and call finish().
    bool on_bytes(std::string_view bytes);
    // The peer closed its side. finish() tells whether that completed the response.
    void on_eof();

    // The stale keep-alive rule, asked once the try is over: either the transport failed
    // (failure set) or the response ended (failure empty: complete, unparseable, or EOF). A
    // kept-alive connection the server closed while idle fails (EOF, EPIPE, ECONNRESET) before
    // any byte of a response; when that is what happened the request goes again on a new
    // connection, once, and the failed try is not an attempt. Precisely: this try did not open
    // its connection (no connected()), nothing of a response arrived, the failure is not the
    // deadline nor a connect, and the request was not sent again already. No fault of the
    // origin looks like this, so nothing is hidden. True: the exchange is reset for the new
    // try (same attempt, same clock and deadline); false: end() the attempt.
    bool send_again(IoFailure failure);

    // Ends the attempt. Failure empty: as the parser saw the response, ok (status < 400),
    // http_error, malformed or truncated (also when it ended early). Failure set: the outcome
    // its step names, worded the same in every model:
    //   socket, connect -> connect_error ("connect: ECONNREFUSED", "connect: no answer within
    //                      T ms"); but a limit of the client (EMFILE, EAGAIN, EADDRNOTAVAIL...,
    //                      is_client_limit) throws LimitReached: the run stops, naming it
    //                      ("socket: EMFILE (RLIMIT_NOFILE 20000)")
    //   send, recv      -> timeout ("no complete response within T ms") when the deadline
    //                      passed, else reset ("recv: ECONNRESET")
    Record end(IoFailure failure = {});
    // The same, written over a record the caller keeps (its strings' capacity reused).
    void end(IoFailure failure, Record& into);

    // The connection may carry the next request: the response completed, both sides keep alive.
    bool connection_reusable() const;
    // Crawl: the page's links, resolved against its <base href> or URL, fragments removed,
    // duplicates removed. Empty unless the attempt ended ok. Once: it moves them out.
    std::vector<std::string> take_links();

private:
    ResponseParser parser();  // feeding checksum_ and links_
    void start_again();       // a fresh parse for a stale keep-alive resend
    void write_request();     // request_ for url_
    void fill(Record& r, Outcome outcome, int status, std::string_view error);

    std::string authority_;
    std::string origin_prefix_;  // "http://" + authority_: see write_request
    std::string url_;
    int attempt_;
    bool keep_alive_;
    bool want_links_;
    int timeout_ms_;
    TaskId who_;
    std::int64_t start_ns_;
    std::int64_t deadline_ns_;
    std::string request_;
    // Per try (a stale keep-alive resend starts these again). Declared in this order: the
    // parser's sink writes to the two before it.
    Checksum checksum_;
    std::unique_ptr<LinkExtractor> links_;  // crawl only: libxml2's parser costs a few µs to set up
    ResponseParser parser_;
    std::uint64_t received_ = 0;
    std::int64_t connected_ns_ = 0;
    std::int64_t first_byte_ns_ = 0;
    bool resent_ = false;
    bool ok_ = false;
};

}  // namespace rosetta
