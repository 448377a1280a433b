// Stackless-coroutines download: a coroutine per URL, at most C alive, on one loop, one thread.
//
// thread-per-task's download (models/thread-per-task/download.cpp) with the thread turned into
// a coroutine: spawn starts it, it runs until its first co_await and returns to the loop,
// which resumes it when its socket is ready. A Semaphore of C permits stands where the thread
// limit stood; the TaskGroup joins them all, and its first error (a limit reached) stops the
// spawning. Kept-alive connections pass from a task that ends to the next one.
#include "models/stackless-coroutines/fetch.hpp"

namespace rosetta {

namespace {

using namespace stackless_coroutines;

constexpr std::uint64_t start_batch_size = 64;

coro::Task<void> fetch_one(Shared& shared, const std::string& url, TaskId who, coro::Permit) {
    SocketPtr connection = shared.idle.take();
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
