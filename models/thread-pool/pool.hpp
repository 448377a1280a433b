// thread-pool's mechanism: a oneTBB task_arena of C worker threads, C allowed to exceed the
// cores, and every worker thread gone again when the pool is.
//
//     Pool pool(C);
//     pool.execute([&] { tbb::parallel_for_each(urls.begin(), urls.end(), fetch); });
//
// TBB sizes its workers to the cores because its tasks are meant to compute, never to wait:
// one blocked task blocks a whole worker, as asyncio's run_in_executor warns. Here every task
// blocks, so the pool needs C workers to have C requests in flight: global_control lifts TBB's
// cap on workers (the number of cores) to C, and the arena takes C of them (the calling thread
// is one of the C).
#pragma once

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <optional>

namespace rosetta::thread_pool {

class Pool {
public:
    // Throws LimitReached, naming the limit, when the OS would not give it `workers` threads.
    explicit Pool(int workers);
    // Waits for TBB's worker threads to exit: without it they idle on past the run, which the
    // census of model_main would rightly call a leak.
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Runs work in the arena, the calling thread joining the workers; an exception a task threw
    // comes out here, after TBB has cancelled the others.
    template <typename Work>
    void execute(Work&& work) {
        arena_->execute(std::forward<Work>(work));
    }

private:
    tbb::task_scheduler_handle scheduler_;
    std::optional<tbb::global_control> workers_cap_;
    std::optional<tbb::task_arena> arena_;
};

}  // namespace rosetta::thread_pool
