// Blocking download: the reference every other model is read against.
//
// One thread fetches the pages one after another on one kept-alive connection; while a
// response is on its way the thread sleeps in the kernel, so concurrency is 1 whatever
// --concurrency says, and the wall time is the sum of every round trip. Each later model
// keeps this loop's shape and changes only who waits: processes, threads, a pool, callbacks,
// fibers, coroutines.
#include "models/blocking/fetch.hpp"

namespace rosetta {

Failure download(const ModelRun& run) {
    Fd connection;
    for (const std::string& url : run.download_urls()) blocking::fetch_url(run, connection, url);
    return std::nullopt;
}

}  // namespace rosetta
