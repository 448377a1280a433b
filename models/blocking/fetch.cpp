// The blocking model: where it waits. One thread, one socket, and three places where the
// kernel parks the thread until something happens or the deadline passes: poll() on the
// connect, send() and recv() with SO_SNDTIMEO/SO_RCVTIMEO set to the time left. What to send,
// how to read the reply and how to name a failure are the Exchange's (scenarios/exchange.hpp).
#include "models/blocking/fetch.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace rosetta::blocking {

namespace {

// Sets the socket's kernel timeout for the next blocking call to the time left. The kernel
// reads 0 as "forever", so an expired deadline must never get here.
void set_timeout(int fd, int option, std::int64_t left_ns) {
    std::int64_t us = std::max<std::int64_t>(left_ns / 1000, 1);
    timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
    ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// Opens a socket and connects it, waiting in poll() at most until the deadline; then makes it
// blocking, so the kernel does the waiting from here on.
IoFailure connect(const Endpoint& origin, Fd& connection, const Exchange& exchange) {
    Fd fd = open_tcp_socket(origin);
    if (!fd) return {Step::socket, errno};
    connection = std::move(fd);
    int rc = start_connect(connection.get(), origin);
    if (rc == EINPROGRESS) {
        pollfd p{connection.get(), POLLOUT, 0};
        int left_ms = exchange.time_left_ms();
        int ready = left_ms > 0 ? ::poll(&p, 1, left_ms) : 0;
        rc = ready == 0 ? deadline_passed : ready < 0 ? errno : connect_result(connection.get());
    }
    if (rc != 0) return {Step::connect, rc};
    ::fcntl(connection.get(), F_SETFL, ::fcntl(connection.get(), F_GETFL) & ~O_NONBLOCK);
    return {};
}

// Sends the request, the kernel blocking in send() at most until the deadline.
IoFailure send_all(int fd, const Exchange& exchange) {
    std::string_view bytes = exchange.request();
    while (!bytes.empty()) {
        std::int64_t left = exchange.time_left_ns();
        if (left <= 0) return {Step::send, deadline_passed};
        set_timeout(fd, SO_SNDTIMEO, left);
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EINTR) {
            return {Step::send,
                    errno == EAGAIN ? deadline_passed : errno};  // EAGAIN: SO_SNDTIMEO fired
        }
    }
    return {};
}

// Feeds the exchange what recv() brings until the response ends or the peer closes, the
// kernel blocking in recv() at most until the deadline.
IoFailure receive(int fd, Exchange& exchange) {
    char buffer[64 * 1024];
    for (;;) {
        std::int64_t left = exchange.time_left_ns();
        if (left <= 0) return {Step::recv, deadline_passed};
        set_timeout(fd, SO_RCVTIMEO, left);
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            if (exchange.on_bytes({buffer, static_cast<std::size_t>(n)})) return {};
        } else if (n == 0) {
            exchange.on_eof();
            return {};
        } else if (errno == EAGAIN) {
            return {Step::recv, deadline_passed};  // SO_RCVTIMEO fired
        } else if (errno != EINTR) {
            return {Step::recv, errno};
        }
    }
}

}  // namespace

Record fetch(const ModelRun& run, Fd& connection, Exchange& exchange) {
    for (;;) {
        if (!connection) {
            if (IoFailure failed = connect(run.origin(), connection, exchange)) {
                connection.reset();
                return exchange.end(failed);
            }
            exchange.connected();
        }
        IoFailure failed = send_all(connection.get(), exchange);
        if (!failed) failed = receive(connection.get(), exchange);
        if (failed || !exchange.connection_reusable()) connection.reset();
        if (!exchange.send_again(failed)) return exchange.end(failed);
    }
}

Fetched fetch_url(const ModelRun& run, Fd& connection, const std::string& url) {
    for (int attempt = 1;; ++attempt) {
        Exchange exchange(run, url, attempt, TaskId::this_thread());
        Record record = fetch(run, connection, exchange);
        if (run.record(record) == Next::done) return {std::move(record), exchange.take_links()};
    }
}

}  // namespace rosetta::blocking
