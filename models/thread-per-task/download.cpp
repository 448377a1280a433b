// Thread-per-task download: one OS thread per URL, at most C alive.
//
// Each thread runs the blocking model's fetch on its own: it sleeps in the kernel while its
// response is on its way, and the kernel switches to whichever thread's bytes arrived. The
// main thread only starts threads, waiting while C are alive. Kept-alive connections pass
// from a thread that ends to the next one through a shared pool, so at most C are ever open.
#include "models/blocking/fetch.hpp"
#include "models/thread-per-task/threads.hpp"

namespace rosetta {

Failure download(const ModelRun& run) {
    thread_per_task::IdleConnections idle(run.spec().concurrency);
    thread_per_task::Threads threads(run.spec().concurrency);
    Failure refused;
    for (const std::string& url : run.download_urls()) {
        if (threads.failed()) break;
        refused = threads.spawn([&run, &idle, url] {
            Fd connection = idle.take();
            blocking::fetch_url(run, connection, url);
            idle.give(std::move(connection));
        });
        if (refused) break;
    }
    threads.join_all();
    return refused ? refused : threads.failure();
}

}  // namespace rosetta
