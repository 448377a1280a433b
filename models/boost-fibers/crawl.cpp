// Boost.Fiber crawl: C worker fibers fed by the main fiber from the frontier (on T threads:
// each its share of the workers, all fed through one channel).
//
// The main fiber takes the next URL from the frontier and pushes it into the channel; with
// nothing queued, it waits on a fiber condition variable until a worker's fetch ends (its
// links may queue more) or the crawl is over. The frontier is under a fiber mutex: with
// --threads T, workers on every thread hand it their links.
//
// --threads T: thread i runs its share of the C workers (scenarios/lanes.hpp); thread 0's
// main fiber feeds them all through the one channel, which Boost.Fiber lets fibers of any
// thread push to and pop from. A worker never moves: its sockets are in its thread's epoll set.
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/mutex.hpp>

#include "models/boost-fibers/scheduler.hpp"
#include "models/stackful-fibers/fetch.hpp"
#include "models/stackful-fibers/stacks.hpp"
#include "scenarios/frontier.hpp"
#include "scenarios/lanes.hpp"

namespace rosetta {

using boost::fibers::channel_op_status;

Failure crawl(const ModelRun& run) {
    const int concurrency = run.spec().concurrency;
    const int lanes = lanes_for(run.spec().threads, concurrency);
    Frontier frontier(run);  // under mutex
    boost::fibers::mutex mutex;
    boost::fibers::condition_variable fetch_ended;
    boost::fibers::buffered_channel<std::string> queue(64);
    boost_fibers::FirstFailure failures;
    auto stop = [&](std::exception_ptr error) {
        {
            std::unique_lock lock(mutex);  // the main fiber sees it before it waits, or is woken
            failures.set(std::move(error));
        }
        fetch_ended.notify_all();
        queue.close();
    };
    boost_fibers::run_on_fiber_threads(static_cast<std::size_t>(lanes), [&](std::size_t i) {
        fibers::StackPool stacks;
        const int share = concurrency_share(concurrency, lanes, static_cast<int>(i));
        fibers::Shared shared(run, share, [](Fd fd) {
            return std::make_unique<boost_fibers::Socket>(std::move(fd));
        });
        const std::uint64_t lane = TaskId::this_thread().lane;
        std::vector<boost::fibers::fiber> workers;
        try {
            workers.reserve(static_cast<std::size_t>(share));
            for (std::uint64_t task = 1; task <= static_cast<std::uint64_t>(share); ++task)
                workers.emplace_back(std::allocator_arg, stacks.allocator(), [&, task] {
                    std::string url;
                    while (queue.pop(url) == channel_op_status::success) {
                        Fetched fetched;
                        std::exception_ptr error;
                        try {
                            fibers::SocketPtr connection = shared.idle.take();
                            fetched = fetch_url(shared, connection, url, TaskId{lane, task});
                            shared.idle.give(std::move(connection));
                        } catch (...) {  // LimitReached, bad_alloc: a fiber must not let it out
                            error = std::current_exception();
                        }
                        {
                            std::unique_lock lock(mutex);
                            try {
                                frontier.done(fetched.links);
                            } catch (...) {  // bad_alloc admitting a link; the fetch ended
                                if (!error) error = std::current_exception();
                            }
                        }
                        if (error) stop(error);
                        fetch_ended.notify_one();
                    }
                });
            if (i == 0) {  // the main fiber of thread 0 feeds every thread's workers
                for (;;) {
                    std::optional<std::string> url;
                    {
                        std::unique_lock lock(mutex);
                        while (!failures.stopping() && !frontier.finished() &&
                               !(url = frontier.next()))
                            fetch_ended.wait(lock);
                    }
                    if (!url || queue.push(std::move(*url)) != channel_op_status::success) break;
                }
                queue.close();
            }
        } catch (...) {  // a worker's stack refused, bad_alloc
            stop(std::current_exception());
        }
        for (boost::fibers::fiber& worker : workers) worker.join();
    });
    return failures.failure();
}

}  // namespace rosetta
