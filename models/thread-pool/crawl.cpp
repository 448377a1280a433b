// Thread-pool crawl: work that feeds itself. The start URL is the first task; each task
// fetches its page and, under the frontier's mutex, hands TBB the URLs that became ready as
// new tasks (the feeder). parallel_for_each returns when no task is left: the crawl is over.
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for_each.h>

#include <mutex>

#include "models/blocking/fetch.hpp"
#include "models/thread-pool/pool.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

Failure crawl(const ModelRun& run) {
    Frontier frontier(run);
    std::mutex mutex;  // guards the frontier
    std::vector<std::string> start = {*frontier.next()};
    tbb::enumerable_thread_specific<Fd> connections;  // one per worker, closed at the end
    thread_pool::Pool pool(run.spec().concurrency);
    pool.execute([&] {
        tbb::parallel_for_each(start.begin(), start.end(),
                               [&](const std::string& url, tbb::feeder<std::string>& feeder) {
                                   Fetched fetched =
                                       blocking::fetch_url(run, connections.local(), url);
                                   std::lock_guard lock(mutex);
                                   frontier.done(fetched.links);
                                   while (std::optional<std::string> next = frontier.next())
                                       feeder.add(std::move(*next));
                               });
    });
    return std::nullopt;
}

}  // namespace rosetta
