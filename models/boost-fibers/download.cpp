// Boost.Fiber download: C worker fibers on one thread, fed URLs through a channel (or on T
// threads, each its own workers and channel).
//
// The shape Boost.Fiber's users write (Go's, with goroutines and a channel): a fixed set of
// workers, each taking the next URL from a buffered_channel and fetching it with the blocking
// code of the fiber models (models/stackful-fibers/fetch.hpp). Boost.Fiber switches between
// them; when none is ready, its scheduler sleeps in epoll_wait (scheduler.hpp). The first error
// a worker meets closes every channel: the others finish the URL in hand and stop.
//
// --threads T: thread i runs its share of the C workers (scenarios/lanes.hpp), fed from its
// own contiguous slice of the URLs through its own channel, so a URL never crosses threads.
#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/fiber.hpp>

#include "models/boost-fibers/scheduler.hpp"
#include "models/stackful-fibers/fetch.hpp"
#include "models/stackful-fibers/stacks.hpp"
#include "scenarios/lanes.hpp"

namespace rosetta {

using boost::fibers::channel_op_status;
using Queue = boost::fibers::buffered_channel<std::size_t>;

Failure download(const ModelRun& run) {
    const std::vector<std::string> urls = run.download_urls();
    const int concurrency = run.spec().concurrency;
    const int lanes = lanes_for(run.spec().threads, concurrency);
    std::vector<std::unique_ptr<Queue>> queues;  // 64: a power of two, as Boost requires
    for (int i = 0; i < lanes; ++i) queues.push_back(std::make_unique<Queue>(64));
    boost_fibers::FirstFailure failures;
    auto stop = [&](std::exception_ptr error) {
        failures.set(std::move(error));
        for (const auto& queue : queues) queue->close();  // from any thread
    };
    boost_fibers::run_on_fiber_threads(static_cast<std::size_t>(lanes), [&](std::size_t i) {
        const int share = concurrency_share(concurrency, lanes, static_cast<int>(i));
        const Slice slice = url_slice(urls.size(), concurrency, lanes, static_cast<int>(i));
        Queue& queue = *queues[i];
        fibers::StackPool stacks;
        fibers::Shared shared(run, share, [](Fd fd) {
            return std::make_unique<boost_fibers::Socket>(std::move(fd));
        });
        const std::uint64_t lane = TaskId::this_thread().lane;
        std::vector<boost::fibers::fiber> workers;
        try {
            const std::size_t wanted =
                std::min(slice.end - slice.begin, static_cast<std::size_t>(share));
            workers.reserve(wanted);
            for (std::uint64_t task = 1; task <= wanted; ++task)
                workers.emplace_back(std::allocator_arg, stacks.allocator(), [&, task] {
                    std::size_t next = 0;
                    while (queue.pop(next) == channel_op_status::success) {
                        try {
                            fibers::SocketPtr connection = shared.idle.take();
                            fetch_url(shared, connection, urls[next], TaskId{lane, task});
                            shared.idle.give(std::move(connection));
                        } catch (...) {  // LimitReached, bad_alloc: a fiber must not let it out
                            stop(std::current_exception());
                        }
                    }
                });
            for (std::size_t next = slice.begin; next < slice.end; ++next)
                if (queue.push(next) != channel_op_status::success) break;  // closed by a failure
        } catch (...) {  // a worker's stack refused, bad_alloc
            stop(std::current_exception());
        }
        queue.close();
        for (boost::fibers::fiber& worker : workers) worker.join();
    });
    return failures.failure();
}

}  // namespace rosetta
