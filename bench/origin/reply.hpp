// What the origin answers to one request: the head and body, how much of the body goes out
// and in how many pieces, and what becomes of the connection after. Decided here; sent by the
// event loop (event_loop.cpp), which knows of a reply only where its bytes are and when it ends.
//
//   Ask ask = Ask::of(&request);      // GET /p/7, keep-alive
//   ask.page = 7;                     // the loop names the page, counts the path
//   ask.fault = Fault::slow;          //   and draws its fault
//   reply.decide(state, ask);         // 200, the cached page, 10 pieces, keep alive
//   // send reply.head() and reply.body() up to reply.end_of_piece(1), (2) 10 ms later, ...
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "bench/origin/request.hpp"
#include "scenarios/site.hpp"

namespace rosetta::origin {

struct OriginState;

// A slow body: ten pieces, the first with the head, then one every 10 ms: ~90 ms in all,
// inside any client timeout of 200 ms or more.
inline constexpr int drip_pieces = 10;
inline constexpr auto drip_interval = std::chrono::milliseconds(10);

// What a request asked for, as far as the answer depends on it. Kept on the connection while
// the latency runs, by which time the request's bytes are gone.
struct Ask {
    enum class Kind { page, stats, bad_request, not_allowed };

    // What request asks for (nullptr: one that did not parse). For Kind::page, page and fault
    // are left to the caller, which counts the path and draws the fault of that attempt.
    static Ask of(const Request* request);

    Kind kind = Kind::page;
    std::optional<int> page;  // the page the path names (Site::page_of); none: 404
    Fault fault = Fault::none;
    bool keep_alive = true, head_only = false;
};

enum class After { keep_alive, close, reset };

class Reply {
public:
    Reply() = default;
    // head() and body() may be views into this reply's own buffers: it stays where it is built.
    Reply(const Reply&) = delete;
    Reply& operator=(const Reply&) = delete;

    // Decides the answer to ask. A page's head and body are views into the state's caches and
    // this reply's buffers keep their capacity, so serving a cached page allocates nothing.
    void decide(const OriginState& state, const Ask& ask);
    // Once sent: a generated body (stats, an uncached page) is not kept for the next request:
    // 19,000 idle connections each holding 16 KiB would cost 300 MiB.
    void drop_generated_body();

    std::string_view head() const { return head_; }
    std::string_view body() const { return body_; }  // as the head announces it
    // How much of body() goes out: all, none (HEAD), half (reset, truncate).
    std::size_t body_end() const { return body_end_; }
    // Bytes to send in all: the head and the body up to body_end().
    std::size_t size() const { return head_.size() + body_end_; }
    int pieces() const { return pieces_; }  // 1, or drip_pieces for a slow body
    // Bytes sent once piece (1 to pieces()) is out: the head goes with the first, and each
    // piece carries an equal share of the body.
    std::size_t end_of_piece(int piece) const {
        return head_.size() +
               body_end_ * static_cast<std::size_t>(piece) / static_cast<std::size_t>(pieces_);
    }
    After after() const { return after_; }

private:
    std::string owned_head_, owned_body_;
    std::string_view head_, body_;
    std::size_t body_end_ = 0;
    int pieces_ = 1;
    After after_ = After::keep_alive;
};

// The 200 head of every page: they all have the same length, so OriginState builds this
// once for keep-alive and once for close.
std::string page_head(std::size_t page_bytes, bool keep_alive);

}  // namespace rosetta::origin
