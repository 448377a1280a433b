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
    std::exception_ptr error;  // the first a fetch let escape: no more threads start
};

// One thread's whole task. Whatever happens to the fetch, the frontier hears that it ended and
// the main thread is woken: without that it would wait for a fetch that never reports.
void fetch_and_report(const ModelRun& run, Shared& shared, thread_per_task::IdleConnections& idle,
                      const std::string& url) {
    std::vector<std::string> links;
    std::exception_ptr error;
    try {
        Fd connection = idle.take();
        links = blocking::fetch_url(run, connection, url).links;
        idle.give(std::move(connection));
    } catch (...) {  // LimitReached, bad_alloc: the run stops
        error = std::current_exception();
    }
    std::lock_guard lock(shared.mutex);
    try {
        shared.frontier.done(links);
    } catch (...) {  // bad_alloc admitting a link; done() counted the fetch as ended first
        if (!error) error = std::current_exception();
    }
    if (error && !shared.error) shared.error = error;
    shared.fetch_ended.notify_one();
}

}  // namespace

Failure crawl(const ModelRun& run) {
    Shared shared(run);
    thread_per_task::IdleConnections idle(run.spec().concurrency);
    thread_per_task::Threads threads(run.spec().concurrency);
    std::unique_lock lock(shared.mutex);
    Failure refused;
    while (!shared.frontier.finished() && !shared.error && !refused) {
        std::optional<std::string> url = shared.frontier.next();
        if (!url) {
            shared.fetch_ended.wait(lock);
            continue;
        }
        lock.unlock();
        refused = threads.spawn(
            [&run, &shared, &idle, url = *url] { fetch_and_report(run, shared, idle, url); });
        lock.lock();
        if (refused) shared.frontier.done({});  // never started
    }
    lock.unlock();
    threads.join_all();
    return refused ? refused : failure_of(shared.error);
}

}  // namespace rosetta
