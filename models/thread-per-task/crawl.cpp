// Thread-per-task crawl: the blocking crawl's loop, with each fetch on a thread of its own.
//
// The threads share the frontier under one mutex. The main thread takes the next URL and
// starts a thread for it; with nothing queued it waits on a condition variable until a fetch
// ends (its links may queue more) or the frontier says the crawl is over.
#include "models/blocking/fetch.hpp"
#include "models/thread-per-task/threads.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

namespace {

// What the threads share, and the lock that guards it.
struct Shared {
    explicit Shared(const ModelRun& run) : frontier(run) {}
    std::mutex mutex;
    std::condition_variable fetch_ended;
    Frontier frontier;
    Failure failure;  // the first limit a thread hit: no more threads start
};

void fetch_and_report(const ModelRun& run, Shared& shared, thread_per_task::IdleConnections& idle,
                      const std::string& url) {
    std::vector<std::string> links;
    Failure failure;
    try {
        Fd connection = idle.take();
        links = blocking::fetch_url(run, connection, url).links;
        idle.give(std::move(connection));
    } catch (const std::exception& e) {  // LimitReached: the run stops
        failure = e.what();
    }
    std::lock_guard lock(shared.mutex);
    shared.frontier.done(links);
    if (failure && !shared.failure) shared.failure = failure;
    shared.fetch_ended.notify_one();
}

}  // namespace

Failure crawl(const ModelRun& run) {
    Shared shared(run);
    thread_per_task::IdleConnections idle(run.spec().concurrency);
    thread_per_task::Threads threads(run.spec().concurrency);
    std::unique_lock lock(shared.mutex);
    while (!shared.frontier.finished() && !shared.failure) {
        std::optional<std::string> url = shared.frontier.next();
        if (!url) {
            shared.fetch_ended.wait(lock);
            continue;
        }
        lock.unlock();
        Failure refused = threads.spawn(
            [&run, &shared, &idle, url = *url] { fetch_and_report(run, shared, idle, url); });
        lock.lock();
        if (refused) {
            shared.frontier.done({});  // never started
            shared.failure = refused;
        }
    }
    lock.unlock();
    threads.join_all();
    return shared.failure;
}

}  // namespace rosetta
