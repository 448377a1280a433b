// Thread-pool download: the URLs handed to C TBB workers, each running the blocking fetch.
//
// parallel_for_each splits the list among the workers and lets an idle one steal from a busy
// one; each worker keeps its own kept-alive connection (enumerable_thread_specific), so no
// lock is needed for it. Every worker sleeps in the kernel while its response is on its way:
// the executor model, with the cost of a scheduler built for computing (see README.md).
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for_each.h>

#include "models/blocking/fetch.hpp"
#include "models/thread-pool/pool.hpp"

namespace rosetta {

Failure download(const ModelRun& run) {
    const std::vector<std::string> urls = run.download_urls();
    tbb::enumerable_thread_specific<Fd> connections;  // one per worker, closed at the end
    thread_pool::Pool pool(run.spec().concurrency);
    pool.execute([&] {
        tbb::parallel_for_each(urls.begin(), urls.end(), [&](const std::string& url) {
            blocking::fetch_url(run, connections.local(), url);
        });
    });
    return std::nullopt;
}

}  // namespace rosetta
