// The reactor: one thread, one epoll set, one timer heap, callbacks. What epoll-callbacks is
// written on, and what stackless-coroutines resumes its coroutines from.
//
//     Reactor reactor;
//     reactor.watch(fd, EPOLLOUT, &connection);   // connection.on_events(EPOLLOUT) when writable
//     reactor.arm(deadline, connection.deadline_ns);  // deadline's callback at that time
//     reactor.call_later(ms(100), [] { ... });
//     reactor.run();   // until stop(), or nothing is watched, armed, queued or held
//
// One iteration of run(): epoll_wait no longer than the earliest timer; the ready descriptors'
// handlers; the timers that are due, earliest first; the callbacks queued with call_soon (and
// those posted from other threads, which join that queue).
//
// Everything is for the reactor's own thread but post(): several reactors, each on a thread
// of its own (--threads), talk only through it. A reactor that may be posted to while it has
// nothing of its own to wait for (a crawl's reactor whose requests all sit idle while another
// reactor may still queue URLs) is kept in run() by hold(), until a posted callback calls
// release(). post() takes the one lock in the reactor, once per call and never per I/O event:
// the accepted cost is a mutex and an eventfd write per message between reactors, which a
// crawl sends at most once per finished URL.
//
// Level-triggered: a handler that leaves bytes unread (a response ended, the rest is for the
// next request) is told again on the next iteration rather than never, so no handler has to
// drain a socket to EAGAIN to stay correct. The price is an epoll_ctl whenever a connection
// switches between waiting to write and waiting to read, which a kept-alive request, whose
// send completes at once, never does.
//
// One representation of time: nanoseconds of CLOCK_MONOTONIC (monotonic_ns(), the records'
// clock), cached as now() once per iteration.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "scenarios/net.hpp"

namespace rosetta::reactor {

// Told which of the events it waits for are ready (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP).
class IoHandler {
public:
    virtual void on_events(std::uint32_t events) = 0;

protected:
    ~IoHandler() = default;
};

class Reactor;

// Where an iteration sleeps, in place of epoll_wait, for a loop whose I/O is not readiness but
// completions (io-uring's ring): sleep() submits what it queued and returns when something
// completed or the time passed; dispatch() then hands out what completed, where epoll's ready
// handlers would run. A reactor sleeping in one polls no descriptor of its epoll set.
class Sleeper {
public:
    virtual void sleep(int timeout_ms) = 0;  // timeout_ms: -1 none, 0 do not wait
    virtual void dispatch() = 0;

protected:
    ~Sleeper() = default;
};

// A callback to run at a time, owned by whoever arms it, so that arming and disarming one
// allocates nothing (each request's deadline is one). Disarmed when destroyed.
class Timer {
public:
    explicit Timer(std::function<void()> on_time) : on_time_(std::move(on_time)) {}
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    bool armed() const { return reactor_ != nullptr; }
    std::int64_t when_ns() const { return when_ns_; }

private:
    friend class Reactor;
    std::function<void()> on_time_;
    Reactor* reactor_ = nullptr;
    std::int64_t when_ns_ = 0;
    std::uint64_t sequence_ = 0;  // arming order: equal times fire in the order they were armed
    std::size_t index_ = 0;       // in the reactor's heap
};

class Reactor {
public:
    Reactor();
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    // The loop's clock, read once per iteration (and when the reactor is made).
    std::int64_t now() const { return now_ns_; }

    // Descriptors. events: EPOLLIN, EPOLLOUT or both (0: registered, told of nothing but
    // errors). The handler must stay alive until unwatch(fd).
    void watch(int fd, std::uint32_t events, IoHandler* handler);
    void modify(int fd, std::uint32_t events, IoHandler* handler);
    // Before the descriptor is closed: an event already fetched for it in this iteration is
    // dropped, so its handler may be destroyed right after.
    void unwatch(int fd, IoHandler* handler);
    std::size_t watched() const { return watched_; }

    // Timers. arm() on an armed timer moves it.
    void arm(Timer& timer, std::int64_t when_ns);
    void disarm(Timer& timer);
    std::size_t armed() const { return heap_.size(); }

    // A callback after delay_ns (one allocation: for the occasional, not per request). The
    // handle cancels it; dropping the handle does not.
    using Handle = std::shared_ptr<Timer>;
    Handle call_later(std::int64_t delay_ns, std::function<void()> callback);
    void cancel(const Handle& handle);
    // A callback on this iteration's end, after the I/O and the timers.
    void call_soon(std::function<void()> callback);

    // From any thread: a callback to run on the reactor's thread, in the order posted, after
    // the I/O and the timers of the iteration that sees it (as call_soon's). Wakes a run()
    // blocked in epoll_wait. Posted callbacks not run when the reactor is destroyed are dropped:
    // run() does not wait for them, hold() does.
    void post(std::function<void()> callback);
    // Keeps run() running, waiting for posts, while holds are taken and not released. Both on
    // the reactor's thread (or before run()): another thread releases by post().
    void hold() { ++holds_; }
    void release() { --holds_; }

    // Runs iterations until stop(), or until nothing is watched, armed, queued or held.
    // Exceptions from handlers and callbacks propagate out of run(); the reactor stays usable.
    void run();
    void stop() { stopping_ = true; }
    // One iteration of run(): for a scheduler that does its waiting here (boost-fibers).
    void run_once();
    // Sleeps in sleeper instead of epoll_wait from the next iteration on (nullptr: epoll again).
    // The sleeper keeps run() running with hold() while it has work in flight.
    void sleep_in(Sleeper* sleeper) { sleeper_ = sleeper; }

private:
    // The eventfd post() writes: registered in the epoll set but not counted in watched().
    class Wakeup final : public IoHandler {
    public:
        explicit Wakeup(Reactor& reactor) : reactor_(reactor) {}
        void on_events(std::uint32_t events) override;

    private:
        Reactor& reactor_;
    };

    int timeout_ms() const;
    void poll_descriptors();
    void fire_timers();
    // The heap of armed timers, earliest first.
    bool earlier(const Timer* a, const Timer* b) const;
    void sift_up(std::size_t i);
    void sift_down(std::size_t i);
    void place(std::size_t i, Timer* timer);

    Fd epoll_;
    std::int64_t now_ns_ = 0;
    std::size_t watched_ = 0;
    bool stopping_ = false;
    std::vector<epoll_event> events_;
    int fetched_ = 0;   // events fetched in this iteration
    int handling_ = 0;  // the one being handled
    std::vector<Timer*> heap_;
    std::uint64_t next_sequence_ = 0;
    std::vector<std::function<void()>> soon_, running_soon_;
    std::unordered_map<Timer*, Handle> later_;  // call_later's, until they fire or are cancelled
    int holds_ = 0;
    Sleeper* sleeper_ = nullptr;
    Fd wakeup_fd_;
    Wakeup wakeup_{*this};
    std::mutex posted_mutex_;  // guards posted_, the only state other threads touch
    std::vector<std::function<void()>> posted_;
};

// The events a descriptor is registered for, kept between waits, beside the descriptor by
// whoever waits on it (callbacks' Request; the coroutines' and both fiber models' sockets):
// waiting again for the same events costs no epoll_ctl (a kept-alive connection reads, sends
// and reads again), a change costs one. Level-triggered: a descriptor nobody waits on that the
// peer closes would be reported on every iteration, so its owner drops it at the first such
// report; the next want() registers it again.
class Interest {
public:
    // Registered for `events` (EPOLLIN, EPOLLOUT; not 0), `handler` told when they are ready.
    void want(Reactor& reactor, int fd, std::uint32_t events, IoHandler* handler) {
        if (events_ == 0) {
            reactor.watch(fd, events, handler);
        } else if (events_ != events) {
            reactor.modify(fd, events, handler);
        }
        events_ = events;
    }
    // No longer registered: before the descriptor closes, or when nobody waits on it.
    void drop(Reactor& reactor, int fd, IoHandler* handler) {
        if (events_ != 0) reactor.unwatch(fd, handler);
        events_ = 0;
    }
    bool registered() const { return events_ != 0; }

private:
    std::uint32_t events_ = 0;  // 0: not registered
};

}  // namespace rosetta::reactor
