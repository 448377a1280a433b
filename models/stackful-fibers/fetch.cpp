// The stackful-fibers model: where it waits. models/blocking/fetch.cpp line for line, but each
// place the kernel would park the thread parks the fiber on the hub instead (Socket::wait), with
// the attempt's deadline; the code around the waits is the blocking code.
#include "models/stackful-fibers/fetch.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

namespace rosetta::fibers {

namespace {

// Opens a socket and connects it, the fiber parked until it is writable or the deadline.
IoFailure connect(Shared& shared, SocketPtr& connection, const Exchange& exchange) {
    Fd fd = open_tcp_socket(shared.run.origin());
    if (!fd) return {Step::socket, errno};
    connection = shared.open(std::move(fd));
    int rc = start_connect(connection->fd(), shared.run.origin());
    if (rc == EINPROGRESS)
        rc = connection->wait(EPOLLOUT, exchange.deadline_ns()) ? connect_result(connection->fd())
                                                                : deadline_passed;
    if (rc != 0) return {Step::connect, rc};
    return {};
}

// Sends the request, the fiber parked while the socket's buffer is full.
IoFailure send_all(GreenSocket& socket, const Exchange& exchange) {
    std::string_view bytes = exchange.request();
    while (!bytes.empty()) {
        ssize_t n = ::send(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EAGAIN) {
            if (!socket.wait(EPOLLOUT, exchange.deadline_ns()))
                return {Step::send, deadline_passed};
        } else if (n < 0 && errno != EINTR) {
            return {Step::send, errno};
        }
    }
    return {};
}

// Feeds the exchange what recv() brings until the response ends or the peer closes, the fiber
// parked whenever nothing has arrived (first of all: the request was just sent).
IoFailure receive(GreenSocket& socket, Exchange& exchange, std::vector<char>& buffer) {
    for (;;) {
        if (!socket.wait(EPOLLIN, exchange.deadline_ns())) return {Step::recv, deadline_passed};
        ssize_t n;
        while ((n = ::recv(socket.fd(), buffer.data(), buffer.size(), 0)) > 0)
            if (exchange.on_bytes({buffer.data(), static_cast<std::size_t>(n)})) return {};
        if (n == 0) {
            exchange.on_eof();
            return {};
        }
        if (errno != EAGAIN && errno != EINTR) return {Step::recv, errno};
    }
}

}  // namespace

Record fetch(Shared& shared, SocketPtr& connection, Exchange& exchange) {
    for (;;) {
        if (!connection) {
            if (IoFailure failed = connect(shared, connection, exchange)) {
                connection.reset();
                return exchange.end(failed);
            }
            exchange.connected();
        }
        IoFailure failed = send_all(*connection, exchange);
        if (!failed) failed = receive(*connection, exchange, shared.buffer);
        if (failed || !exchange.connection_reusable()) connection.reset();
        if (!exchange.send_again(failed)) return exchange.end(failed);
    }
}

Fetched fetch_url(Shared& shared, SocketPtr& connection, const std::string& url, TaskId who) {
    for (int attempt = 1;; ++attempt) {
        Exchange exchange(shared.run, url, attempt, who);
        Record record = fetch(shared, connection, exchange);
        if (shared.run.record(record) == Next::done)
            return {std::move(record), exchange.take_links()};
    }
}

}  // namespace rosetta::fibers
