// What starting a task costs the models that give each task a process or a thread of its own.
//
// fork() copies no pages but it copies the page tables of everything the parent has mapped
// and marks every page copy-on-write, so its price grows with the parent's resident memory:
// BM_fork_exit_waitpid touches N MiB in the parent first (the argument) and reports the
// parent's page tables (VmPTE) beside the time.
//
// A thread's price depends on what happens to its stack. glibc keeps the stacks of ended
// threads but gives their pages back to the kernel (madvise MADV_DONTNEED), so the next thread
// faults them in again; thread-per-task hands pthread_create stacks of its own instead, which
// stay resident. Both are measured bare and touching 64 KiB of stack, what the blocking fetch's
// read buffer does.
//
// Wall time, one task an iteration (items_per_second is tasks per second): the parent's CPU time
// leaves out the child's or thread's own run and the wait for it, a quarter of the wall time of
// a fork and half of a thread's here. The other mechanisms' spawn and join are in
// spawn_join_bench.cpp.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "scenarios/net.hpp"

namespace {

constexpr std::size_t mib = std::size_t{1} << 20;

void BM_fork_exit_waitpid(benchmark::State& state) {
    const std::size_t bytes = static_cast<std::size_t>(state.range(0)) * mib;
    void* touched = nullptr;
    if (bytes > 0) {
        touched =
            ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (touched == MAP_FAILED) {
            state.SkipWithError("mmap failed");
            return;
        }
        std::memset(touched, 1, bytes);  // resident, one page at a time
    }
    for (auto _ : state) {
        pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        if (child < 0) {
            state.SkipWithError("fork failed");
            break;
        }
        int status = 0;
        ::waitpid(child, &status, 0);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["parent_rss_mib"] =
        static_cast<double>(rosetta::proc_status_kib("VmRSS")) / 1024;
    state.counters["page_tables_kib"] = static_cast<double>(rosetta::proc_status_kib("VmPTE"));
    if (touched) ::munmap(touched, bytes);
}
BENCHMARK(BM_fork_exit_waitpid)
    ->Arg(0)
    ->Arg(64)
    ->Arg(256)
    ->Arg(1024)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Writes 64 KiB of the calling thread's stack, as a 64 KiB read buffer would.
void touch_64k_of_stack() {
    char buffer[64 * 1024];
    std::memset(buffer, 1, sizeof buffer);
    benchmark::DoNotOptimize(buffer);
}

void BM_std_thread_create_join(benchmark::State& state) {
    const bool touch = state.range(0) != 0;
    for (auto _ : state) {
        std::thread thread([touch] {
            if (touch) touch_64k_of_stack();
        });
        thread.join();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_std_thread_create_join)
    ->ArgName("touch_64k")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void* run_task(void* touch) {
    if (touch) touch_64k_of_stack();
    return nullptr;
}

void BM_pthread_own_stack_create_join(benchmark::State& state) {
    constexpr std::size_t stack_bytes = 256 * 1024;
    void* stack = ::mmap(nullptr, stack_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        state.SkipWithError("mmap failed");
        return;
    }
    void* touch = state.range(0) != 0 ? stack : nullptr;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, stack_bytes);
    for (auto _ : state) {
        pthread_t thread;
        if (pthread_create(&thread, &attr, &run_task, touch) != 0) {
            state.SkipWithError("pthread_create failed");
            break;
        }
        pthread_join(thread, nullptr);
    }
    state.SetItemsProcessed(state.iterations());
    pthread_attr_destroy(&attr);
    ::munmap(stack, stack_bytes);
}
BENCHMARK(BM_pthread_own_stack_create_join)
    ->ArgName("touch_64k")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

}  // namespace
