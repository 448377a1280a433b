#include "models/epoll-callbacks/request.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace rosetta::epoll_callbacks {

namespace {
constexpr int max_depth = 8;
}  // namespace

Request::Request(Shared& shared, std::uint64_t task, OnFetched on_fetched)
    : shared_(shared),
      who_{TaskId::this_thread().lane, task},
      on_fetched_(std::move(on_fetched)),
      deadline_([this] { on_deadline(); }) {}

Request::~Request() { abandon(); }

void Request::fetch(std::string_view url) {
    url_.assign(url);
    attempt_ = 1;
    start_attempt();
}

void Request::abandon() {
    shared_.reactor.disarm(deadline_);
    close_connection();
    exchange_.reset();
    state_ = State::idle;
}

void Request::start_attempt() {
    state_ = State::connecting;  // not idle: abandon() or the end of the run would drop it
    if (depth_ >= max_depth) {
        shared_.reactor.disarm(deadline_);  // the last attempt's, which must not fire meanwhile
        shared_.reactor.call_soon([this] {
            if (state_ != State::idle) start_attempt();
        });
        return;
    }
    ++depth_;
    struct Leave {
        int& depth;
        ~Leave() { --depth; }
    } leave{depth_};
    if (exchange_) {
        exchange_->restart(url_, attempt_);
    } else {
        exchange_.emplace(shared_.run, url_, attempt_, who_);
    }
    shared_.reactor.arm(deadline_, exchange_->deadline_ns());
    // Its own kept-alive connection first (still registered: no epoll_ctl), else the pool's.
    if (!connection_) connection_ = shared_.idle.take();
    if (connection_) {
        state_ = State::sending;
        sent_ = 0;
        send_some();
    } else {
        open_connection();
    }
}

// Callback boundary: a non-blocking connect returns at once; the reactor says when it is done.
void Request::open_connection() {
    state_ = State::connecting;
    connection_ = open_tcp_socket(shared_.run.origin());
    if (!connection_) return end_try({Step::socket, errno});
    int rc = start_connect(connection_.get(), shared_.run.origin());
    if (rc == EINPROGRESS) return want(EPOLLOUT);
    if (rc != 0) return end_try({Step::connect, rc});
    on_connected();
}

void Request::on_connected() {
    exchange_->connected();
    state_ = State::sending;
    sent_ = 0;
    send_some();
}

// Callback boundary: what the socket takes now; the rest when it is writable again.
void Request::send_some() {
    std::string_view request = exchange_->request();
    while (sent_ < request.size()) {
        ssize_t n =
            ::send(connection_.get(), request.data() + sent_, request.size() - sent_, MSG_NOSIGNAL);
        if (n >= 0) {
            sent_ += static_cast<std::size_t>(n);
        } else if (errno == EAGAIN) {
            return want(EPOLLOUT);
        } else if (errno != EINTR) {
            return end_try({Step::send, errno});
        }
    }
    state_ = State::receiving;
    want(EPOLLIN);
}

// Callback boundary: what has arrived; the rest when it is readable again.
void Request::receive_some() {
    for (;;) {
        ssize_t n = ::recv(connection_.get(), shared_.buffer.data(), shared_.buffer.size(), 0);
        if (n > 0) {
            if (exchange_->on_bytes({shared_.buffer.data(), static_cast<std::size_t>(n)}))
                return end_try({});
            if (static_cast<std::size_t>(n) < shared_.buffer.size()) return;  // drained, likely
        } else if (n == 0) {
            exchange_->on_eof();
            return end_try({});
        } else if (errno == EAGAIN) {
            return;
        } else if (errno != EINTR) {
            return end_try({Step::recv, errno});
        }
    }
}

void Request::on_events(std::uint32_t events) {
    switch (state_) {
        case State::connecting: {
            if (int rc = connect_result(connection_.get())) return end_try({Step::connect, rc});
            return on_connected();
        }
        case State::sending: return send_some();
        case State::receiving:
            // An error or hang-up is read as one: recv returns it (or EOF) with the bytes
            // before it.
            (void)events;
            return receive_some();
        case State::idle: return;
    }
}

void Request::on_deadline() {
    Step step = state_ == State::connecting ? Step::connect
                : state_ == State::sending  ? Step::send
                                            : Step::recv;
    end_try({step, deadline_passed});
}

void Request::end_try(IoFailure failure) {
    if (failure || !exchange_->connection_reusable()) close_connection();
    if (exchange_->send_again(failure)) return open_connection();  // stale keep-alive
    try {
        exchange_->end(failure, fetched_.last);
    } catch (const LimitReached& e) {  // the client ran out of something: no more URLs start
        if (!shared_.limit) shared_.limit = e.what();
        shared_.limit_hit.store(true, std::memory_order_relaxed);
        abandon();
        if (shared_.on_limit) shared_.on_limit();
        return;
    }
    // The deadline stays armed into the next attempt or URL, whose arm() moves it: one heap
    // update instead of a removal and an insertion. Disarmed only when nothing follows.
    if (shared_.run.record(fetched_.last) == Next::retry) {
        ++attempt_;
        return start_attempt();
    }
    fetched_.links = exchange_->take_links();
    state_ = State::idle;
    on_fetched_(*this, fetched_);
    if (state_ == State::idle) {  // no next URL for it here
        shared_.reactor.disarm(deadline_);
        park_connection();
    }
}

void Request::park_connection() {
    if (!connection_) return;
    unwatch();
    shared_.idle.give(std::move(connection_));
    connection_.reset();
}

void Request::want(std::uint32_t events) {
    interest_.want(shared_.reactor, connection_.get(), events, this);
}

void Request::unwatch() { interest_.drop(shared_.reactor, connection_.get(), this); }

void Request::close_connection() {
    if (!connection_) return;
    unwatch();
    connection_.reset();
}

}  // namespace rosetta::epoll_callbacks
