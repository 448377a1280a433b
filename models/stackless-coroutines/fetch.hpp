// Stackless coroutines: one attempt on one socket, the coroutine suspended (its frame kept,
// the thread free for the others) where the blocking model's thread sleeps in the kernel.
// Read beside models/blocking/fetch.hpp: the same functions, each now a Task, each wait a
// co_await on the loop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/stackless-coroutines/runtime.hpp"
#include "scenarios/exchange.hpp"
#include "scenarios/idle_connections.hpp"
#include "scenarios/model.hpp"
#include "scenarios/net.hpp"

namespace rosetta::stackless_coroutines {

using SocketPtr = std::unique_ptr<coro::Socket>;

// What the coroutines of one loop share: the loop, the run, the kept-alive connections not
// in use (at most capacity), the exchanges of the fetches that ended (a fetch reuses one: its
// URL and request bytes, its parser, without allocating), and one read buffer (one thread: a
// recv's bytes go to its exchange before the coroutine can suspend, so no two ever need it
// at once).
struct Shared {
    Shared(coro::Loop& loop_, const ModelRun& run_, int capacity)
        : loop(loop_), run(run_), idle(static_cast<std::size_t>(capacity)) {}

    coro::Loop& loop;
    const ModelRun& run;
    IdleConnections<SocketPtr> idle;  // kept-alive connections between tasks
    std::vector<std::unique_ptr<Exchange>> exchanges;
    std::vector<char> buffer = std::vector<char>(std::size_t{64} * 1024);
};

// One try of the exchange's request: on `connection` if it is open (kept alive), else on a new
// one; every wait in it under the attempt's deadline (timeout_at cancels whichever wait is
// pending when it passes). Leaves `connection` open only when it may carry the next request.
// A stale kept-alive connection is replaced once, uncounted (Exchange::send_again). The
// attempt's record is written into `into`.
//
// The blocking fetch returns its Record, and fetch_url its Fetched; here they are written where
// the caller keeps them, as the callbacks model does (Exchange::end(failure, into)). A
// coroutine's frame holds room for its result from its first instruction to its last, so a
// Record returned up through fetch, fetch_url and the task would be held three times over for
// the whole wait on the response: 600 bytes of every connection at C=10,000.
coro::Task<void> fetch(Shared& shared, SocketPtr& connection, Exchange& exchange, Record& into);

// Every attempt url needs: fetch, record, and again while the outcome is retryable and the
// budget lasts. Writes the final attempt and, crawling, the page's links into `into`.
//
// A template only so that io-uring's loop uses it as it is: whatever `Shared` a loop's
// coroutines share (its run and its pool of ended exchanges) and whatever a connection is
// there, the retries are the same; `fetch` is the model's own (found beside its Shared).
template <class Shared, class Connection>
coro::Task<void> fetch_url(Shared& shared, Connection& connection, const std::string& url,
                           TaskId who, Fetched& into) {
    // One exchange for every attempt, from the pool of those that ended; back to it at the end
    // (not when an exception unwinds: that one is simply freed).
    std::unique_ptr<Exchange> exchange;
    if (shared.exchanges.empty()) {
        exchange = std::make_unique<Exchange>(shared.run, url, 1, who);
    } else {
        exchange = std::move(shared.exchanges.back());
        shared.exchanges.pop_back();
        exchange->restart(url, 1, who);
    }
    for (int attempt = 1;; ++attempt) {
        if (attempt > 1) exchange->restart(url, attempt);
        co_await fetch(shared, connection, *exchange, into.last);
        if (shared.run.record(into.last) == Next::done) {
            into.links = exchange->take_links();
            shared.exchanges.push_back(std::move(exchange));
            co_return;
        }
    }
}

}  // namespace rosetta::stackless_coroutines
