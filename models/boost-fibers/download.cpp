// Boost.Fiber download: C worker fibers on one thread, fed URLs through a channel.
//
// The shape Boost.Fiber's users write (Go's, with goroutines and a channel): a fixed set of
// workers, each taking the next URL from a buffered_channel and fetching it with the blocking
// code of the fiber models (models/stackful-fibers/fetch.hpp). Boost.Fiber switches between
// them; when none is ready, its scheduler sleeps in epoll_wait (scheduler.hpp). The first error
// a worker meets closes the channel: the others finish the URL in hand and stop.
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/fiber.hpp>

#include "models/boost-fibers/scheduler.hpp"
#include "models/stackful-fibers/fetch.hpp"
#include "models/stackful-fibers/stacks.hpp"

namespace rosetta {

using boost::fibers::channel_op_status;

Failure download(const ModelRun& run) {
    Failure failure;
    boost_fibers::run_on_a_fiber_thread([&] {
        fibers::StackPool stacks;
        const std::vector<std::string> urls = run.download_urls();
        const std::size_t workers_wanted =
            std::min(urls.size(), static_cast<std::size_t>(run.spec().concurrency));
        fibers::Shared shared(run, run.spec().concurrency, [](Fd fd) {
            return std::make_unique<boost_fibers::Socket>(std::move(fd));
        });
        boost::fibers::buffered_channel<std::size_t> queue(64);  // a power of two, as it requires
        const std::uint64_t lane = TaskId::this_thread().lane;
        std::vector<boost::fibers::fiber> workers;
        workers.reserve(workers_wanted);
        for (std::size_t i = 0; i < workers_wanted; ++i)
            workers.emplace_back(std::allocator_arg, stacks.allocator(), [&] {
                std::size_t next = 0;
                while (queue.pop(next) == channel_op_status::success) {
                    try {
                        fibers::SocketPtr connection = shared.idle.take();
                        fetch_url(shared, connection, urls[next], TaskId{lane, next + 1});
                        shared.idle.give(std::move(connection));
                    } catch (...) {  // LimitReached, bad_alloc: a fiber must not let it out
                        if (!failure) failure = failure_of(std::current_exception());
                        queue.close();
                    }
                }
            });
        for (std::size_t i = 0; i < urls.size(); ++i)
            if (queue.push(i) != channel_op_status::success) break;  // closed by a failure
        queue.close();
        for (boost::fibers::fiber& worker : workers) worker.join();
    });
    return failure;
}

}  // namespace rosetta
