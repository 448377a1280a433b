// io_uring: one attempt on one socket, each step an operation the kernel performs and
// completes. Read beside models/stackless-coroutines/fetch.hpp: the same functions, the same
// Tasks, the same deadline around the try; where that model waits for readiness and then calls
// send() or recv(), this one awaits the send or the recv itself.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/io-uring/ring.hpp"
#include "models/stackless-coroutines/fetch.hpp"
#include "scenarios/exchange.hpp"
#include "scenarios/idle_connections.hpp"
#include "scenarios/model.hpp"

namespace rosetta::io_uring_model {

// What the coroutines of one loop share: the loop, its ring, the run, the kept-alive
// connections not in use (plain descriptors: nothing registers them anywhere), and the
// exchanges of the fetches that ended (a fetch reuses one). No read buffer: the ring's
// provided buffers are where the bytes arrive.
struct Shared {
    Shared(coro::Loop& loop_, const ModelRun& run_, int capacity)
        : loop(loop_),
          ring(loop_, run_.origin()),
          run(run_),
          idle(static_cast<std::size_t>(capacity)) {}

    coro::Loop& loop;
    uring::Ring ring;
    const ModelRun& run;
    IdleConnections<Fd> idle;  // kept-alive connections between tasks
    std::vector<std::unique_ptr<Exchange>> exchanges;
};

// One try of the exchange's request, on `connection` if it is open (kept alive), else on a new
// one, under the attempt's deadline. As stackless-coroutines' fetch (see there).
coro::Task<void> fetch(Shared& shared, Fd& connection, Exchange& exchange, Record& into);

// Every attempt url needs: stackless-coroutines' retries as they are, over this fetch.
using stackless_coroutines::fetch_url;

}  // namespace rosetta::io_uring_model
