#include "models/thread-pool/pool.hpp"

#include <pthread.h>

#include <condition_variable>
#include <mutex>
#include <new>
#include <vector>

#include "scenarios/net.hpp"

namespace rosetta::thread_pool {

namespace {

// Asks the OS for `count` threads with TBB's stack size, all alive at once, then ends them.
// TBB creates its workers on threads of its own and calls std::terminate when the OS refuses
// one ("pthread_create has failed"): it has nowhere to report it. Asking first turns that abort
// into LimitReached, naming the limit, before TBB is involved. The price: every thread is
// created twice, some 20 us each here (0.4 s at C=19,000, a few ms below C=100).
void reserve_threads(int count, std::size_t stack_bytes) {
    std::mutex mutex;
    std::condition_variable released;
    bool release = false;
    std::vector<pthread_t> threads;
    threads.reserve(static_cast<std::size_t>(count));
    struct Shared {
        std::mutex& mutex;
        std::condition_variable& released;
        bool& release;
    } shared{mutex, released, release};
    auto wait_for_release = [](void* arg) -> void* {
        auto* s = static_cast<Shared*>(arg);
        std::unique_lock lock(s->mutex);
        s->released.wait(lock, [s] { return s->release; });
        return nullptr;
    };
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_bytes);
    int refused = 0;
    for (int i = 0; i < count && !refused; ++i) {
        pthread_t thread;
        refused = pthread_create(&thread, &attr, wait_for_release, &shared);
        if (!refused) threads.push_back(thread);
    }
    pthread_attr_destroy(&attr);
    // Named while the threads are still there, so the figures show the limit.
    std::string why = refused ? describe_error("thread", refused) : std::string();
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    released.notify_all();
    for (pthread_t thread : threads) pthread_join(thread, nullptr);
    if (refused) throw LimitReached(why);
}

}  // namespace

Pool::Pool(int workers) : scheduler_(tbb::attach{}) {
    workers_cap_.emplace(tbb::global_control::max_allowed_parallelism,
                         static_cast<std::size_t>(workers));
    reserve_threads(workers - 1,
                    tbb::global_control::active_value(tbb::global_control::thread_stack_size));
    arena_.emplace(workers);
}

// The cap outlives finalize: lifted first, it lowers TBB's worker limit to the default (the
// CPUs this process may use) while workers are still leaving, and with one CPU (--pin split on
// two) finalize then waited for workers asleep that nothing woke, spinning in sched_yield
// (oneTBB 2021.8: 21 of 30 runs at C=10 hung).
Pool::~Pool() {
    arena_.reset();
    tbb::finalize(scheduler_, std::nothrow);
    workers_cap_.reset();
}

}  // namespace rosetta::thread_pool

// ThreadSanitizer in the tsan preset: Debian's libtbb is not built with it, so every hand-off
// TBB makes between threads (a task stolen, a range split, a fed item) happens where TSan
// cannot see it, and it reports each later access as a race. Reports whose stack runs through
// TBB's scheduler (its namespace, or its headers) are suppressed here, in this model only. What is
// not covered: a race of our own whose stack also passes through TBB. The state the tasks share is
// the same Frontier, Recorder and blocking fetch that thread-per-task runs under TSan with nothing
// suppressed. TSan asks for this function by name; other builds never call it.
extern "C" const char* __tsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
    return "race:tbb::detail::\n"
           "race:oneapi/tbb/\n";  // frames named by TBB's header file, not its namespace
}
