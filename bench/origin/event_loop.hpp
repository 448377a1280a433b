// One event loop of the origin: an epoll set with its own listener, the connections it
// accepted, and three timer queues. It reads requests and sends replies; what a reply says is
// reply.hpp's to decide. OriginServer runs one loop per thread.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench/origin/reply.hpp"
#include "bench/origin/state.hpp"
#include "scenarios/net.hpp"

namespace rosetta::origin {

struct Connection;

// Connections waiting for a deadline. Every connection in one queue waits the same delay (the
// latency, the drip interval, or the header timeout) from a monotonic clock, so arrival order
// is deadline order and a FIFO does what a min-heap would: O(1) push and pop, and O(1)
// removal of a connection that closes while it waits, which a heap cannot do without an index.
class TimerQueue {
public:
    void push(Connection& connection, Clock::time_point deadline);
    void remove(Connection& connection);
    Connection* front() const { return head_; }

private:
    Connection* head_ = nullptr;
    Connection* tail_ = nullptr;
};

struct Connection {
    // reading: waiting for a complete request. delayed: the latency is running. writing: the
    // socket is full, EPOLLOUT pending. dripping: between two pieces of a slow body.
    // stalled: never answered; waits for the client to go.
    enum class State { reading, delayed, writing, dripping, stalled };

    Fd fd;                 // closed by EventLoop::close_connection, or with the Connection
    std::size_t slot = 0;  // index in EventLoop::connections_
    State state = State::reading;
    std::uint32_t events = 0;  // the epoll interest registered now
    bool peer_closed = false;  // read() saw EOF: serve what is here, then close
    bool dead = false;         // closed; freed when the current batch of events is done
    bool in_flight = false;    // counted in OriginState::inflight
    std::string input;         // received and not yet consumed

    Ask ask;      // what the request being answered asked for
    Reply reply;  // the answer, decided once the latency has passed
    // Bytes of the reply sent so far, and how far the piece due now goes (all of it unless
    // the body drips).
    std::size_t sent = 0, piece_end = 0;
    int piece = 1;

    // Membership of one TimerQueue: at most one at a time, as a connection waits for one
    // thing at a time (its latency when delayed, its next piece when dripping, the rest of a
    // started request when reading).
    TimerQueue* queue = nullptr;
    Connection* prev = nullptr;
    Connection* next = nullptr;
    Clock::time_point deadline;
};

class EventLoop {
public:
    EventLoop(OriginState& state, Fd listener);
    ~EventLoop();  // closes every connection still open, the listener, epoll and eventfd

    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    void run();   // until wake()
    void wake();  // from any thread

private:
    void accept_clients();
    void pause_listener();
    void on_event(Connection& c, std::uint32_t events);
    void on_readable(Connection& c);
    void serve(Connection& c);
    void begin(Connection& c, const Request* request);
    void respond(Connection& c);
    void flush(Connection& c);
    void complete(Connection& c);
    void progress(Connection& c);
    void watch_request_start(Connection& c);
    void fire_timers();
    int next_timeout_ms();
    void update_interest(Connection& c);
    void close_gracefully(Connection& c);
    void close_with_reset(Connection& c);
    void close_connection(Connection& c);

    OriginState& state_;
    Fd listener_, epoll_, wake_;
    std::vector<std::unique_ptr<Connection>> connections_;
    // Closed during this batch of events: later events of the batch may still name them.
    std::vector<std::unique_ptr<Connection>> graveyard_;
    TimerQueue latency_timers_, drip_timers_, header_timers_;
    std::optional<Clock::time_point> listener_paused_until_;
    Clock::time_point now_;
    bool running_ = false;
    std::unique_ptr<char[]> scratch_;
    std::array<epoll_event, 512> events_{};
};

}  // namespace rosetta::origin
