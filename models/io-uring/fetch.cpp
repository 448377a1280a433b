// io_uring: where it waits. stackless-coroutines' fetch (models/stackless-coroutines/fetch.cpp)
// with each "wait until ready, then call" turned into an awaited operation: connect is
// co_await ring.connect; the request's send and the reply's first recv are one co_await
// ring.request, two entries linked so the kernel starts the recv when the send is done; the
// bytes arrive in a buffer the kernel picked from the ring's pool. No EAGAIN, no readiness, no
// socket registered anywhere.
#include "models/io-uring/fetch.hpp"

#include <cerrno>

namespace rosetta::io_uring_model {

namespace {

// Opens a socket and connects it: one operation, completed when connected or refused.
coro::Task<IoFailure> connect(Shared& shared, Fd& connection) {
    connection = shared.ring.open_socket();
    if (!connection) co_return IoFailure{Step::socket, errno};
    int result = co_await shared.ring.connect(connection.get());
    co_return IoFailure{Step::connect, -result};
}

// Sends what is left of the request after a short send; the kernel completes each send with
// the bytes it took.
coro::Task<IoFailure> send_rest(Shared& shared, const Fd& connection, std::string_view bytes) {
    while (!bytes.empty()) {
        int sent = co_await shared.ring.send(connection.get(), bytes);
        if (sent < 0) co_return IoFailure{Step::send, -sent};
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    co_return IoFailure{};
}

// Feeds the exchange what each recv brings until the response ends or the peer closes, from
// `got` (the first bytes, if a request brought them) on.
coro::Task<IoFailure> receive(Shared& shared, const Fd& connection, Exchange& exchange,
                              std::optional<uring::Received> got) {
    for (;;) {
        if (!got) got.emplace(co_await shared.ring.recv(connection.get()));
        if (got->error()) co_return IoFailure{Step::recv, got->error()};
        if (got->bytes().empty()) {
            exchange.on_eof();
            co_return IoFailure{};
        }
        if (exchange.on_bytes(got->bytes())) co_return IoFailure{};
        got.reset();  // the buffer back to the kernel before the next wait
    }
}

// One try, step by step; `step` says where it was, for the deadline's failure. The request's
// send and the reply's first recv go to the kernel together, linked; only a short send (the
// link ends there) makes it send the rest and receive apart.
coro::Task<IoFailure> try_once(Shared& shared, Fd& connection, Exchange& exchange, Step& step) {
    if (!connection) {
        step = Step::connect;
        if (IoFailure failed = co_await connect(shared, connection)) co_return failed;
        exchange.connected();
    }
    step = Step::send;
    const std::string_view request = exchange.request();
    uring::Received reply = co_await shared.ring.request(connection.get(), request);
    if (reply.sent() < 0) co_return IoFailure{Step::send, -reply.sent()};
    const auto sent = static_cast<std::size_t>(reply.sent());
    if (sent < request.size()) {
        if (IoFailure failed = co_await send_rest(shared, connection, request.substr(sent)))
            co_return failed;
        step = Step::recv;
        co_return co_await receive(shared, connection, exchange, std::nullopt);
    }
    step = Step::recv;
    co_return co_await receive(shared, connection, exchange, std::move(reply));
}

}  // namespace

coro::Task<void> fetch(Shared& shared, Fd& connection, Exchange& exchange, Record& into) {
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

}  // namespace rosetta::io_uring_model
