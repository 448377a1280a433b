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

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <thread>

#include "models/epoll-callbacks/reactor.hpp"
#include "models/stackful-fibers/green_socket.hpp"
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

private:
    void want(std::uint32_t events);
    void unwatch();
    void resume_waiter(bool timed_out);

    std::uint32_t watching_ = 0;
    boost::fibers::context* waiter_ = nullptr;
    bool timed_out_ = false;
    reactor::Timer deadline_{[this] { resume_waiter(true); }};
};

// Runs body on a thread of its own with this scheduler installed, and joins it: Boost.Fiber
// keeps a thread's scheduler (and so the reactor's descriptors) until the thread ends, and a
// run must end with its descriptors closed. Rethrows what body threw.
template <class Body>
void run_on_a_fiber_thread(Body body) {
    std::exception_ptr error;
    std::thread thread([&] {
        try {
            EpollScheduler::install();
            body();
        } catch (...) {
            error = std::current_exception();
        }
    });
    thread.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace rosetta::boost_fibers
