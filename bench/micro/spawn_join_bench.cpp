// What it costs to start a task that does nothing and wait for its end, mechanism by mechanism,
// reported per task: items_per_second and its inverse, time_per_task. The body is empty on
// purpose: what is left is the mechanism's own price, the floor under every request a model
// serves.
//
// Measured elsewhere, not again here: a process (BM_fork_exit_waitpid) and a thread
// (BM_std_thread_create_join, BM_pthread_own_stack_create_join) in spawn_bench.cpp, one task a
// time; a coroutine Task spawned into a TaskGroup and joined (BM_spawn_join) in
// coroutine_bench.cpp, 1,000 at a time.
//
// Here, 1,000 tasks an iteration wherever the mechanism has a group to join (TBB's task_group,
// the hub's Pool, a vector of Boost.Fiber fibers, the reactor's queue), so that the join's
// own wait is shared as a model shares it; one at a time for a bare Boost.Context fiber, which
// has no scheduler and so nothing to share. Benchmarks that only run on the benchmark's thread
// report CPU time (the machine is shared, and CPU time does not count another process's
// turn); those with other threads report wall time.
#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/fiber/fiber.hpp>
#include <vector>

#include "bench/micro/mechanisms.hpp"
#include "models/epoll-callbacks/reactor.hpp"
#include "models/stackful-fibers/hub.hpp"
#include "models/stackful-fibers/stacks.hpp"

namespace rosetta::micro {
namespace {

namespace ctx = boost::context;

constexpr int tasks = 1000;

// thread-pool's unit of work. The calling thread spawns, TBB's workers (one a core) steal, and
// wait() runs what is left. The workers are finalized at the end, so they neither spin into
// the next benchmark nor outlive this one.
void BM_tbb_task_group_run_wait(benchmark::State& state) {
    tbb::task_scheduler_handle workers{tbb::attach{}};
    {
        tbb::task_group group;
        for (auto _ : state) {
            for (int i = 0; i < tasks; ++i) group.run([] {});
            group.wait();
        }
    }
    report_per_task(state, tasks);
    tbb::finalize(workers, std::nothrow);
}
BENCHMARK(BM_tbb_task_group_run_wait)->UseRealTime();

// A bare Boost.Context fiber run to its end: a stack, a context made on it, a jump in, a jump
// back that frees the stack. On the hub's pooled stacks (one mapping, reused: what the
// stackful-fibers model does), and for comparison on a stack Boost maps and guards for each
// fiber (mmap, mprotect, munmap: the price the pool is there to avoid).
template <class Allocator>
void boost_context_fiber_run_to_end(benchmark::State& state, Allocator allocator) {
    for (auto _ : state) {
        ctx::fiber fiber(std::allocator_arg, allocator,
                         [](ctx::fiber&& caller) { return std::move(caller); });
        fiber = std::move(fiber).resume();  // it ends: what comes back is empty
        benchmark::DoNotOptimize(fiber);
    }
    report_per_task(state, 1);
}

void BM_boost_context_fiber_run_to_end_on_a_pooled_stack(benchmark::State& state) {
    fibers::StackPool stacks;
    boost_context_fiber_run_to_end(state, stacks.allocator());
}
BENCHMARK(BM_boost_context_fiber_run_to_end_on_a_pooled_stack);

void BM_boost_context_fiber_run_to_end_on_a_fresh_mapped_stack(benchmark::State& state) {
    boost_context_fiber_run_to_end(
        state, ctx::protected_fixedsize_stack(fibers::StackPool::default_bytes));
}
BENCHMARK(BM_boost_context_fiber_run_to_end_on_a_fresh_mapped_stack);

// The stackful-fibers model's spawn: Pool::spawn makes a Fiber (an object, its body's
// std::function, a timer) on a pooled stack and has the hub start it on its next turn;
// join() parks the main fiber until the last one ends. The hub fires at most 64 timers a
// turn, so 1,000 fibers start over 16 turns, each one epoll_wait that returns at once.
void BM_hub_fiber_spawn_join(benchmark::State& state) {
    fibers::Hub hub;
    hub.run([&] {
        auto spawn_join = [&] {
            fibers::Pool pool(hub, tasks);
            for (int i = 0; i < tasks; ++i) pool.spawn([] {});
            pool.join();
        };
        spawn_join();  // the stacks mapped and faulted in once, as a running model has them
        for (auto _ : state) spawn_join();
    });
    report_per_task(state, tasks);
}
BENCHMARK(BM_hub_fiber_spawn_join);

// boost::fibers::fiber made and joined, 1,000 at a time: with Boost's round robin and its
// default stack (the setting of the documentation's figure), and as the boost-fibers model
// makes them (the epoll scheduler, the hub's pooled stacks). Boost's default stack
// (fixedsize_stack) is allocated for each fiber and given back at its end, so every fiber
// faults fresh stack pages in (two faults a fiber, counted with getrusage): on this VM that
// costs about a hundred times the rest, which is why the model draws its stacks from the pool.
void boost_fiber_spawn_join(benchmark::State& state, FiberScheduler scheduler, bool pooled) {
    on_fiber_thread(scheduler, [&] {
        fibers::StackPool stacks;
        std::vector<boost::fibers::fiber> fibers;
        fibers.reserve(tasks);
        auto spawn_join = [&] {
            for (int i = 0; i < tasks; ++i) {
                if (pooled) {
                    fibers.emplace_back(std::allocator_arg, stacks.allocator(), [] {});
                } else {
                    fibers.emplace_back([] {});
                }
            }
            for (boost::fibers::fiber& fiber : fibers) fiber.join();
            fibers.clear();
        };
        spawn_join();  // the pooled stacks mapped and faulted in once, outside the timing
        for (auto _ : state) spawn_join();
    });
    report_per_task(state, tasks);
}

void BM_boost_fiber_spawn_join(benchmark::State& state) {
    boost_fiber_spawn_join(state, FiberScheduler::round_robin, false);
}
BENCHMARK(BM_boost_fiber_spawn_join)->UseRealTime();

void BM_boost_fiber_spawn_join_as_the_model_does(benchmark::State& state) {
    boost_fiber_spawn_join(state, FiberScheduler::epoll, true);
}
BENCHMARK(BM_boost_fiber_spawn_join_as_the_model_does)->UseRealTime();

// epoll-callbacks' unit of work: a callback queued with call_soon and run by the reactor. 1,000
// queued, then run() until the queue is empty: one epoll_wait (that returns at once) for all.
void BM_reactor_call_soon_run(benchmark::State& state) {
    reactor::Reactor reactor;
    std::int64_t ran = 0;
    for (auto _ : state) {
        for (int i = 0; i < tasks; ++i) reactor.call_soon([&ran] { ++ran; });
        reactor.run();
    }
    if (ran != state.iterations() * tasks) state.SkipWithError("a callback did not run");
    report_per_task(state, tasks);
}
BENCHMARK(BM_reactor_call_soon_run);

}  // namespace
}  // namespace rosetta::micro
