// What a task costs in memory while it waits, the figure that decides how many a model can keep
// in flight: N tasks of each kind started and left waiting, memory read before and after, the
// difference divided by N, in KiB per task.
//
//   rss_kib_per_task          this process's VmRSS (/proc/self/status): the pages the tasks
//                             touched (stacks, frames, control blocks). For processes, the
//                             children's VmRSS summed instead, which counts every page a child
//                             shares with the parent once per child: an upper bound;
//                             private_kib_per_task (Private_Clean + Private_Dirty of each
//                             child's smaps_rollup) is what a child really adds.
//   kernel_stack_kib_per_task KernelStack of /proc/meminfo: 16 KiB for each thread or process,
//                             none for a fiber or a coroutine.
//   slab_kib_per_task         SUnreclaim: task_struct, mm_struct, the mappings' records...
//   page_tables_kib_per_task  PageTables: a process's copies of the parent's page tables.
//
// The /proc/meminfo figures are system-wide: whatever else runs on the machine moves them too,
// and at N = 1,000 a MiB of someone else's slab reads as 1 KiB a task. Take medians of
// repetitions, and read values below a KiB or two as zero. RSS deltas see only new pages: a
// run that has already grown the heap (an earlier benchmark in the same process) reuses its
// free memory, so run these with --benchmark_filter=idle on their own. Iterations(1): each
// iteration starts N tasks; its time is how long starting them took, not the point here.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/operations.hpp>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/micro/mechanisms.hpp"
#include "models/stackful-fibers/hub.hpp"
#include "models/stackful-fibers/stacks.hpp"
#include "models/stackless-coroutines/loop.hpp"
#include "models/stackless-coroutines/sync.hpp"

namespace rosetta::micro {
namespace {

// A "Name:   123 kB" line of a /proc file, in KiB; the sum when several names are given (the
// private fields of smaps_rollup); -1 if the file cannot be read.
long kib_fields(const std::string& path, std::initializer_list<std::string_view> names) {
    std::ifstream file(path);
    if (!file) return -1;
    long sum = 0;
    std::string line;
    while (std::getline(file, line)) {
        for (std::string_view name : names) {
            if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 &&
                line[name.size()] == ':')
                sum += std::stol(line.substr(name.size() + 1));
        }
    }
    return sum;
}

struct Memory {
    long rss_kib, kernel_stack_kib, slab_kib, page_tables_kib;
};

Memory measure() {
    return {
        kib_fields("/proc/self/status", {"VmRSS"}), kib_fields("/proc/meminfo", {"KernelStack"}),
        kib_fields("/proc/meminfo", {"SUnreclaim"}), kib_fields("/proc/meminfo", {"PageTables"})};
}

// The deltas, per task. rss_kib: the RSS the tasks hold, if not this process's delta.
void report(benchmark::State& state, const Memory& before, const Memory& after, std::int64_t n,
            double rss_kib) {
    const double tasks = static_cast<double>(n);
    state.counters["rss_kib_per_task"] = rss_kib / tasks;
    state.counters["kernel_stack_kib_per_task"] =
        static_cast<double>(after.kernel_stack_kib - before.kernel_stack_kib) / tasks;
    state.counters["slab_kib_per_task"] =
        static_cast<double>(after.slab_kib - before.slab_kib) / tasks;
    state.counters["page_tables_kib_per_task"] =
        static_cast<double>(after.page_tables_kib - before.page_tables_kib) / tasks;
}
void report(benchmark::State& state, const Memory& before, const Memory& after, std::int64_t n) {
    report(state, before, after, n, static_cast<double>(after.rss_kib - before.rss_kib));
}

// std::threads (glibc's 8 MiB of address space each, a few pages of it touched) blocked on one
// condition variable until released, then joined.
void BM_idle_threads_on_a_condition_variable(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        std::mutex mutex;
        std::condition_variable release_them, all_waiting;
        int waiting = 0;
        bool released = false;
        std::vector<std::thread> threads;
        threads.reserve(static_cast<std::size_t>(n));
        const Memory before = measure();
        try {
            for (int i = 0; i < n; ++i) {
                threads.emplace_back([&] {
                    std::unique_lock lock(mutex);
                    if (++waiting == n) all_waiting.notify_one();
                    release_them.wait(lock, [&] { return released; });
                });
            }
            std::unique_lock lock(mutex);  // the last one counted is waiting once this returns
            all_waiting.wait(lock, [&] { return waiting == n; });
        } catch (const std::system_error&) {
            state.SkipWithError("the OS refused a thread");
        }
        const Memory after = measure();
        {
            std::lock_guard lock(mutex);
            released = true;
        }
        release_them.notify_all();
        for (std::thread& thread : threads) thread.join();
        report(state, before, after, n);
    }
}
BENCHMARK(BM_idle_threads_on_a_condition_variable)
    ->Arg(1000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Children blocked in read() on one pipe; the parent closing its end releases them all, then
// reaps every one. Each child first writes a byte to say it has started (fewer than for the
// others: a fork copies this process's page tables, and the machine is shared).
void BM_idle_processes_on_a_pipe(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        Pipe release = make_pipe(), started = make_pipe();
        std::vector<pid_t> children;
        children.reserve(static_cast<std::size_t>(n));
        const Memory before = measure();
        for (int i = 0; i < n; ++i) {
            const pid_t child = ::fork();
            if (child == 0) {
                // Only async-signal-safe calls in the child of a process that may have threads.
                ::close(release.write_end.get());
                ::close(started.read_end.get());
                send_byte(started.write_end.get());
                receive_byte(release.read_end.get());  // until the parent closes its end
                ::_exit(0);
            }
            if (child < 0) {
                state.SkipWithError("fork failed");
                break;
            }
            children.push_back(child);
        }
        started.write_end.reset();
        for (std::size_t i = 0; i < children.size(); ++i) receive_byte(started.read_end.get());
        const Memory after = measure();
        long rss = 0, private_kib = 0;
        for (pid_t child : children) {
            const std::string proc = "/proc/" + std::to_string(child);
            rss += kib_fields(proc + "/status", {"VmRSS"});
            private_kib += kib_fields(proc + "/smaps_rollup", {"Private_Clean", "Private_Dirty"});
        }
        release.write_end.reset();
        for (pid_t child : children) {
            int status = 0;
            ::waitpid(child, &status, 0);
        }
        report(state, before, after, n, static_cast<double>(rss));
        state.counters["private_kib_per_task"] =
            static_cast<double>(private_kib) / static_cast<double>(n);
    }
}
BENCHMARK(BM_idle_processes_on_a_pipe)
    ->Arg(500)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Hub fibers (Boost.Context, 64 KiB pooled stacks) parked with no deadline, as a fiber waiting
// for its socket is; killed and joined at the end. The hub starts at most 64 a turn, so the
// main fiber gives it turns until all have parked.
void BM_idle_hub_fibers_parked(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        fibers::Hub hub;
        hub.run([&] {
            fibers::Pool pool(hub, static_cast<std::size_t>(n));
            int parked = 0;
            const Memory before = measure();
            for (int i = 0; i < n; ++i) {
                pool.spawn([&] {
                    ++parked;
                    hub.park_until(0);  // until killed: Cancelled unwinds it
                });
            }
            while (parked < n) hub.sleep_for(0);
            const Memory after = measure();
            pool.kill();
            pool.join();
            report(state, before, after, n);
        });
    }
}
BENCHMARK(BM_idle_hub_fibers_parked)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

// Boost.Fiber fibers as the boost-fibers model makes them (the epoll scheduler, 64 KiB pooled
// stacks) blocked on a fiber condition variable; the thread's main fiber yields until all are
// waiting, releases them and joins them.
void BM_idle_boost_fibers_on_a_condition_variable(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        on_fiber_thread(FiberScheduler::epoll, [&] {
            fibers::StackPool stacks;
            boost::fibers::mutex mutex;
            boost::fibers::condition_variable release_them;
            int waiting = 0;  // one thread: no lock needed to read it
            bool released = false;
            std::vector<boost::fibers::fiber> waiters;
            waiters.reserve(static_cast<std::size_t>(n));
            const Memory before = measure();
            for (int i = 0; i < n; ++i) {
                waiters.emplace_back(std::allocator_arg, stacks.allocator(), [&] {
                    std::unique_lock lock(mutex);
                    ++waiting;
                    release_them.wait(lock, [&] { return released; });
                });
            }
            while (waiting < n) boost::this_fiber::yield();
            const Memory after = measure();
            {
                std::lock_guard lock(mutex);
                released = true;
            }
            release_them.notify_all();
            for (boost::fibers::fiber& waiter : waiters) waiter.join();
            report(state, before, after, n);
        });
    }
}
BENCHMARK(BM_idle_boost_fibers_on_a_condition_variable)
    ->Arg(1000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

coro::Task<void> wait_for(coro::Event& event) { co_await event.wait(); }

// Coroutine Tasks spawned into a TaskGroup, each suspended on one Event until it is set. Their
// frames come from the frame pool's slabs, which an earlier benchmark in the process may have
// filled already: frame_bytes_per_task (the frame pool's own count: the strand's frame and
// wait_for's) is the exact figure, RSS the pages it took to hold them.
void BM_idle_coroutines_on_an_event(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    for (auto _ : state) {
        coro::Loop loop;
        auto main_task = [&]() -> coro::Task<void> {
            coro::Event release;
            coro::TaskGroup group(loop);
            const Memory before = measure();
            const coro::frames::Counts frames_before = coro::frames::counts();
            for (int i = 0; i < n; ++i) group.spawn(wait_for(release));  // each runs to its wait
            const coro::frames::Counts frames_after = coro::frames::counts();
            const Memory after = measure();
            release.set();
            co_await group.join();
            report(state, before, after, n);
            state.counters["frame_bytes_per_task"] =
                static_cast<double>(frames_after.bytes_alive - frames_before.bytes_alive) / n;
        };
        loop.run(main_task());
    }
}
BENCHMARK(BM_idle_coroutines_on_an_event)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rosetta::micro
