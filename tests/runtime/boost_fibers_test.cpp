// boost-fibers' scheduler (EpollScheduler) on its own: ready fibers run in the order they
// became ready, a thread with nothing ready sleeps in epoll_wait (no CPU) until a timer, a
// socket or another thread's notify, a socket wait ends at its deadline, epoll is asked during
// long runs of ready work, and --threads' runner puts each lane on a thread of its own and
// closes every scheduler's descriptors. (Not built under ThreadSanitizer, as the model.)
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "models/boost-fibers/scheduler.hpp"
#include "scenarios/records.hpp"
#include "socket_pair.hpp"

using namespace rosetta;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t ms = 1'000'000;

// Both ends of a connected pair of sockets; `a` fiber-aware, on this thread's scheduler.
struct Pair {
    Fd b;
    std::unique_ptr<boost_fibers::Socket> a;
    Pair() {
        test::SocketPair ends;
        a = std::make_unique<boost_fibers::Socket>(std::move(ends.a));
        b = std::move(ends.b);
    }
};

// CPU seconds the calling thread has used.
double thread_cpu_s() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::size_t open_descriptors() {
    return static_cast<std::size_t>(
        std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                      std::filesystem::directory_iterator()));
}

// Runs body as the first fiber of a thread with the scheduler installed.
template <class Body>
void on_a_fiber_thread(Body body) {
    boost_fibers::run_on_fiber_threads(1, [&](std::size_t) { body(); });
}

}  // namespace

TEST(EpollScheduler, runs_ready_fibers_in_the_order_they_became_ready_and_switches_at_yield) {
    std::string order;
    on_a_fiber_thread([&] {
        std::vector<boost::fibers::fiber> fibers;
        for (char c : {'a', 'b', 'c'})
            fibers.emplace_back([&, c] {
                order += c;
                boost::this_fiber::yield();
                order += static_cast<char>(c - 'a' + 'A');
            });
        order += 'm';  // launching does not switch (post): they run when main waits
        for (auto& fiber : fibers) fiber.join();
    });
    EXPECT_EQ(order, "mabcABC");
}

TEST(EpollScheduler, sleeps_in_epoll_wait_until_a_fibers_timer_without_spinning) {
    double cpu = 0;
    std::int64_t slept = 0;
    on_a_fiber_thread([&] {
        const double cpu_before = thread_cpu_s();
        const std::int64_t start = monotonic_ns();
        boost::this_fiber::sleep_for(150ms);
        slept = monotonic_ns() - start;
        cpu = thread_cpu_s() - cpu_before;
    });
    EXPECT_GE(slept, 150 * ms);
    EXPECT_LT(slept, 1000 * ms);
    EXPECT_LT(cpu, 0.05) << "a thread with nothing ready sleeps; it does not poll";
}

TEST(EpollScheduler, resumes_a_fiber_when_its_socket_is_ready_and_at_its_deadline_otherwise) {
    bool readable = false, timed_out = true;
    std::int64_t waited = 0;
    on_a_fiber_thread([&] {
        Pair pair;
        boost::fibers::fiber writer([&] {
            boost::this_fiber::sleep_for(30ms);
            ASSERT_EQ(::send(pair.b.get(), "x", 1, 0), 1);
        });
        readable = pair.a->wait(EPOLLIN, monotonic_ns() + 5000 * ms);
        writer.join();
        char byte;
        ASSERT_EQ(::recv(pair.a->fd(), &byte, 1, 0), 1);
        const std::int64_t start = monotonic_ns();
        timed_out = !pair.a->wait(EPOLLIN, start + 40 * ms);  // nothing more comes
        waited = monotonic_ns() - start;
    });
    EXPECT_TRUE(readable);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(waited, 40 * ms);
    EXPECT_LT(waited, 1000 * ms);
}

TEST(EpollScheduler, asks_epoll_during_a_long_run_of_ready_fibers) {
    int yields_before_resumed = -1;
    on_a_fiber_thread([&] {
        Pair pair;
        ASSERT_EQ(::send(pair.b.get(), "x", 1, 0), 1);  // readable before anyone waits
        int yields = 0;
        boost::fibers::fiber waiter([&] {
            if (pair.a->wait(EPOLLIN, monotonic_ns() + 5000 * ms)) yields_before_resumed = yields;
        });
        boost::fibers::fiber busy([&] {
            for (; yields < 10'000; ++yields) boost::this_fiber::yield();  // always ready
        });
        waiter.join();
        busy.join();
    });
    ASSERT_GE(yields_before_resumed, 0);
    // Epoll is asked every 64 picks: without it the waiter would wait for all 10,000 yields.
    EXPECT_LT(yields_before_resumed, 200);
}

TEST(EpollScheduler, keeps_a_socket_registered_while_its_fiber_is_on_its_way_back) {
    // The waiter is made ready, but 100 busy fibers run before it, and epoll is asked again
    // meanwhile: it says once more that the socket is readable (level-triggered). That is no
    // reason to unregister it, or every request would cost two epoll_ctl calls.
    bool ready = false, registered_when_back = false;
    on_a_fiber_thread([&] {
        Pair pair;
        boost::fibers::fiber waiter([&] {
            ready = pair.a->wait(EPOLLIN, monotonic_ns() + 5000 * ms);
            registered_when_back = pair.a->registered();
        });
        boost::this_fiber::yield();  // the waiter waits
        ASSERT_EQ(::send(pair.b.get(), "x", 1, 0), 1);
        std::vector<boost::fibers::fiber> busy;
        for (int i = 0; i < 100; ++i)
            busy.emplace_back([] {
                for (int k = 0; k < 3; ++k) boost::this_fiber::yield();
            });
        waiter.join();
        for (auto& fiber : busy) fiber.join();
    });
    EXPECT_TRUE(ready);
    EXPECT_TRUE(registered_when_back);
}

TEST(EpollScheduler, wakes_from_epoll_wait_when_a_fiber_on_another_thread_makes_one_ready) {
    boost::fibers::buffered_channel<std::int64_t> channel(2);
    std::int64_t latency = -1;
    std::set<std::thread::id> threads;
    std::mutex mutex;
    boost_fibers::run_on_fiber_threads(2, [&](std::size_t lane) {
        {
            std::lock_guard lock(mutex);
            threads.insert(std::this_thread::get_id());
        }
        if (lane == 0) {  // waits with no timer at all: only notify() can end its epoll_wait
            std::int64_t sent = 0;
            ASSERT_EQ(channel.pop(sent), boost::fibers::channel_op_status::success);
            latency = monotonic_ns() - sent;
        } else {
            boost::this_fiber::sleep_for(50ms);
            ASSERT_EQ(channel.push(monotonic_ns()), boost::fibers::channel_op_status::success);
        }
    });
    EXPECT_EQ(threads.size(), 2u) << "each lane on a thread of its own";
    ASSERT_GE(latency, 0);
    EXPECT_LT(latency, 500 * ms);
}

TEST(EpollScheduler, runner_closes_every_schedulers_descriptors_and_rethrows_a_lanes_error) {
    const std::size_t before = open_descriptors();
    EXPECT_THROW(boost_fibers::run_on_fiber_threads(3,
                                                    [](std::size_t lane) {
                                                        boost::this_fiber::sleep_for(5ms);
                                                        if (lane == 1)
                                                            throw std::runtime_error("lane 1");
                                                    }),
                 std::runtime_error);
    EXPECT_EQ(open_descriptors(), before) << "each thread's epoll set and eventfd are closed";
}

TEST(FirstFailure, keeps_the_first_error_and_says_the_run_is_stopping) {
    boost_fibers::FirstFailure failures;
    EXPECT_FALSE(failures.stopping());
    EXPECT_FALSE(failures.failure());
    failures.set(std::make_exception_ptr(LimitReached("socket: EMFILE")));
    failures.set(std::make_exception_ptr(std::runtime_error("later")));
    EXPECT_TRUE(failures.stopping());
    EXPECT_EQ(failures.failure(), "socket: EMFILE");
}
