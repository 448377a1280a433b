// Both fiber models: the blocking fetch (models/blocking/fetch.hpp), with the kernel's sleeps
// turned into waits that block the fiber (GreenSocket::wait). Same functions, same order, same
// words; what differs is one wait per place the blocking model sleeps (green.hpp) and where the
// read buffer lives.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "models/stackful-fibers/green_socket.hpp"
#include "scenarios/exchange.hpp"
#include "scenarios/idle_connections.hpp"
#include "scenarios/model.hpp"

namespace rosetta::fibers {

// What the fibers of a run share (one thread: no lock): how to make a green socket, the
// kept-alive connections, and the read buffer — 64 KiB would not fit on a 64 KiB fiber stack,
// and one is enough, since a fiber never waits with bytes in it.
struct Shared {
    Shared(const ModelRun& run_, int capacity, std::function<SocketPtr(Fd)> open_)
        : run(run_), open(std::move(open_)), idle(static_cast<std::size_t>(capacity)) {}

    const ModelRun& run;
    std::function<SocketPtr(Fd)> open;  // a green socket of the model's kind
    IdleConnections<SocketPtr> idle;    // kept-alive connections between tasks
    std::vector<char> buffer = std::vector<char>(std::size_t{64} * 1024);
};

// One try of the exchange's request: on `connection` if it is open (kept alive), else on a
// new one; the fiber parks in connect, send and recv until the socket is ready or the
// attempt's deadline passes. Leaves `connection` open only when it may carry the next
// request. A stale kept-alive connection is replaced once, uncounted (Exchange::send_again).
Record fetch(Shared& shared, SocketPtr& connection, Exchange& exchange);

// Every attempt url needs: fetch, record, and again while the outcome is retryable and the
// budget lasts. Returns the final attempt and, crawling, the page's links.
Fetched fetch_url(Shared& shared, SocketPtr& connection, const std::string& url, TaskId who);

}  // namespace rosetta::fibers
