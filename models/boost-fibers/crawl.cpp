// Boost.Fiber crawl: C worker fibers fed by the main fiber from the frontier.
//
// The main fiber takes the next URL from the frontier and pushes it into the channel; with
// nothing queued, it waits on a fiber condition variable until a worker's fetch ends (its
// links may queue more) or the crawl is over. All fibers are on one thread and switch only
// where they wait, so the frontier needs no lock; the mutex is the condition variable's.
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/mutex.hpp>

#include "models/boost-fibers/scheduler.hpp"
#include "models/stackful-fibers/fetch.hpp"
#include "models/stackful-fibers/stacks.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

using boost::fibers::channel_op_status;

Failure crawl(const ModelRun& run) {
    Failure failure;
    boost_fibers::run_on_a_fiber_thread([&] {
        fibers::StackPool stacks;
        fibers::Shared shared(run, run.spec().concurrency, [](Fd fd) {
            return std::make_unique<boost_fibers::Socket>(std::move(fd));
        });
        Frontier frontier(run);
        boost::fibers::buffered_channel<std::pair<std::string, std::uint64_t>> queue(64);
        boost::fibers::mutex mutex;
        boost::fibers::condition_variable fetch_ended;
        const std::uint64_t lane = TaskId::this_thread().lane;
        std::vector<boost::fibers::fiber> workers;
        workers.reserve(static_cast<std::size_t>(run.spec().concurrency));
        for (int i = 0; i < run.spec().concurrency; ++i)
            workers.emplace_back(std::allocator_arg, stacks.allocator(), [&] {
                std::pair<std::string, std::uint64_t> next;
                while (queue.pop(next) == channel_op_status::success) {
                    Fetched fetched;
                    try {
                        fibers::SocketPtr connection = shared.idle.take();
                        fetched =
                            fetch_url(shared, connection, next.first, TaskId{lane, next.second});
                        shared.idle.give(std::move(connection));
                    } catch (...) {  // LimitReached, bad_alloc: a fiber must not let it out
                        if (!failure) failure = failure_of(std::current_exception());
                    }
                    try {
                        frontier.done(fetched.links);
                    } catch (
                        ...) {  // bad_alloc admitting a link; done() counted the fetch as ended
                        if (!failure) failure = failure_of(std::current_exception());
                    }
                    fetch_ended.notify_one();
                }
            });
        std::uint64_t task = 0;
        while (!frontier.finished() && !failure) {
            std::optional<std::string> url = frontier.next();
            if (!url) {
                std::unique_lock lock(mutex);
                fetch_ended.wait(lock, [&] {
                    return frontier.queued() > 0 || frontier.finished() || bool(failure);
                });
                continue;
            }
            if (queue.push({std::move(*url), ++task}) != channel_op_status::success) break;
        }
        queue.close();
        for (boost::fibers::fiber& worker : workers) worker.join();
    });
    return failure;
}

}  // namespace rosetta
