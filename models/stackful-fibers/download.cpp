// Stackful-fibers download: a fiber per URL, at most C alive, on one hub, one thread.
//
// thread-per-task's download (models/thread-per-task/download.cpp) with the thread turned into
// a fiber: the pool starts it, it runs blocking-looking code until it would wait and parks on
// the hub, which switches back to it when its socket is ready. gevent.pool.Pool(C) stands where
// the thread limit stood; its first error (a limit reached) stops the spawning. Spawned fibers
// start on the hub's next turns, 64 a turn (the reactor's bound on due timers), so the first
// connections send while the later ones are still made.
#include "models/stackful-fibers/fetch.hpp"
#include "models/stackful-fibers/green.hpp"

namespace rosetta {

using namespace fibers;

Failure download(const ModelRun& run) {
    Hub hub;
    Shared shared(run, run.spec().concurrency,
                  [&hub](Fd fd) { return std::make_unique<Socket>(hub, std::move(fd)); });
    try {
        hub.run([&] {
            const std::vector<std::string> urls = run.download_urls();
            Pool pool(hub, static_cast<std::size_t>(run.spec().concurrency));
            const std::uint64_t lane = TaskId::this_thread().lane;
            std::uint64_t task = 0;
            for (const std::string& url : urls) {
                if (pool.failed()) break;
                pool.spawn([&shared, &url, who = TaskId{lane, ++task}] {
                    SocketPtr connection = shared.idle.take();
                    fetch_url(shared, connection, url, who);
                    shared.idle.give(std::move(connection));
                });
            }
            pool.join();
        });
    } catch (...) {  // LimitReached, a stack the OS refused, bad_alloc: the run stopped there
        return failure_of(std::current_exception());
    }
    return {};
}

}  // namespace rosetta
