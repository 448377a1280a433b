// What the mechanism benchmarks share (spawn_join_bench.cpp, switch_bench.cpp,
// idle_memory_bench.cpp): the per-task and per-switch counters, one byte over a pipe, a CPU to
// pin both ends of a ping-pong to, and a thread to run Boost.Fiber on.
#pragma once

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <system_error>
#include <thread>

#include "models/boost-fibers/scheduler.hpp"
#include "scenarios/net.hpp"

namespace rosetta::micro {

// Items per second, and its inverse as a counter named `name`: seconds per item, which the
// console prints with an SI prefix ("45.2n" is 45.2 ns) and the JSON output as a plain number.
// The rate is over the time the benchmark reports: CPU time, or wall time under UseRealTime().
inline void report_per_item(benchmark::State& state, std::int64_t per_iteration, const char* name) {
    state.SetItemsProcessed(state.iterations() * per_iteration);
    state.counters[name] = benchmark::Counter(
        static_cast<double>(per_iteration),
        benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
inline void report_per_task(benchmark::State& state, std::int64_t tasks_per_iteration) {
    report_per_item(state, tasks_per_iteration, "time_per_task");
}
inline void report_per_switch(benchmark::State& state, std::int64_t switches_per_iteration) {
    report_per_item(state, switches_per_iteration, "time_per_switch");
}

// Both ends of a pipe, each closed by its Fd.
struct Pipe {
    Fd read_end, write_end;
};
inline Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    return {Fd(fds[0]), Fd(fds[1])};
}
inline bool send_byte(int fd) {
    const char byte = 1;
    return ::write(fd, &byte, 1) == 1;
}
inline bool receive_byte(int fd) {
    char byte;
    return ::read(fd, &byte, 1) == 1;
}

// While it lives, the calling thread (and every thread or process it starts) runs on one CPU
// only, the first it may use now; `pin` false: it changes nothing. Two ends of a ping-pong on
// two CPUs measure a wake-up across CPUs, each end spinning down to idle and back; on one CPU,
// every hop is a real context switch on that CPU.
class OneCpu {
public:
    explicit OneCpu(bool pin) {
        if (!pin || ::sched_getaffinity(0, sizeof before_, &before_) != 0) return;
        cpu_set_t one;
        CPU_ZERO(&one);
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &before_)) {
                CPU_SET(cpu, &one);
                break;
            }
        pinned_ = ::sched_setaffinity(0, sizeof one, &one) == 0;
    }
    ~OneCpu() {
        if (pinned_) ::sched_setaffinity(0, sizeof before_, &before_);
    }
    OneCpu(const OneCpu&) = delete;
    OneCpu& operator=(const OneCpu&) = delete;

private:
    cpu_set_t before_{};
    bool pinned_ = false;
};

// Which Boost.Fiber scheduler runs the fibers: Boost's own round robin (what its documentation
// measures) or the boost-fibers model's, which sleeps in epoll_wait and asks epoll every 64
// picks.
enum class FiberScheduler { round_robin, epoll };

// Runs body on the main fiber of a new thread with that scheduler, and joins the thread. A
// thread of its own because Boost.Fiber keeps a thread's scheduler (ours: an epoll set and an
// eventfd) until the thread ends. Benchmarks that use it report wall time: the benchmark's own
// thread only waits in the join.
inline void on_fiber_thread(FiberScheduler scheduler, const std::function<void()>& body) {
    if (scheduler == FiberScheduler::epoll) {
        boost_fibers::run_on_fiber_threads(1, [&](std::size_t) { body(); });
    } else {
        std::thread thread(body);
        thread.join();
    }
}

}  // namespace rosetta::micro
