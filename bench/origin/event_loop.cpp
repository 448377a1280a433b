#include "bench/origin/event_loop.hpp"

#include <fmt/format.h>
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
// A slow body: ten pieces, the first with the head, then one every 10 ms: ~90 ms in all,
// inside any client timeout of 200 ms or more.
constexpr int drip_pieces = 10;
constexpr auto drip_interval = std::chrono::milliseconds(10);
// With descriptors exhausted, accept() would fail at once again: the listener sleeps this long.
constexpr auto accept_pause = std::chrono::milliseconds(100);
// One wake-up accepts at most this many, so a connect storm cannot starve served clients.
constexpr int accepts_per_wakeup = 256;

constexpr std::string_view malformed_head = "HTTX/1.1 2x0 ???\r\nContent-Lenth: what\r\n\r\n";

std::string make_head(int status, std::string_view reason, std::string_view type,
                      std::size_t length, bool keep_alive) {
    return fmt::format(
        "HTTP/1.1 {} {}\r\nServer: rosetta-origin\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
        "Connection: {}\r\n\r\n",
        status, reason, type, length, keep_alive ? "keep-alive" : "close");
}

void check(bool ok, const char* what) {
    if (!ok) throw std::system_error(errno, std::system_category(), what);
}

}  // namespace

OriginState::OriginState(const Spec& spec, std::string authority)
    : site(SiteParams::from(spec, std::move(authority))),
      latency(std::chrono::milliseconds(spec.latency_ms)),
      threads(spec.threads),
      counts(site) {
    // 256 MiB holds the default site 16,000 times over; past it generating a 16 KiB page per
    // request (~30 us) is cheaper than the memory.
    constexpr std::size_t cache_budget = std::size_t{256} << 20;
    const auto page_bytes = static_cast<std::size_t>(site.params().page_bytes);
    const auto pages = static_cast<std::size_t>(site.params().pages);
    if (pages * page_bytes <= cache_budget) {
        bodies.reserve(pages * page_bytes);
        for (std::size_t id = 0; id < pages; ++id) bodies += site.page_html(static_cast<int>(id));
    }
    page_head_keep_alive = make_head(200, "OK", "text/html", page_bytes, true);
    page_head_close = make_head(200, "OK", "text/html", page_bytes, false);
}

std::optional<std::string_view> OriginState::cached_body(int page) const {
    if (bodies.empty()) return std::nullopt;
    const auto page_bytes = static_cast<std::size_t>(site.params().page_bytes);
    return std::string_view(bodies).substr(static_cast<std::size_t>(page) * page_bytes, page_bytes);
}

nlohmann::json OriginState::stats() const {
    return {{"requests", counts.total()},
            {"paths", counts.paths()},
            {"peak_connections", connections.peak()},
            {"peak_inflight", inflight.peak()},
            {"connections", connections.level()},
            {"inflight", inflight.level()},
            {"bad_requests", bad_requests.load(std::memory_order_relaxed)},
            {"threads", threads}};
}

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
    for (const TimerQueue* queue : {&latency_timers_, &drip_timers_})
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
        c->piece_end = c->head.size() + c->body_end * static_cast<std::size_t>(c->piece) /
                                            static_cast<std::size_t>(c->pieces);
        flush(*c);
        progress(*c);
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
        int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) pause_listener();  // EMFILE, ENFILE, ENOBUFS, ENOMEM
            return;
        }
        // A dripped piece or the tail of a partial write must not wait for a delayed ACK.
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        c->events = EPOLLIN;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = c.get();
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
            ::close(fd);
            pause_listener();
            return;
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
    ssize_t n = ::read(c.fd, scratch_.get(), scratch_bytes);
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
    while (c.state == Connection::State::reading && !c.dead) {
        Request request;
        ParseResult result = parse_request(std::string_view(c.input).substr(consumed), request);
        if (result == ParseResult::incomplete) break;
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
    update_interest(c);
}

// Decides the answer to one request (nullptr: a bad one) and when to send it.
void EventLoop::begin(Connection& c, const Request* request) {
    using Reply = Connection::Reply;
    c.fault = Fault::none;
    c.page.reset();
    c.keep_alive = request && request->keep_alive;
    c.head_only = request && request->method == "HEAD";
    if (!request) {
        c.reply = Reply::bad_request;
    } else if (request->method != "GET" && !c.head_only) {
        c.reply = Reply::not_allowed;
        c.keep_alive = false;  // it may have sent a body we did not read
    } else if (request->target == "/__stats") {
        // The probe is not part of the simulated web: no count, no fault, no latency.
        c.reply = Reply::stats;
        respond(c);
        return;
    } else {
        c.reply = Reply::served;
        c.page = state_.site.page_of(request->target);
        auto attempt = static_cast<int>(state_.counts.count(request->target, c.page));
        c.fault = state_.site.fault(request->target, attempt);
        c.in_flight = true;
        state_.inflight.add();
        if (c.fault == Fault::stall) {
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
    using Reply = Connection::Reply;
    c.owned_head.clear();
    c.owned_body.clear();
    c.body = {};
    c.pieces = c.piece = 1;
    c.sent = 0;
    c.after = c.keep_alive ? After::keep_alive : After::close;
    auto small = [&](int status, std::string_view reason, std::string_view text) {
        c.owned_head = make_head(status, reason, "text/plain", text.size(), c.keep_alive);
        c.head = c.owned_head;
        c.body = text;
    };
    switch (c.reply) {
        case Reply::stats:
            c.owned_body = state_.stats().dump();
            c.owned_head =
                make_head(200, "OK", "application/json", c.owned_body.size(), c.keep_alive);
            c.head = c.owned_head;
            c.body = c.owned_body;
            break;
        case Reply::bad_request:
            small(400, "Bad Request", "bad request\n");
            break;
        case Reply::not_allowed:
            small(405, "Method Not Allowed", "only GET and HEAD\n");
            break;
        case Reply::served:
            if (c.fault == Fault::malformed) {
                c.head = malformed_head;
                c.after = After::close;
            } else if (c.fault == Fault::status) {
                small(503, "Service Unavailable", "try again\n");
            } else if (c.fault == Fault::notfound || !c.page) {
                small(404, "Not Found", "not found\n");
            } else {
                c.head = c.keep_alive ? state_.page_head_keep_alive : state_.page_head_close;
                if (auto cached = state_.cached_body(*c.page)) {
                    c.body = *cached;
                } else {
                    c.owned_body = state_.site.page_html(*c.page);
                    c.body = c.owned_body;
                }
            }
            break;
    }
    c.body_end = c.head_only ? 0 : c.body.size();
    // The faults that cut or slow the delivery apply to whatever the answer would have been.
    if (c.reply == Reply::served) {
        if (c.fault == Fault::reset || c.fault == Fault::truncate) {
            c.body_end /= 2;
            c.after = c.fault == Fault::reset ? After::reset : After::close;
        } else if (c.fault == Fault::slow) {
            c.pieces = drip_pieces;
        }
    }
    c.piece_end = c.head.size() + c.body_end * static_cast<std::size_t>(c.piece) /
                                      static_cast<std::size_t>(c.pieces);
    flush(c);
}

// Sends what is due of the response with sendmsg: writev with flags, so MSG_NOSIGNAL turns a
// vanished client's SIGPIPE into EPIPE without touching the process's signal dispositions.
void EventLoop::flush(Connection& c) {
    const std::size_t head_size = c.head.size();
    while (c.sent < c.piece_end) {
        iovec iov[2];
        std::size_t count = 0;
        if (c.sent < head_size)
            iov[count++] = {const_cast<char*>(c.head.data()) + c.sent, head_size - c.sent};
        std::size_t from = c.sent > head_size ? c.sent - head_size : 0;
        std::size_t to = c.piece_end - head_size;
        if (to > from) iov[count++] = {const_cast<char*>(c.body.data()) + from, to - from};
        msghdr message{};
        message.msg_iov = iov;
        message.msg_iovlen = count;
        ssize_t n = ::sendmsg(c.fd, &message, MSG_NOSIGNAL);
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
    if (c.sent < head_size + c.body_end) {
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
    // A generated body (stats, an uncached page) is not kept for the next request: 19,000
    // idle connections each holding 16 KiB would cost 300 MiB.
    if (c.owned_body.capacity() > 4096) std::string().swap(c.owned_body);
    c.state = Connection::State::reading;
    switch (c.after) {
        case After::keep_alive:
            break;
        case After::close:
            close_gracefully(c);
            break;
        case After::reset:
            close_with_reset(c);
            break;
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
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev) == 0) {
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
        if (::read(c.fd, scratch_.get(), scratch_bytes) <= 0) break;
    close_connection(c);
}

void EventLoop::close_with_reset(Connection& c) {
    linger abort{1, 0};  // close() now sends an RST and drops anything unsent
    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
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
    ::close(c.fd);  // also removes it from the epoll set: it was never dup'ed
    c.fd = -1;
    c.dead = true;
    std::size_t slot = c.slot;
    std::swap(connections_[slot], connections_.back());
    connections_[slot]->slot = slot;
    graveyard_.push_back(std::move(connections_.back()));
    connections_.pop_back();
}

}  // namespace rosetta::origin
