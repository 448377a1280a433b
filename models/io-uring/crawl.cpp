// io_uring crawl: stackless-coroutines' crawl (models/stackless-coroutines/crawl.cpp), word for
// word but for the connection type; the I/O below fetch_url is the kernel's (fetch.cpp).
#include "models/io-uring/fetch.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

namespace {

using namespace io_uring_model;

// One task's whole life. Whatever happens to the fetch, the frontier hears that it ended and
// the main coroutine is woken: without that it would wait for a fetch that never reports.
coro::Task<void> fetch_and_report(Shared& shared, Frontier& frontier, coro::Event& fetch_ended,
                                  std::string url, TaskId who, coro::Permit) {
    Fetched fetched;
    std::exception_ptr error;
    try {
        Fd connection = shared.idle.take();
        co_await fetch_url(shared, connection, url, who, fetched);
        shared.idle.give(std::move(connection));
    } catch (...) {  // LimitReached, bad_alloc, Cancelled: the run stops
        error = std::current_exception();
    }
    try {
        frontier.done(fetched.links);
    } catch (...) {  // bad_alloc admitting a link; done() counted the fetch as ended first
        if (!error) error = std::current_exception();
    }
    fetch_ended.set();
    if (error) std::rethrow_exception(error);
}

coro::Task<void> crawl_all(Shared& shared) {
    Frontier frontier(shared.run);
    coro::Event fetch_ended;
    coro::Semaphore slots(static_cast<std::size_t>(shared.run.spec().concurrency));
    coro::TaskGroup tasks(shared.loop);
    const std::uint64_t lane = TaskId::this_thread().lane;
    std::uint64_t task = 0;
    while (!frontier.finished() && !tasks.failed()) {
        std::optional<std::string> url = frontier.next();
        if (!url) {
            fetch_ended.clear();
            co_await fetch_ended.wait();
            continue;
        }
        coro::Permit permit = co_await slots.acquire();
        tasks.spawn(fetch_and_report(shared, frontier, fetch_ended, std::move(*url), {lane, ++task},
                                     std::move(permit)));
    }
    co_await tasks.join();
}

}  // namespace

Failure crawl(const ModelRun& run) {
    coro::Loop loop;
    Shared shared(loop, run, run.spec().concurrency);
    try {
        loop.run(crawl_all(shared));
    } catch (...) {  // LimitReached, bad_alloc: the run stopped there
        return failure_of(std::current_exception());
    }
    return {};
}

}  // namespace rosetta
