// The coroutine runtime on its own, deterministic: a Task's result and exception, frames
// freed whether a task ran or not, sleeps in time order, a TaskGroup cancelling the rest on
// the first error and joining them, a fair Semaphore, a timeout that cancels the wait it
// wraps, and after every run no frame alive and no descriptor left registered (counted).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "models/stackless-coroutines/executor.hpp"
#include "models/stackless-coroutines/runtime.hpp"
#include "scenarios/records.hpp"
#include "socket_pair.hpp"

using namespace rosetta;
using namespace rosetta::coro;

namespace {

constexpr std::int64_t ms = 1'000'000;

// Both ends of a connected pair of sockets; `a` wrapped for the loop.
struct Pair {
    Fd b;
    std::unique_ptr<Socket> a;
    explicit Pair(Loop& loop) {
        test::SocketPair ends;
        a = std::make_unique<Socket>(loop, std::move(ends.a));
        b = std::move(ends.b);
    }
};

// Frames alive on this thread now, to compare before and after a test's run.
long frames_alive() { return frames::counts().alive; }

Task<int> answer() { co_return 42; }

Task<int> twice() { co_return 2 * co_await answer(); }

Task<int> fail_with(std::string message) {
    co_await sleep_for(1 * ms);
    throw std::runtime_error(message);
}

Task<void> sleep_then_append(std::int64_t delay_ns, char c, std::string& out) {
    co_await sleep_for(delay_ns);
    out += c;
}

// Records whether it was cancelled (and lets the Cancelled through, as it must).
Task<void> sleep_long(bool& cancelled, bool& finished) {
    try {
        co_await sleep_for(10'000 * ms);
        finished = true;
    } catch (const Cancelled&) {
        cancelled = true;
        throw;
    }
}

Task<void> take_permit(Semaphore& semaphore, int who, std::vector<int>& order) {
    Permit permit = co_await semaphore.acquire();
    order.push_back(who);
    co_await sleep_for(1 * ms);  // holds it a while
}

Task<std::string> read_some(Socket& socket) {
    co_await socket.readable();
    char buffer[64];
    ssize_t n = ::recv(socket.fd(), buffer, sizeof buffer, 0);
    co_return std::string(buffer, static_cast<std::size_t>(n > 0 ? n : 0));
}

}  // namespace

TEST(Coroutines, a_task_returns_its_result_through_nested_awaits) {
    long before = frames_alive();
    Loop loop;
    EXPECT_EQ(loop.run(twice()), 84);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, an_exception_leaves_a_task_through_the_await_that_awaited_it) {
    long before = frames_alive();
    Loop loop;
    auto catcher = []() -> Task<std::string> {
        try {
            co_await fail_with("boom");
        } catch (const std::runtime_error& e) {
            co_return e.what();
        }
        co_return "nothing thrown";
    };
    EXPECT_EQ(loop.run(catcher()), "boom");
    EXPECT_THROW(loop.run(fail_with("out of run")), std::runtime_error);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, a_task_destroyed_before_it_ran_frees_its_frame_and_runs_nothing) {
    long before = frames_alive();
    std::string out;
    {
        Task<void> task = sleep_then_append(0, 'x', out);
        EXPECT_EQ(frames_alive(), before + 1);
        EXPECT_GT(frames::counts().last_bytes, 0u);
    }
    EXPECT_EQ(frames_alive(), before);
    EXPECT_EQ(out, "");
}

TEST(Coroutines, sleeps_end_in_time_order_and_free_every_frame) {
    long before = frames_alive();
    Loop loop;
    std::string out;
    auto main_task = [&]() -> Task<void> {
        TaskGroup group(loop);
        group.spawn(sleep_then_append(30 * ms, 'c', out));
        group.spawn(sleep_then_append(10 * ms, 'a', out));
        group.spawn(sleep_then_append(20 * ms, 'b', out));
        co_await group.join();
    };
    std::int64_t start = monotonic_ns();
    loop.run(main_task());
    EXPECT_EQ(out, "abc");
    EXPECT_GE(monotonic_ns() - start, 30 * ms);
    EXPECT_EQ(frames_alive(), before);
    EXPECT_EQ(loop.reactor().armed(), 0u);
}

TEST(Coroutines, a_task_group_cancels_the_other_children_on_the_first_error_and_rethrows_it) {
    long before = frames_alive();
    Loop loop;
    bool cancelled = false, finished = false;
    auto main_task = [&]() -> Task<void> {
        TaskGroup group(loop);
        group.spawn(sleep_long(cancelled, finished));
        group.spawn([]() -> Task<void> { co_await fail_with("first"); }());
        co_await group.join();
    };
    std::int64_t start = monotonic_ns();
    try {
        loop.run(main_task());
        ADD_FAILURE() << "join did not rethrow";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "first");
    }
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(finished);
    EXPECT_LT(monotonic_ns() - start, 5'000 * ms);  // not the 10 s sleep
    EXPECT_EQ(frames_alive(), before);
    EXPECT_EQ(loop.reactor().armed(), 0u);
}

TEST(Coroutines, a_task_group_left_without_join_destroys_its_children_where_they_wait) {
    long before = frames_alive();
    Loop loop;
    bool cancelled = false, finished = false;
    auto main_task = [&]() -> Task<void> {
        TaskGroup group(loop);
        group.spawn(sleep_long(cancelled, finished));
        EXPECT_EQ(loop.reactor().armed(), 1u);
        co_return;  // no join: the group's destructor destroys the child, its timer disarmed
    };
    loop.run(main_task());
    EXPECT_FALSE(finished);
    EXPECT_FALSE(cancelled);  // destroyed, not resumed: no code after its co_await ran
    EXPECT_EQ(loop.reactor().armed(), 0u);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, cancelling_a_joining_owner_cancels_its_children_and_waits_for_them) {
    long before = frames_alive();
    Loop loop;
    bool cancelled = false, finished = false, owner_cancelled = false;
    auto owner = [&]() -> Task<void> {
        TaskGroup inner(loop);
        inner.spawn(sleep_long(cancelled, finished));
        try {
            co_await inner.join();
        } catch (const Cancelled&) {
            owner_cancelled = true;
            EXPECT_EQ(inner.size(), 0u);  // the child ended before the owner was resumed
            throw;
        }
    };
    auto main_task = [&]() -> Task<void> {
        TaskGroup outer(loop);
        outer.spawn(owner());
        co_await sleep_for(5 * ms);
        outer.cancel();
        co_await outer.join();  // the owner's Cancelled is the outer group's own doing: no error
    };
    loop.run(main_task());
    EXPECT_TRUE(cancelled);
    EXPECT_TRUE(owner_cancelled);
    EXPECT_FALSE(finished);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, gather_returns_the_results_in_the_order_of_the_tasks) {
    Loop loop;
    auto slow_value = [](std::int64_t delay, int value) -> Task<int> {
        co_await sleep_for(delay);
        co_return value;
    };
    auto main_task = [&]() -> Task<std::vector<int>> {
        std::vector<Task<int>> tasks;
        tasks.push_back(slow_value(20 * ms, 1));
        tasks.push_back(slow_value(5 * ms, 2));
        tasks.push_back(slow_value(10 * ms, 3));
        co_return co_await gather(std::move(tasks));
    };
    EXPECT_EQ(loop.run(main_task()), (std::vector<int>{1, 2, 3}));
}

TEST(Coroutines, a_semaphore_hands_permits_to_waiters_in_the_order_they_asked) {
    long before = frames_alive();
    Loop loop;
    Semaphore semaphore(1);
    std::vector<int> order;
    // Task 1 gives its permit back and at once asks again: it must queue behind 2..5, which
    // asked first, although no one else has run since its release (no barging).
    auto first = [&]() -> Task<void> {
        {
            Permit permit = co_await semaphore.acquire();
            order.push_back(1);
            co_await sleep_for(1 * ms);
        }
        Permit again = co_await semaphore.acquire();
        order.push_back(6);
    };
    auto main_task = [&]() -> Task<void> {
        TaskGroup group(loop);
        group.spawn(first());
        for (int who = 2; who <= 5; ++who) group.spawn(take_permit(semaphore, who, order));
        co_await group.join();
    };
    loop.run(main_task());
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(semaphore.available(), 1u);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, a_cancelled_semaphore_waiter_leaves_the_queue_and_the_permit_goes_on) {
    Loop loop;
    Semaphore semaphore(1);
    std::vector<int> order;
    auto main_task = [&]() -> Task<void> {
        TaskGroup holders(loop), cancelled(loop);
        holders.spawn(take_permit(semaphore, 1, order));
        cancelled.spawn(take_permit(semaphore, 2, order));
        holders.spawn(take_permit(semaphore, 3, order));
        cancelled.cancel();
        co_await cancelled.join();
        co_await holders.join();
    };
    loop.run(main_task());
    EXPECT_EQ(order, (std::vector<int>{1, 3}));
    EXPECT_EQ(semaphore.available(), 1u);
}

TEST(Coroutines, an_event_wakes_every_waiter_when_set) {
    Loop loop;
    Event event;
    int woken = 0;
    auto waiter = [&]() -> Task<void> {
        co_await event.wait();
        ++woken;
    };
    auto main_task = [&]() -> Task<void> {
        TaskGroup group(loop);
        group.spawn(waiter());
        group.spawn(waiter());
        co_await sleep_for(1 * ms);
        EXPECT_EQ(woken, 0);
        event.set();
        co_await group.join();
        co_await event.wait();  // set: returns at once
    };
    loop.run(main_task());
    EXPECT_EQ(woken, 2);
}

TEST(Coroutines, a_timeout_cancels_the_read_it_wraps_and_unregisters_its_descriptor) {
    long before = frames_alive();
    Loop loop;
    Pair pair(loop);
    auto main_task = [&]() -> Task<void> {
        std::int64_t start = loop.now();
        std::optional<std::string> got =
            co_await timeout_at(loop.now() + 20 * ms, read_some(*pair.a));
        EXPECT_FALSE(got.has_value());
        EXPECT_GE(loop.now() - start, 20 * ms);
        EXPECT_EQ(loop.reactor().armed(), 0u);  // the deadline's timer is gone with it
        // Bytes that arrive now wake nobody; the next read sees them.
        EXPECT_EQ(::write(pair.b.get(), "late", 4), 4);
        co_await sleep_for(5 * ms);
        EXPECT_FALSE(pair.a->registered());  // unregistered when the event found no waiter
        std::optional<std::string> again =
            co_await timeout_at(loop.now() + 1'000 * ms, read_some(*pair.a));
        EXPECT_EQ(again, std::optional<std::string>("late"));
    };
    loop.run(main_task());
    pair.a.reset();
    EXPECT_EQ(loop.reactor().watched(), 0u);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, a_timeout_returns_the_result_when_the_task_ends_in_time) {
    Loop loop;
    Pair pair(loop);
    EXPECT_EQ(::write(pair.b.get(), "hello", 5), 5);
    auto main_task = [&]() -> Task<std::optional<std::string>> {
        co_return co_await timeout_at(loop.now() + 1'000 * ms, read_some(*pair.a));
    };
    EXPECT_EQ(loop.run(main_task()), std::optional<std::string>("hello"));
    EXPECT_EQ(loop.reactor().armed(), 0u);
}

TEST(Coroutines, a_cancel_from_outside_passes_through_a_timeout_that_has_not_passed) {
    Loop loop;
    bool timeout_returned = false, cancelled = false;
    auto inner = [&]() -> Task<void> {
        try {
            (void)co_await timeout_at(loop.now() + 10'000 * ms, sleep_long(cancelled, cancelled));
            timeout_returned = true;
        } catch (const Cancelled&) {
            throw;
        }
    };
    auto main_task = [&]() -> Task<void> {
        TaskGroup group(loop);
        group.spawn(inner());
        co_await sleep_for(2 * ms);
        group.cancel();
        co_await group.join();
    };
    loop.run(main_task());
    EXPECT_TRUE(cancelled);
    EXPECT_FALSE(timeout_returned);
}

TEST(Coroutines, the_loop_reports_a_task_that_waits_on_something_nothing_will_release) {
    long before = frames_alive();
    Loop loop;
    Semaphore never(0);
    auto stuck = [&]() -> Task<void> { (void)co_await never.acquire(); };
    EXPECT_THROW(loop.run(stuck()), std::logic_error);
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, a_hundred_thousand_awaits_that_complete_at_once_do_not_grow_the_stack) {
    Loop loop;
    auto count_to = [](int n) -> Task<long> {
        long sum = 0;
        for (int i = 0; i < n; ++i) sum += co_await answer();
        co_return sum;
    };
    EXPECT_EQ(loop.run(count_to(100'000)), 4'200'000);
}

TEST(Coroutines, run_in_executor_computes_on_a_worker_while_the_loop_serves_other_strands) {
    long before = frames_alive();
    Loop loop;
    std::promise<void> go;
    std::shared_future<void> started = go.get_future().share();
    std::thread::id worker;
    {
        Executor executor(1);
        // Lets the job finish only once the loop has run this strand: if the job ran on the
        // loop's thread, or the loop stalled while it ran, the job would time out.
        auto release_the_job = [&]() -> Task<void> {
            co_await sleep_for(1 * ms);
            go.set_value();
        };
        auto main_task = [&]() -> Task<int> {
            TaskGroup group(loop);
            group.spawn(release_the_job());
            int result = co_await executor.run([&] {
                worker = std::this_thread::get_id();
                bool released =
                    started.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
                return released ? 7 : -1;
            });
            co_await group.join();
            co_return result;
        };
        EXPECT_EQ(loop.run(main_task()), 7);
    }
    EXPECT_NE(worker, std::this_thread::get_id());
    EXPECT_EQ(frames_alive(), before);
}

TEST(Coroutines, run_in_executor_brings_back_the_exception_of_the_work) {
    Loop loop;
    Executor executor(1);
    auto main_task = [&]() -> Task<void> {
        co_await executor.run([]() -> int { throw std::invalid_argument("bad page"); });
    };
    EXPECT_THROW(loop.run(main_task()), std::invalid_argument);
}

TEST(Coroutines,
     a_cancelled_run_in_executor_resumes_at_once_and_the_work_still_ends_before_the_executor) {
    Loop loop;
    std::atomic<bool> finished{false};
    std::promise<void> go;
    std::shared_future<void> released = go.get_future().share();
    bool cancelled = false;
    {
        Executor executor(1);
        auto work = [&]() -> Task<void> {
            try {
                co_await executor.run([&] {
                    released.wait_for(std::chrono::seconds(10));
                    finished = true;
                });
            } catch (const Cancelled&) {
                cancelled = true;
                throw;
            }
        };
        auto main_task = [&]() -> Task<void> {
            TaskGroup group(loop);
            group.spawn(work());
            co_await sleep_for(2 * ms);
            group.cancel();
            co_await group.join();  // the strand ended though the work has not
            EXPECT_FALSE(finished);
            go.set_value();
        };
        loop.run(main_task());
        EXPECT_TRUE(cancelled);
    }  // the executor waits for the work
    EXPECT_TRUE(finished);
}
