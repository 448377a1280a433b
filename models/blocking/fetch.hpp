// Blocking I/O: one attempt on one socket, the calling thread asleep in the kernel while it
// waits. The blocking model is this and a loop; process-per-task, thread-per-task and
// thread-pool link it too (rosetta_blocking_fetch), so their folders hold only how they spawn,
// share and join. See README.md for its place in the story.
#pragma once

#include <string>

#include "scenarios/exchange.hpp"
#include "scenarios/model.hpp"
#include "scenarios/net.hpp"

namespace rosetta::blocking {

// One try of the exchange's request: on `connection` if it is open (kept alive), else on a
// new one; the thread blocks in poll(), send() and recv() until the response is complete or
// the attempt's deadline passes. Leaves `connection` open only when it may carry the next
// request. A stale kept-alive connection is replaced once, uncounted (Exchange::send_again).
Record fetch(const ModelRun& run, Fd& connection, Exchange& exchange);

// Every attempt url needs: fetch, record, and again while the outcome is retryable and the
// budget lasts. Returns the final attempt and, crawling, the page's links.
Fetched fetch_url(const ModelRun& run, Fd& connection, const std::string& url);

}  // namespace rosetta::blocking
