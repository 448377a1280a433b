// Stackless coroutines: where they wait. The blocking model's fetch (models/blocking/fetch.cpp)
// with each place its thread sleeps in the kernel turned into a co_await: the coroutine's
// frame keeps its locals, the loop runs the others, and the reactor resumes it when its socket
// is ready. The deadline is no longer a socket option per call but one timeout_at around the
// whole try. What to send, how to read the reply and how to name a failure are the Exchange's.
#include "models/stackless-coroutines/fetch.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace rosetta::stackless_coroutines {

namespace {

// Opens a socket and connects it; suspended until it is writable (connected or refused).
coro::Task<IoFailure> connect(Shared& shared, SocketPtr& connection) {
    Fd fd = open_tcp_socket(shared.run.origin());
    if (!fd) co_return IoFailure{Step::socket, errno};
    connection = std::make_unique<coro::Socket>(shared.loop, std::move(fd));
    int rc = start_connect(connection->fd(), shared.run.origin());
    if (rc == EINPROGRESS) {
        co_await connection->writable();
        rc = connect_result(connection->fd());
    }
    co_return IoFailure{Step::connect, rc};
}

// Sends the request, suspended while the socket's buffer is full.
coro::Task<IoFailure> send_all(coro::Socket& socket, const Exchange& exchange) {
    std::string_view bytes = exchange.request();
    while (!bytes.empty()) {
        ssize_t n = ::send(socket.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EAGAIN) {
            co_await socket.writable();
        } else if (n < 0 && errno != EINTR) {
            co_return IoFailure{Step::send, errno};
        }
    }
    co_return IoFailure{};
}

// Feeds the exchange what recv() brings until the response ends or the peer closes. It waits
// first (the request was sent a moment ago: a recv would only say EAGAIN), then reads until
// the socket is drained, and waits again.
coro::Task<IoFailure> receive(coro::Socket& socket, Exchange& exchange, std::vector<char>& buffer) {
    for (;;) {
        co_await socket.readable();
        ssize_t n;
        while ((n = ::recv(socket.fd(), buffer.data(), buffer.size(), 0)) > 0)
            if (exchange.on_bytes({buffer.data(), static_cast<std::size_t>(n)}))
                co_return IoFailure{};
        if (n == 0) {
            exchange.on_eof();
            co_return IoFailure{};
        }
        if (errno != EAGAIN && errno != EINTR) co_return IoFailure{Step::recv, errno};
    }
}

// One try, step by step; `step` says where it was, for the deadline's failure.
coro::Task<IoFailure> try_once(Shared& shared, SocketPtr& connection, Exchange& exchange,
                               Step& step) {
    if (!connection) {
        step = Step::connect;
        if (IoFailure failed = co_await connect(shared, connection)) co_return failed;
        exchange.connected();
    }
    step = Step::send;
    if (IoFailure failed = co_await send_all(*connection, exchange)) co_return failed;
    step = Step::recv;
    co_return co_await receive(*connection, exchange, shared.buffer);
}

}  // namespace

coro::Task<void> fetch(Shared& shared, SocketPtr& connection, Exchange& exchange, Record& into) {
    for (;;) {
        Step step = Step::connect;
        std::optional<IoFailure> finished = co_await coro::timeout_at(
            exchange.deadline_ns(), try_once(shared, connection, exchange, step));
        IoFailure failed = finished ? *finished : IoFailure{step, deadline_passed};
        if (failed || !exchange.connection_reusable()) connection.reset();
        if (!exchange.send_again(failed)) {
            exchange.end(failed, into);
            co_return;
        }
    }
}

}  // namespace rosetta::stackless_coroutines
