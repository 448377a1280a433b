// Stackful-fibers crawl: the blocking crawl's loop, with each fetch a fiber of its own.
//
// thread-per-task's crawl (models/thread-per-task/crawl.cpp) without the lock: every fiber runs
// on the hub's one thread and only between its parks, so the frontier is touched by one at a
// time by construction. The main fiber takes the next URL and spawns a fiber for it; with
// nothing queued it parks until a fetch ends (its links may queue more) or the crawl is over.
#include "models/stackful-fibers/fetch.hpp"
#include "models/stackful-fibers/green.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

using namespace fibers;

Failure crawl(const ModelRun& run) {
    Hub hub;
    Shared shared(run, run.spec().concurrency,
                  [&hub](Fd fd) { return std::make_unique<Socket>(hub, std::move(fd)); });
    try {
        hub.run([&] {
            Frontier frontier(run);
            Pool pool(hub, static_cast<std::size_t>(run.spec().concurrency));
            Fiber* main = hub.current();
            bool main_waits = false;
            const std::uint64_t lane = TaskId::this_thread().lane;
            std::uint64_t task = 0;
            while (!frontier.finished() && !pool.failed()) {
                std::optional<std::string> url = frontier.next();
                if (!url) {
                    main_waits = true;
                    hub.park_until(0);  // woken when a fetch ends
                    main_waits = false;
                    continue;
                }
                pool.spawn([&, url = std::move(*url), who = TaskId{lane, ++task}] {
                    Fetched fetched;
                    std::exception_ptr error;
                    try {
                        SocketPtr connection = shared.idle.take();
                        fetched = fetch_url(shared, connection, url, who);
                        shared.idle.give(std::move(connection));
                    } catch (...) {  // LimitReached, bad_alloc, Cancelled: the run stops
                        error = std::current_exception();
                    }
                    try {
                        frontier.done(fetched.links);
                    } catch (...) {  // bad_alloc admitting a link; the fetch counted as ended
                        if (!error) error = std::current_exception();
                    }
                    if (main_waits) hub.wake(*main);
                    if (error) std::rethrow_exception(error);
                });
            }
            pool.join();
        });
    } catch (...) {
        return failure_of(std::current_exception());
    }
    return {};
}

}  // namespace rosetta
