// The fiber hub on its own, deterministic: fibers switch in the order they became ready and at
// every wait, a wait ends at its deadline or when its socket is ready, a killed fiber unwinds
// from its wait, a pool bounds how many run and its first error kills the rest, stacks are
// reused, and running off a stack's end hits its guard page. After every run: no fiber alive,
// no descriptor left registered.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <stdexcept>
#include <string>

#include "models/stackful-fibers/green.hpp"
#include "scenarios/records.hpp"
#include "socket_pair.hpp"

using namespace rosetta;
using namespace rosetta::fibers;

namespace {

constexpr std::int64_t ms = 1'000'000;

// Both ends of a connected pair of sockets; `a` green, on the hub.
struct Pair {
    Fd b;
    std::unique_ptr<Socket> a;
    explicit Pair(Hub& hub) {
        test::SocketPair ends;
        a = std::make_unique<Socket>(hub, std::move(ends.a));
        b = std::move(ends.b);
    }
};

// Deep enough to pass any stack here: 1 KiB a call, never optimised away.
int recurse(int depth) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    return depth == 0 ? frame[0] : recurse(depth - 1) + frame[0];
}

}  // namespace

TEST(Fibers, switch_in_the_order_they_became_ready_and_at_every_wait) {
    Hub hub;
    std::string order;
    hub.run([&] {
        Pool pool(hub, 10);
        for (char c : {'a', 'b', 'c'})
            pool.spawn([&, c] {
                order += c;
                hub.sleep_for(0);
                order += static_cast<char>(c - 'a' + 'A');
            });
        order += 'm';  // spawning does not switch: they start on the hub's next turn
        pool.join();
    });
    EXPECT_EQ(order, "mabcABC");
    EXPECT_EQ(hub.alive(), 0u);
}

TEST(Fibers, end_a_wait_at_its_deadline_or_when_the_socket_is_ready) {
    Hub hub;
    Pair pair(hub);
    bool timed = true, ready = false;
    std::int64_t waited = 0;
    hub.run([&] {
        const std::int64_t t0 = monotonic_ns();
        timed = pair.a->wait(EPOLLIN, hub.now() + 20 * ms);
        waited = monotonic_ns() - t0;
        Pool pool(hub, 2);
        pool.spawn([&] { ready = pair.a->wait(EPOLLIN, hub.now() + 5'000 * ms); });
        pool.spawn([&] {
            hub.sleep_for(5 * ms);
            ASSERT_EQ(::write(pair.b.get(), "x", 1), 1);
        });
        pool.join();
    });
    EXPECT_FALSE(timed) << "nothing arrived: the deadline ended the wait";
    EXPECT_GE(waited, 20 * ms);
    EXPECT_TRUE(ready);
    pair.a.reset();
    EXPECT_EQ(hub.reactor().watched(), 0u) << "no descriptor left registered";
}

TEST(Fibers, unwind_a_killed_fiber_from_its_wait_running_its_destructors) {
    Hub hub;
    Pair pair(hub);
    bool unwound = false, after_wait = false;
    hub.run([&] {
        Pool pool(hub, 1);
        pool.spawn([&] {
            struct Flag {
                bool& set;
                ~Flag() { set = true; }
            } flag{unwound};
            pair.a->wait(EPOLLIN, 0);  // nothing will come, and no deadline
            after_wait = true;
        });
        hub.sleep_for(2 * ms);
        pool.kill();
        pool.join();  // Cancelled is how a killed fiber ends, not an error
    });
    EXPECT_TRUE(unwound);
    EXPECT_FALSE(after_wait);
    EXPECT_EQ(hub.alive(), 0u);
}

TEST(Fibers, bound_a_pool_and_kill_the_rest_at_its_first_error_which_join_rethrows) {
    Hub hub;
    int running = 0, most = 0, killed = 0;
    EXPECT_THROW(hub.run([&] {
        Pool pool(hub, 3);
        for (int i = 0; i < 10; ++i)
            pool.spawn([&, i] {
                ++running;
                most = std::max(most, running);
                try {
                    hub.sleep_for((i == 4 ? 1 : 50) * ms);
                } catch (const Cancelled&) {
                    --running;
                    ++killed;
                    throw;
                }
                --running;
                if (i == 4) throw std::runtime_error("fourth");
            });
        pool.join();
    }),
                 std::runtime_error);
    EXPECT_EQ(most, 3);
    EXPECT_GT(killed, 0) << "the error killed the fibers still sleeping";
    EXPECT_EQ(hub.alive(), 0u);
}

TEST(Fibers, reuse_the_stacks_of_fibers_that_ended) {
    Hub hub;
    int done = 0;
    hub.run([&] {
        Pool pool(hub, 4);
        for (int i = 0; i < 1000; ++i)
            pool.spawn([&] {
                hub.sleep_for(0);
                ++done;
            });
        pool.join();
    });
    EXPECT_EQ(done, 1000);
    EXPECT_LE(hub.stacks().mapped(), 6u) << "four running, the main fiber, one just ending";
    EXPECT_EQ(hub.stacks().idle(), hub.stacks().mapped());
}

TEST(Fibers, report_a_run_whose_fibers_wait_on_what_never_comes) {
    Hub hub;
    EXPECT_THROW(hub.run([&] { hub.park_until(0); }), std::logic_error);
}

TEST(FibersDeathTest, fault_on_the_guard_page_when_a_fiber_runs_off_its_stack) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    // The sanitizer catches the fault on the guard page, names it and exits.
    const char* const says = "stack-overflow";
    const auto died = [](int status) { return WIFEXITED(status) && WEXITSTATUS(status) != 0; };
#else
    const char* const says = "";
    const auto died = testing::KilledBySignal(SIGSEGV);
#endif
    EXPECT_EXIT(
        {
            Hub hub(64 * 1024);
            hub.run([&] {
                Pool pool(hub, 1);
                pool.spawn([] { recurse(200); });  // 200 KiB on a 64 KiB stack
                pool.join();
            });
        },
        died, says);
}
