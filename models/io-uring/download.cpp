// io_uring download: stackless-coroutines' download (models/stackless-coroutines/download.cpp),
// word for word but for the connection type: a coroutine per URL, at most C alive, on one loop.
// What differs is below fetch_url, in fetch.cpp: the kernel does the I/O and says when it is
// done.
#include "models/io-uring/fetch.hpp"

namespace rosetta {

namespace {

using namespace io_uring_model;

constexpr std::uint64_t start_batch_size = 64;

coro::Task<void> fetch_one(Shared& shared, const std::string& url, TaskId who, coro::Permit) {
    Fd connection = shared.idle.take();
    Fetched fetched;
    co_await fetch_url(shared, connection, url, who, fetched);
    shared.idle.give(std::move(connection));
}

coro::Task<void> download_all(Shared& shared) {
    const std::vector<std::string> urls = shared.run.download_urls();
    coro::Semaphore slots(static_cast<std::size_t>(shared.run.spec().concurrency));
    coro::TaskGroup tasks(shared.loop);
    const std::uint64_t lane = TaskId::this_thread().lane;
    std::uint64_t task = 0;
    for (const std::string& url : urls) {
        coro::Permit permit = co_await slots.acquire();
        if (tasks.failed()) break;
        tasks.spawn(fetch_one(shared, url, {lane, ++task}, std::move(permit)));
        // spawn runs the task to its first wait (a connect) and acquire does not suspend while
        // permits are left, so without this the loop would not poll until all C had started:
        // at C=10,000 the connects take 0.4 s, and the first connected would wait that long
        // to send. A sleep of 0 gives the loop a turn (asyncio.sleep(0)).
        if (task % start_batch_size == 0) co_await coro::sleep_for(0);
    }
    co_await tasks.join();
}

}  // namespace

Failure download(const ModelRun& run) {
    coro::Loop loop;
    Shared shared(loop, run, run.spec().concurrency);
    try {
        loop.run(download_all(shared));
    } catch (...) {  // LimitReached, bad_alloc: the run stopped there
        return failure_of(std::current_exception());
    }
    return {};
}

}  // namespace rosetta
