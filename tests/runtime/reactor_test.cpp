// The reactor on its own, deterministic: timers in time order and, at equal times, in arming
// order; one armed for now by a timer's callback only after the next epoll_wait; a disarmed or
// cancelled timer never fires; a descriptor's handler hears when it is ready and never again after
// unwatch, even for an event fetched in the same iteration; run() returns once nothing is watched,
// armed, queued or held, with nothing left registered; post() from another thread wakes a run()
// held open and runs its callbacks on the reactor's thread.
#include "models/epoll-callbacks/reactor.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "scenarios/records.hpp"
#include "socket_pair.hpp"

using namespace rosetta;
using namespace rosetta::reactor;

namespace {

constexpr std::int64_t ms = 1'000'000;

// Both ends of a connected pair of sockets.
using Pair = test::SocketPair;

struct Handler final : IoHandler {
    std::vector<std::uint32_t> events;
    std::function<void(std::uint32_t)> then;
    void on_events(std::uint32_t e) override {
        events.push_back(e);
        if (then) then(e);
    }
};

}  // namespace

TEST(Reactor, fires_timers_in_time_order_and_equal_times_in_arming_order) {
    Reactor reactor;
    std::string order;
    const std::int64_t t0 = reactor.now();
    Timer c([&] { order += 'c'; }), a([&] { order += 'a'; }), b1([&] { order += '1'; }),
        b2([&] { order += '2'; });
    reactor.arm(c, t0 + 30 * ms);
    reactor.arm(b1, t0 + 20 * ms);
    reactor.arm(a, t0 + 10 * ms);
    reactor.arm(b2, t0 + 20 * ms);
    reactor.run();
    EXPECT_EQ(order, "a12c");
    EXPECT_GE(monotonic_ns(), t0 + 30 * ms) << "a timer never fires early";
    EXPECT_EQ(reactor.armed(), 0u);
}

TEST(Reactor, fires_a_timer_armed_for_now_by_a_timer_only_after_the_next_epoll_wait) {
    // A sleep of 0 must give the loop a turn: a timer armed for "now" inside a timer's callback
    // waits for the next iteration, so I/O that became ready meanwhile is handled first.
    Reactor reactor;
    Pair pair;
    Handler reader;
    std::string order;
    reader.then = [&](std::uint32_t) {
        order += 'r';
        reactor.unwatch(pair.b.get(), &reader);
    };
    reactor.watch(pair.b.get(), EPOLLIN, &reader);
    int rounds = 0;
    Timer again([&] { order += 'b'; });
    Timer first([&] {
        order += 'a';
        ++rounds;
        ASSERT_EQ(::write(pair.a.get(), "x", 1), 1);  // b is readable from now on
        reactor.arm(again, reactor.now());
    });
    reactor.arm(first, reactor.now() + 1 * ms);
    reactor.run();
    EXPECT_EQ(order, "arb");
    EXPECT_EQ(rounds, 1);
}

TEST(Reactor, handles_ready_io_between_every_64_due_timers_when_thousands_are_due) {
    // A hub starting 10,000 fibers arms 10,000 timers for now; a socket that became ready is
    // handled after at most 64 of them, not after all.
    Reactor reactor;
    Pair pair;
    Handler reader;
    int fired = 0, fired_when_read = -1;
    reader.then = [&](std::uint32_t) {
        fired_when_read = fired;
        reactor.unwatch(pair.b.get(), &reader);
    };
    reactor.watch(pair.b.get(), EPOLLIN, &reader);
    std::vector<std::unique_ptr<Timer>> timers;
    for (int i = 0; i < 1000; ++i) {
        timers.push_back(std::make_unique<Timer>([&] {
            if (++fired == 1) {
                ASSERT_EQ(::write(pair.a.get(), "x", 1), 1);  // readable from now on
            }
        }));
        reactor.arm(*timers.back(), reactor.now());
    }
    reactor.run();
    EXPECT_EQ(fired, 1000);
    EXPECT_GE(fired_when_read, 1);
    EXPECT_LE(fired_when_read, 64);
}

TEST(Reactor, never_fires_a_disarmed_a_moved_or_a_cancelled_timer_early) {
    Reactor reactor;
    std::string order;
    const std::int64_t t0 = reactor.now();
    Timer gone([&] { order += 'x'; }), moved([&] { order += 'm'; }), kept([&] { order += 'k'; });
    reactor.arm(gone, t0 + 5 * ms);
    reactor.arm(moved, t0 + 1 * ms);
    reactor.arm(kept, t0 + 10 * ms);
    reactor.disarm(gone);
    reactor.arm(moved, t0 + 20 * ms);  // re-arming moves it
    Reactor::Handle cancelled = reactor.call_later(2 * ms, [&] { order += 'c'; });
    reactor.call_later(15 * ms, [&] { order += 'l'; });  // its handle dropped: it still fires
    reactor.cancel(cancelled);
    reactor.run();
    EXPECT_EQ(order, "klm");
}

TEST(Reactor, disarms_a_timer_destroyed_while_armed) {
    Reactor reactor;
    bool fired = false;
    {
        Timer timer([&] { fired = true; });
        reactor.arm(timer, reactor.now() + ms);
    }
    EXPECT_EQ(reactor.armed(), 0u);
    reactor.run();
    EXPECT_FALSE(fired);
}

TEST(Reactor, keeps_the_heap_in_order_through_many_random_arms_and_disarms) {
    Reactor reactor;
    std::vector<std::unique_ptr<Timer>> timers;
    std::vector<std::int64_t> fired;
    const std::int64_t t0 = reactor.now();
    for (int i = 0; i < 200; ++i) {
        std::int64_t when = t0 + (i * 7919 % 200) * 10'000;  // within 2 ms, shuffled
        timers.push_back(std::make_unique<Timer>([&fired, when] { fired.push_back(when); }));
        reactor.arm(*timers.back(), when);
    }
    for (int i = 0; i < 200; i += 3) reactor.disarm(*timers[static_cast<std::size_t>(i)]);
    reactor.run();
    EXPECT_EQ(fired.size(), 200u - 67u);
    EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
}

TEST(Reactor, tells_a_handler_its_descriptor_is_readable_and_runs_call_soon_after_the_io) {
    Reactor reactor;
    Pair pair;
    Handler reader;
    std::string order;
    reader.then = [&](std::uint32_t) {
        order += 'r';
        char byte;
        EXPECT_EQ(::read(pair.b.get(), &byte, 1), 1);
        reactor.call_soon([&] { order += 's'; });
        reactor.unwatch(pair.b.get(), &reader);
    };
    reactor.watch(pair.b.get(), EPOLLIN, &reader);
    EXPECT_EQ(reactor.watched(), 1u);
    reactor.call_later(5 * ms, [&] { ASSERT_EQ(::write(pair.a.get(), "x", 1), 1); });
    reactor.run();
    EXPECT_EQ(order, "rs");
    ASSERT_EQ(reader.events.size(), 1u);
    EXPECT_TRUE(reader.events[0] & EPOLLIN);
    EXPECT_EQ(reactor.watched(), 0u) << "nothing left registered";
}

TEST(Reactor, drops_an_event_already_fetched_for_a_handler_unwatched_in_the_same_iteration) {
    Reactor reactor;
    Pair first, second;
    Handler one, two;
    // Both are readable before run(): one epoll_wait fetches both events. Whichever handler
    // runs first unwatches the other (as a connection closing another would), which must then
    // not be called.
    ASSERT_EQ(::write(first.a.get(), "x", 1), 1);
    ASSERT_EQ(::write(second.a.get(), "x", 1), 1);
    one.then = [&](std::uint32_t) {
        reactor.unwatch(first.b.get(), &one);
        if (two.events.empty()) reactor.unwatch(second.b.get(), &two);
    };
    two.then = [&](std::uint32_t) {
        reactor.unwatch(second.b.get(), &two);
        if (one.events.empty()) reactor.unwatch(first.b.get(), &one);
    };
    reactor.watch(first.b.get(), EPOLLIN, &one);
    reactor.watch(second.b.get(), EPOLLIN, &two);
    reactor.run();
    EXPECT_EQ(one.events.size() + two.events.size(), 1u);
    EXPECT_EQ(reactor.watched(), 0u);
}

TEST(Reactor, tells_a_handler_waiting_to_write_and_a_level_triggered_reader_again) {
    Reactor reactor;
    Pair pair;
    Handler handler;
    int reads = 0;
    handler.then = [&](std::uint32_t e) {
        if (e & EPOLLOUT) {
            ASSERT_EQ(::write(pair.a.get(), "ab", 2), 2);
            reactor.modify(pair.a.get(), 0, &handler);
            return;
        }
    };
    Handler reader;
    reader.then = [&](std::uint32_t) {
        char byte;
        ASSERT_EQ(::read(pair.b.get(), &byte, 1), 1);  // one byte a time: told again for the next
        if (++reads == 2) {
            reactor.unwatch(pair.b.get(), &reader);
            reactor.unwatch(pair.a.get(), &handler);
        }
    };
    reactor.watch(pair.a.get(), EPOLLOUT, &handler);
    reactor.watch(pair.b.get(), EPOLLIN, &reader);
    reactor.run();
    EXPECT_EQ(reads, 2);
    EXPECT_EQ(handler.events.size(), 1u);
}

TEST(Reactor, lets_an_exception_out_of_run_and_runs_the_rest_next_time) {
    Reactor reactor;
    std::string order;
    reactor.call_soon([&] { order += 'a'; });
    reactor.call_soon([&] { throw std::runtime_error("boom"); });
    reactor.call_soon([&] { order += 'c'; });
    EXPECT_THROW(reactor.run(), std::runtime_error);
    EXPECT_EQ(order, "a");
    reactor.run();
    EXPECT_EQ(order, "ac");
}

TEST(Reactor, returns_from_run_at_stop_with_work_left) {
    Reactor reactor;
    Timer later([] {});
    reactor.arm(later, reactor.now() + 60'000 * ms);
    reactor.call_soon([&] { reactor.stop(); });
    std::int64_t t0 = monotonic_ns();
    reactor.run();
    EXPECT_LT(monotonic_ns() - t0, 1000 * ms);
    EXPECT_EQ(reactor.armed(), 1u);
}

TEST(Reactor, wakes_a_held_run_blocked_in_epoll_wait_when_another_thread_posts) {
    Reactor reactor;
    reactor.hold();  // nothing watched, armed or queued: only the hold keeps run() waiting
    const auto reactor_thread = std::this_thread::get_id();
    std::thread::id ran_on;
    std::thread poster([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        reactor.post([&] {
            ran_on = std::this_thread::get_id();
            reactor.release();
        });
    });
    const std::int64_t t0 = monotonic_ns();
    reactor.run();
    const std::int64_t waited = monotonic_ns() - t0;
    poster.join();
    EXPECT_EQ(ran_on, reactor_thread) << "a posted callback runs on the reactor's thread";
    EXPECT_GE(waited, 15 * ms) << "run() waited for the post instead of returning at once";
    EXPECT_LT(waited, 5000 * ms);
    EXPECT_EQ(reactor.watched(), 0u) << "the wakeup descriptor is not counted as watched";
}

TEST(Reactor, runs_posted_callbacks_in_the_order_they_were_posted) {
    Reactor reactor;
    reactor.hold();
    std::string order;
    std::thread poster([&] {
        for (char c : std::string("abcdefghij")) {
            reactor.post([&order, c] { order += c; });
            if (c == 'e') std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        reactor.post([&] { reactor.release(); });
    });
    reactor.run();
    poster.join();
    EXPECT_EQ(order, "abcdefghij");
}

TEST(Reactor, runs_a_callback_posted_before_run_started_and_returns_once_released) {
    Reactor reactor;
    reactor.hold();
    bool ran = false;
    reactor.post([&] {
        ran = true;
        reactor.release();
    });
    reactor.run();
    EXPECT_TRUE(ran);
    reactor.run();  // nothing held, watched, armed or queued: returns at once
}
