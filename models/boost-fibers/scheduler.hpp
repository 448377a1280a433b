// Boost.Fiber's scheduling, told to sleep in epoll_wait. Boost.Fiber runs its ready fibers in
// turn; when none is ready it calls the algorithm's suspend_until(time) and expects the thread
// to sleep until then or until notify(). Ours sleeps in one iteration of the reactor of the
// callbacks model (models/epoll-callbacks/reactor.hpp, linked): epoll_wait no longer than
// `time`, then the ready descriptors' handlers, which make their waiting fibers ready. A
// notify() from another thread is a Reactor::post, whose eventfd ends the epoll_wait.
//
// Boost.Fiber asks the algorithm to sleep only when no fiber is ready, so 10,000 fibers that
// each run until they connect would keep epoll unasked until the last had connected; every 64
// picks the algorithm also asks epoll without waiting (Go's scheduler polls its netpoller so).
//
// Written after reading Boost.Fiber's documentation on integrating an event loop and its asio
// example (round_robin.hpp there runs io_context inside suspend_until); this one has no
// io_context, only the reactor, and a ready queue in round-robin order.
#pragma once

#include <atomic>
#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>

#include "models/epoll-callbacks/reactor.hpp"
#include "models/stackful-fibers/green_socket.hpp"
#include "scenarios/model.hpp"
#include "scenarios/net.hpp"

namespace rosetta::boost_fibers {

class EpollScheduler final : public boost::fibers::algo::algorithm {
public:
    EpollScheduler();
    ~EpollScheduler() override;

    // The reactor of the calling thread's scheduler (install() first).
    static reactor::Reactor& reactor();
    // Makes this the calling thread's Boost.Fiber scheduler, once per thread, before its
    // first fiber.
    static void install();

    void awakened(boost::fibers::context* ready) noexcept override;
    boost::fibers::context* pick_next() noexcept override;
    bool has_ready_fibers() const noexcept override;
    void suspend_until(std::chrono::steady_clock::time_point const& until) noexcept override;
    void notify() noexcept override;

private:
    boost::fibers::scheduler::ready_queue_type ready_;
    reactor::Reactor reactor_;
    std::uint64_t picks_ = 0;
    reactor::Timer until_{[] {}};  // ends the epoll_wait at suspend_until's time
};

// A socket a fiber waits on: the descriptor non-blocking, registered with this thread's
// reactor (and left registered between waits). A wait suspends the fiber's Boost.Fiber context;
// the reactor's handler, or the deadline's timer, schedules it again. (Not a fiber
// condition_variable: Boost holds the waiter's queue lock while it picks the next fiber, and the
// scheduler runs the reactor there, so a handler notifying that same variable would spin on its
// lock for ever.)
class Socket final : public fibers::GreenSocket, public reactor::IoHandler {
public:
    explicit Socket(Fd fd) : GreenSocket(std::move(fd)) {}
    ~Socket() override;

    bool wait(std::uint32_t events, std::int64_t deadline_ns) override;
    void on_events(std::uint32_t events) override;
    bool registered() const { return interest_.registered(); }  // in the thread's epoll set

private:
    void resume_waiter(bool timed_out);

    reactor::Interest interest_;
    boost::fibers::context* waiter_ = nullptr;  // from wait() until it runs again
    bool scheduled_ = false;                    // the waiter is on its way back
    bool timed_out_ = false;
    reactor::Timer deadline_{[this] { resume_waiter(true); }};
};

// --threads T: runs lane(i), for i in [0, count), each on a thread of its own with this
// scheduler installed, and returns when every thread is joined. A fiber stays on the thread
// that made it: its sockets are registered with that thread's epoll set, and a lane owns its
// share of the work (scenarios/lanes.hpp). On threads of their own, never the caller's:
// Boost.Fiber keeps a thread's scheduler (and so the reactor's descriptors) until the thread
// ends, and a run must end with its descriptors closed.
//
// Every thread is made and its scheduler installed before any lane starts: if the OS refuses
// a thread, or a scheduler its epoll set or eventfd, no lane runs and that error is rethrown
// after the joins. Once started, a lane must end its own fibers; what it lets escape is
// rethrown after the joins (the lowest lane's), but does not stop the others: the scenario
// stops them (FirstFailure, and closing what they wait on).
void run_on_fiber_threads(std::size_t count, const std::function<void(std::size_t)>& lane);

// The first error any fiber of a run meets, on any thread, and whether the run is stopping.
// Kept as an exception_ptr (copying one never allocates) and put into words at the end.
class FirstFailure {
public:
    void set(std::exception_ptr error);  // the first one stays; later ones are dropped
    bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
    Failure failure() const;

private:
    mutable std::mutex mutex_;  // never held across a fiber switch
    std::exception_ptr first_;
    std::atomic<bool> stopping_ = false;
};

}  // namespace rosetta::boost_fibers
