// What it costs to hand the CPU from one task to another and back, mechanism by mechanism:
// time_per_switch is one hand-over, an iteration is a round trip (two).
//
// Between processes and between threads the kernel switches: a byte over a pipe each way
// (read blocks, write wakes the reader), or a condition variable each way. With the argument
// one_cpu=0 the two ends run wherever the scheduler puts them: on this 2-CPU machine mostly on
// both, so a hand-over is a wake-up across CPUs, each one idling in between. With one_cpu=1
// both are pinned to one CPU and every hand-over is a context switch there: the figure to set
// beside a fiber's. Those report wall time, the only time that sees both ends.
//
// In user space nothing enters the kernel: a Boost.Context switch saves the registers the ABI
// says a call may not clobber, swaps stack pointers and jumps; a coroutine's resume is an
// indirect call into its frame, its suspension a return.
//
// The hub cannot switch from one fiber straight to another: Hub::switch_to is the hub's half,
// called from the reactor's callbacks, and a fiber gives the thread up only by parking. So the
// honest hub switch is what a fiber pays to let another run: sleep_for(0) parks it (a
// Boost.Context switch to the hub), the reactor turns (an epoll_wait that returns at once,
// shared by the fibers due, and the timer heap), and switch_to resumes the next fiber (a
// second Boost.Context switch). BM_hub_switch_by_sleep_for_0 reports that price per
// hand-over; the bare switch underneath is BM_boost_context_switch.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/context/fiber.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <mutex>
#include <thread>

#include "bench/micro/mechanisms.hpp"
#include "models/stackful-fibers/hub.hpp"
#include "models/stackful-fibers/stacks.hpp"

namespace rosetta::micro {
namespace {

namespace ctx = boost::context;

// The other end of a pipe ping-pong: a byte back for every byte, until the sender closes.
void echo_bytes(int from, int to) {
    while (receive_byte(from) && send_byte(to)) {
    }
}

void ping_pong(benchmark::State& state, int there, int back) {
    for (auto _ : state) {
        if (!send_byte(there) || !receive_byte(back)) {
            state.SkipWithError("the other end stopped echoing");
            break;
        }
    }
}

void BM_pipe_ping_pong_between_processes(benchmark::State& state) {
    OneCpu pin(state.range(0) != 0);
    Pipe there = make_pipe(), back = make_pipe();
    const pid_t child = ::fork();
    if (child == 0) {
        // Only async-signal-safe calls in the child of a process that may have threads.
        ::close(there.write_end.get());
        ::close(back.read_end.get());
        echo_bytes(there.read_end.get(), back.write_end.get());
        ::_exit(0);
    }
    if (child < 0) {
        state.SkipWithError("fork failed");
        return;
    }
    there.read_end.reset();
    back.write_end.reset();
    ping_pong(state, there.write_end.get(), back.read_end.get());
    there.write_end.reset();  // the child reads the end of its input and exits
    int status = 0;
    ::waitpid(child, &status, 0);
    report_per_switch(state, 2);
}
BENCHMARK(BM_pipe_ping_pong_between_processes)->ArgName("one_cpu")->Arg(0)->Arg(1)->UseRealTime();

void BM_pipe_ping_pong_between_threads(benchmark::State& state) {
    OneCpu pin(state.range(0) != 0);  // the echoing thread inherits the mask
    Pipe there = make_pipe(), back = make_pipe();
    std::thread echo([&] { echo_bytes(there.read_end.get(), back.write_end.get()); });
    ping_pong(state, there.write_end.get(), back.read_end.get());
    there.write_end.reset();  // the echoing thread reads the end of its input and returns
    echo.join();
    report_per_switch(state, 2);
}
BENCHMARK(BM_pipe_ping_pong_between_threads)->ArgName("one_cpu")->Arg(0)->Arg(1)->UseRealTime();

// One mutex, one condition variable, a ball that is on one side or the other.
void BM_condition_variable_ping_pong_between_threads(benchmark::State& state) {
    OneCpu pin(state.range(0) != 0);
    std::mutex mutex;
    std::condition_variable turned;
    bool ball_is_there = false;
    bool stop = false;
    std::thread echo([&] {
        std::unique_lock lock(mutex);
        for (;;) {
            turned.wait(lock, [&] { return ball_is_there || stop; });
            if (stop) return;
            ball_is_there = false;
            turned.notify_one();
        }
    });
    for (auto _ : state) {
        std::unique_lock lock(mutex);
        ball_is_there = true;
        turned.notify_one();
        turned.wait(lock, [&] { return !ball_is_there; });
    }
    {
        std::lock_guard lock(mutex);
        stop = true;
    }
    turned.notify_one();
    echo.join();
    report_per_switch(state, 2);
}
BENCHMARK(BM_condition_variable_ping_pong_between_threads)
    ->ArgName("one_cpu")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime();

// The benchmark's own context and a fiber resume each other: two switches an iteration.
void BM_boost_context_switch(benchmark::State& state) {
    fibers::StackPool stacks;
    bool stop = false;
    ctx::fiber other(std::allocator_arg, stacks.allocator(), [&stop](ctx::fiber&& back) {
        while (!stop) back = std::move(back).resume();
        return std::move(back);
    });
    for (auto _ : state) other = std::move(other).resume();
    stop = true;
    other = std::move(other).resume();  // it ends, and its stack goes back to the pool
    report_per_switch(state, 2);
}
BENCHMARK(BM_boost_context_switch);

// Two hub fibers giving the thread to each other (see the top of the file): an iteration is the
// main fiber's sleep_for(0), the other fiber's turn, and the main fiber's turn again.
void BM_hub_switch_by_sleep_for_0(benchmark::State& state) {
    fibers::Hub hub;
    hub.run([&] {
        bool stop = false;
        fibers::Pool other(hub, 1);
        other.spawn([&] {
            while (!stop) hub.sleep_for(0);
        });
        for (auto _ : state) hub.sleep_for(0);
        stop = true;
        other.join();
    });
    report_per_switch(state, 2);
}
BENCHMARK(BM_hub_switch_by_sleep_for_0);

// Two Boost.Fiber fibers yielding to each other (the thread's main fiber and one more):
// this_fiber::yield puts the fiber at the back of the ready queue and resumes the front.
void boost_fiber_yield(benchmark::State& state, FiberScheduler scheduler) {
    on_fiber_thread(scheduler, [&] {
        bool stop = false;
        boost::fibers::fiber other([&] {
            while (!stop) boost::this_fiber::yield();
        });
        for (auto _ : state) boost::this_fiber::yield();
        stop = true;
        other.join();
    });
    report_per_switch(state, 2);
}

void BM_boost_fiber_yield(benchmark::State& state) {
    boost_fiber_yield(state, FiberScheduler::round_robin);
}
BENCHMARK(BM_boost_fiber_yield)->UseRealTime();

// With the boost-fibers model's scheduler, which also asks epoll (without waiting) every 64
// picks: the price of never starving the sockets.
void BM_boost_fiber_yield_on_the_epoll_scheduler(benchmark::State& state) {
    boost_fiber_yield(state, FiberScheduler::epoll);
}
BENCHMARK(BM_boost_fiber_yield_on_the_epoll_scheduler)->UseRealTime();

// The smallest coroutine that can be resumed: it counts its resumes and suspends again, for
// ever, until its owner destroys it. Not a Task: a Task runs once and ends, and its waits go
// through the loop (BM_await_task and BM_spawn_join in coroutine_bench.cpp price those).
class Resumable {
public:
    struct promise_type {
        Resumable get_return_object() {
            return Resumable(std::coroutine_handle<promise_type>::from_promise(*this));
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_always final_suspend() noexcept { return {}; }
        void return_void() {}
        void unhandled_exception() { std::terminate(); }
    };
    explicit Resumable(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
    Resumable(const Resumable&) = delete;
    Resumable& operator=(const Resumable&) = delete;
    ~Resumable() { handle_.destroy(); }
    void resume() { handle_.resume(); }

private:
    std::coroutine_handle<promise_type> handle_;
};

Resumable count_resumes(std::int64_t& resumes) {
    for (;;) {
        ++resumes;
        co_await std::suspend_always{};
    }
}

// One resume and one suspension an iteration, reported as one switch: the coroutine's
// counterpart of a fiber's resume(), which also comes back.
void BM_coroutine_resume(benchmark::State& state) {
    std::int64_t resumes = 0;
    Resumable coroutine = count_resumes(resumes);
    for (auto _ : state) {
        coroutine.resume();
        benchmark::DoNotOptimize(resumes);
    }
    if (resumes != state.iterations()) state.SkipWithError("a resume went missing");
    report_per_item(state, 1, "time_per_resume");
}
BENCHMARK(BM_coroutine_resume);

}  // namespace
}  // namespace rosetta::micro
