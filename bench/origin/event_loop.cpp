#include "bench/origin/event_loop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <iterator>
#include <system_error>

namespace rosetta::origin {

namespace {

// Level-triggered reads of up to this much; pipelined requests beyond what one read brings
// wait in the kernel's buffer.
constexpr std::size_t scratch_bytes = std::size_t{64} * 1024;
// A busy connection (latency running, body dripping) keeps reading pipelined requests until
// this much waits unparsed, then stops reading until it catches up.
constexpr std::size_t max_buffered_input = std::size_t{64} * 1024;
// With descriptors exhausted, accept() would fail at once again: the listener sleeps this long.
constexpr auto accept_pause = std::chrono::milliseconds(100);
// One wake-up accepts at most this many, so a connect storm cannot starve served clients.
constexpr int accepts_per_wakeup = 256;

void check(bool ok, const char* what) {
    if (!ok) throw std::system_error(errno, std::system_category(), what);
}

}  // namespace

void TimerQueue::push(Connection& c, Clock::time_point deadline) {
    c.deadline = deadline;
    c.queue = this;
    c.prev = tail_;
    c.next = nullptr;
    (tail_ ? tail_->next : head_) = &c;
    tail_ = &c;
}

void TimerQueue::remove(Connection& c) {
    (c.prev ? c.prev->next : head_) = c.next;
    (c.next ? c.next->prev : tail_) = c.prev;
    c.queue = nullptr;
    c.prev = c.next = nullptr;
}

EventLoop::EventLoop(OriginState& state, Fd listener)
    : state_(state),
      listener_(std::move(listener)),
      scratch_(std::make_unique<char[]>(scratch_bytes)) {
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    check(bool(epoll_), "origin: epoll_create1");
    wake_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    check(bool(wake_), "origin: eventfd");
    // The two special descriptors are told apart from connections by the address of their Fd.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &listener_;
    check(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev) == 0, "origin: epoll_ctl");
    ev.data.ptr = &wake_;
    check(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) == 0, "origin: epoll_ctl");
}

EventLoop::~EventLoop() {
    while (!connections_.empty()) close_connection(*connections_.back());
    graveyard_.clear();
}

void EventLoop::wake() {
    std::uint64_t one = 1;
    // Can only fail if the counter would overflow, and then the loop is awake anyway.
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void EventLoop::run() {
    running_ = true;
    while (running_) {
        now_ = Clock::now();
        int n = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()),
                             next_timeout_ms());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "origin: epoll_wait");
        }
        now_ = Clock::now();
        for (int i = 0; i < n; ++i) {
            void* tag = events_[static_cast<std::size_t>(i)].data.ptr;
            if (tag == &listener_) {
                accept_clients();
            } else if (tag == &wake_) {
                running_ = false;
            } else {
                auto* c = static_cast<Connection*>(tag);
                if (!c->dead) on_event(*c, events_[static_cast<std::size_t>(i)].events);
            }
        }
        fire_timers();
        graveyard_.clear();
    }
}

int EventLoop::next_timeout_ms() {
    std::optional<Clock::time_point> next = listener_paused_until_;
    for (const TimerQueue* queue : {&latency_timers_, &drip_timers_, &header_timers_})
        if (const Connection* c = queue->front(); c && (!next || c->deadline < *next))
            next = c->deadline;
    if (!next) return -1;
    // Rounded up: epoll_wait counts whole milliseconds, and waking early would only spin.
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now_).count();
    return wait <= 0 ? 0 : wait > INT_MAX ? INT_MAX : static_cast<int>(wait);
}

void EventLoop::fire_timers() {
    while (Connection* c = latency_timers_.front()) {
        if (c->deadline > now_) break;
        latency_timers_.remove(*c);
        respond(*c);
        progress(*c);
    }
    while (Connection* c = drip_timers_.front()) {
        if (c->deadline > now_) break;
        drip_timers_.remove(*c);
        ++c->piece;
        c->piece_end = c->reply.end_of_piece(c->piece);
        flush(*c);
        progress(*c);
    }
    while (Connection* c = header_timers_.front()) {
        if (c->deadline > now_) break;
        header_timers_.remove(*c);
        // No 408: the client is by definition not keeping up, and an answer could block.
        state_.header_timeouts.fetch_add(1, std::memory_order_relaxed);
        close_gracefully(*c);
    }
    if (listener_paused_until_ && *listener_paused_until_ <= now_) {
        listener_paused_until_.reset();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &listener_;
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), &ev);
    }
}

void EventLoop::accept_clients() {
    for (int i = 0; i < accepts_per_wakeup; ++i) {
        Fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) pause_listener();  // EMFILE, ENFILE, ENOBUFS, ENOMEM
            return;
        }
        state_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
        // A dripped piece or the tail of a partial write must not wait for a delayed ACK.
        int one = 1;
        ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Connection>();
        c->fd = std::move(fd);
        c->events = EPOLLIN;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = c.get();
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) {
            pause_listener();
            return;  // c closes its descriptor as it goes
        }
        c->slot = connections_.size();
        connections_.push_back(std::move(c));
        state_.connections.add();
    }
}

// Out of descriptors (or kernel memory): stop listening for a moment instead of spinning on
// a listener that stays readable. The accepted cost: new clients wait in the backlog (up to
// somaxconn) until a connection closes, rather than being refused at once as the
// reserve-descriptor trick would do; a benchmark client then sees a slow connect, not a
// failure it would have to tell apart from a fault.
void EventLoop::pause_listener() {
    if (listener_paused_until_) return;
    listener_paused_until_ = now_ + accept_pause;
    epoll_event ev{};
    ev.events = 0;
    ev.data.ptr = &listener_;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, listener_.get(), &ev);
}

void EventLoop::on_event(Connection& c, std::uint32_t events) {
    if (events & (EPOLLERR | EPOLLHUP)) {  // reset by the client, or closed both ways
        close_connection(c);
        return;
    }
    if ((events & EPOLLOUT) && c.state == Connection::State::writing) {
        flush(c);
        progress(c);
    }
    if (!c.dead && (events & EPOLLIN)) on_readable(c);
}

void EventLoop::on_readable(Connection& c) {
    ssize_t n = ::read(c.fd.get(), scratch_.get(), scratch_bytes);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) close_connection(c);
        return;
    }
    if (n == 0) {
        c.peer_closed = true;
        if (c.state == Connection::State::stalled) {
            close_connection(c);  // the stalled request's client gave up: that is all it waited for
            return;
        }
        progress(c);
        return;
    }
    if (c.state == Connection::State::stalled) return;  // read only to see the client leave
    c.input.append(scratch_.get(), static_cast<std::size_t>(n));
    progress(c);
}

// After anything happened to c: serve the next request if it is free, else watch what it
// waits for.
void EventLoop::progress(Connection& c) {
    if (c.dead) return;
    if (c.state == Connection::State::reading) {
        serve(c);
    } else {
        update_interest(c);
    }
}

// Requests are answered one at a time and in order: a pipelined request waits in input
// until the one before it has been sent entirely.
void EventLoop::serve(Connection& c) {
    std::size_t consumed = 0;
    // Nothing left to parse is the usual end, after the one request a read brought.
    while (c.state == Connection::State::reading && !c.dead && consumed < c.input.size()) {
        Request request;
        ParseResult result = parse_request(std::string_view(c.input).substr(consumed), request);
        if (result == ParseResult::incomplete) break;
        // All of the request (or garbage) is here: its deadline is met.
        if (c.queue == &header_timers_) header_timers_.remove(c);
        if (result == ParseResult::bad) {
            consumed = c.input.size();  // nothing after garbage can be trusted to be a request
            state_.bad_requests.fetch_add(1, std::memory_order_relaxed);
            begin(c, nullptr);
        } else {
            consumed += request.size;
            begin(c, &request);
        }
    }
    if (c.dead) return;
    if (c.state == Connection::State::stalled || consumed == c.input.size()) {
        c.input.clear();
    } else {
        c.input.erase(0, consumed);
    }
    // EOF and no complete request left: nothing more can come.
    if (c.state == Connection::State::reading && c.peer_closed) {
        close_gracefully(c);
        return;
    }
    watch_request_start(c);
    update_interest(c);
}

// The header timeout. One deadline per connection, armed when a request has started (bytes
// of it wait in input while the connection is free to read it) and cancelled once it is
// whole: an intrusive FIFO like the other timers, since every deadline is now + the same
// timeout. Arming, cancelling and firing are O(1) with no syscall and no allocation, and the
// usual request, whole in one read, never arms it. A periodic sweep would instead visit every
// connection each period, at 19,000 of them mostly idle keep-alives, and cut up to a period
// late. The deadline is not moved by later bytes, so a client dripping a byte a second is cut
// all the same. A kept-alive connection with nothing in input has no deadline: models hold
// thousands of those between requests. A request pipelined behind one still being answered
// starts its clock when that answer is sent.
void EventLoop::watch_request_start(Connection& c) {
    if (c.state != Connection::State::reading) return;
    // Empty lines before a request line are skipped by the parser (RFC 9112 2.2) and start
    // nothing: a client that ends a request with an extra CRLF then idles is not cut.
    if (!c.input.empty() && c.input.find_first_not_of("\r\n") == std::string::npos) c.input.clear();
    if (c.input.empty()) {
        if (c.queue == &header_timers_) header_timers_.remove(c);
    } else if (!c.queue) {
        header_timers_.push(c, now_ + state_.header_timeout);
    }
}

// Takes one request (nullptr: a bad one) and decides when to answer it; what to answer is
// the Reply's to decide, when the time comes.
void EventLoop::begin(Connection& c, const Request* request) {
    c.ask = Ask::of(request);
    if (c.ask.kind == Ask::Kind::stats) {
        // The probe is not part of the simulated web: no count, no fault, no latency.
        respond(c);
        return;
    }
    if (c.ask.kind == Ask::Kind::page) {
        c.ask.page = state_.site.page_of(request->target);
        auto attempt = static_cast<int>(state_.counts.count(request->target, c.ask.page));
        c.ask.fault = state_.site.fault(request->target, attempt);
        c.in_flight = true;
        state_.inflight.add();
        if (c.ask.fault == Fault::stall) {
            c.state = Connection::State::stalled;
            return;
        }
    }
    if (state_.latency.count() > 0) {
        c.state = Connection::State::delayed;
        latency_timers_.push(c, now_ + state_.latency);
    } else {
        respond(c);
    }
}

void EventLoop::respond(Connection& c) {
    c.reply.decide(state_, c.ask);
    c.sent = 0;
    c.piece = 1;
    c.piece_end = c.reply.end_of_piece(c.piece);
    flush(c);
}

// Sends what is due of the response with sendmsg: writev with flags, so MSG_NOSIGNAL turns a
// vanished client's SIGPIPE into EPIPE without touching the process's signal dispositions.
void EventLoop::flush(Connection& c) {
    const std::string_view head = c.reply.head(), body = c.reply.body();
    while (c.sent < c.piece_end) {
        iovec iov[2];
        std::size_t count = 0;
        if (c.sent < head.size())
            iov[count++] = {const_cast<char*>(head.data()) + c.sent, head.size() - c.sent};
        std::size_t from = c.sent > head.size() ? c.sent - head.size() : 0;
        std::size_t to = c.piece_end - head.size();
        if (to > from) iov[count++] = {const_cast<char*>(body.data()) + from, to - from};
        msghdr message{};
        message.msg_iov = iov;
        message.msg_iovlen = count;
        ssize_t n = ::sendmsg(c.fd.get(), &message, MSG_NOSIGNAL);
        if (n >= 0) {
            c.sent += static_cast<std::size_t>(n);
        } else if (errno == EAGAIN) {
            c.state = Connection::State::writing;
            return;
        } else if (errno != EINTR) {
            close_connection(c);
            return;
        }
    }
    if (c.sent < c.reply.size()) {
        c.state = Connection::State::dripping;
        drip_timers_.push(c, now_ + drip_interval);
        return;
    }
    complete(c);
}

void EventLoop::complete(Connection& c) {
    if (c.in_flight) {
        c.in_flight = false;
        state_.inflight.remove();
    }
    c.reply.drop_generated_body();
    c.state = Connection::State::reading;
    switch (c.reply.after()) {
        case After::keep_alive: break;
        case After::close: close_gracefully(c); break;
        case After::reset: close_with_reset(c); break;
    }
}

void EventLoop::update_interest(Connection& c) {
    using State = Connection::State;
    std::uint32_t want = 0;
    if (!c.peer_closed && (c.state == State::reading || c.state == State::stalled ||
                           c.input.size() < max_buffered_input))
        want |= EPOLLIN;
    if (c.state == State::writing) want |= EPOLLOUT;
    if (want == c.events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.ptr = &c;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) == 0) {
        c.events = want;
    } else {
        close_connection(c);
    }
}

// close() with unread bytes in the receive buffer sends an RST instead of a FIN, and a
// truncated response must end in a clean EOF: read what the client already sent first. A
// byte arriving after this still turns into an RST; the client had pipelined past a
// response that closes, and loses nothing it could have used.
void EventLoop::close_gracefully(Connection& c) {
    for (int i = 0; i < 16; ++i)
        if (::read(c.fd.get(), scratch_.get(), scratch_bytes) <= 0) break;
    close_connection(c);
}

void EventLoop::close_with_reset(Connection& c) {
    linger abort{1, 0};  // close() now sends an RST and drops anything unsent
    ::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    close_connection(c);
}

void EventLoop::close_connection(Connection& c) {
    if (c.dead) return;
    if (c.queue) c.queue->remove(c);
    if (c.in_flight) {
        c.in_flight = false;
        state_.inflight.remove();
    }
    state_.connections.remove();
    // Removed from the epoll set by hand before closing: close() alone removes it only if no
    // other descriptor refers to the socket, and a process that forks (the harness, a test)
    // lends every child a copy until its exec. Left in the set, the socket would go on
    // reporting events for a Connection already freed.
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
    c.fd.reset();
    c.dead = true;
    std::size_t slot = c.slot;
    std::swap(connections_[slot], connections_.back());
    connections_[slot]->slot = slot;
    graveyard_.push_back(std::move(connections_.back()));
    connections_.pop_back();
}

}  // namespace rosetta::origin
