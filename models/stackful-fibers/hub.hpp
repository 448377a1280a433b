// The hub: gevent's hub in C++. Fibers of Boost.Context, each on a stack of its own, and the
// epoll reactor of the callbacks model (models/epoll-callbacks/reactor.hpp, linked): a fiber
// that would block parks itself and switches to the hub; the hub runs the reactor, and when the
// descriptor is ready or the deadline passes, switches back. Code on a fiber reads like the
// blocking model's; the waiting is an event loop's.
//
//     Hub hub;
//     hub.run([&] {                         // the main fiber
//         Pool pool(hub, 10);               // gevent.pool.Pool(10)
//         for (...) pool.spawn([&] { ... });   // waits while 10 run
//         pool.join();                      // the first error, once all ended
//     });
//
// Where the switch happens: only in Hub::park (a fiber to the hub) and Hub::switch_to (the
// hub to a fiber), each one boost::context::fiber::resume(). A fiber parks in Socket::wait
// (green.hpp), sleep_for, Pool::spawn and Pool::join; the hub switches to it from the
// reactor's callbacks: a descriptor ready, the fiber's timer (its deadline, or a wake-up).
// Nothing runs two fibers at once, and nothing preempts one: between two parks a fiber is
// alone on the thread, as a greenlet is.
#pragma once

#include <boost/context/fiber.hpp>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "models/epoll-callbacks/reactor.hpp"
#include "models/stackful-fibers/stacks.hpp"

namespace rosetta::fibers {

// Raised at a fiber's wait once it is killed (gevent's GreenletExit), so the fiber unwinds:
// its destructors close its sockets.
struct Cancelled : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
};

class Hub;
class Pool;

class Fiber {
public:
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;
    ~Fiber();

    // gevent's kill: Cancelled at its current wait, or its next one (at once if it has not
    // started: it never runs).
    void kill();
    bool ended() const { return ended_; }

private:
    friend class Hub;
    friend class Pool;
    Fiber(Hub& hub, std::function<void()> body, Pool* pool);
    void on_timer();

    Hub& hub_;
    std::function<void()> body_;
    Pool* pool_;
    std::size_t pool_index_ = 0;
    boost::context::fiber context_;  // where to resume it (empty while it runs, and once ended)
    reactor::Timer timer_;           // its deadline, or a wake-up
    bool parked_ = false;            // switched to the hub, waiting to be switched back
    bool woken_ = false;             // the timer is a wake-up, not the deadline
    bool timed_out_ = false;
    bool cancelled_ = false;
    bool ended_ = false;
    std::exception_ptr error_;  // what its body let escape (not Cancelled)
    Fiber* prev_ = nullptr;     // the hub's list of live fibers
    Fiber* next_ = nullptr;
    void* sanitizer_ = nullptr;   // ThreadSanitizer's fiber
    void* fake_stack_ = nullptr;  // AddressSanitizer's, while it is switched away
    const void* stack_bottom_ = nullptr;
    std::size_t stack_size_ = 0;
};

class Hub {
public:
    explicit Hub(std::size_t stack_bytes = StackPool::default_bytes);
    ~Hub();  // every fiber must have ended (run() sees to it)
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    reactor::Reactor& reactor() { return reactor_; }
    std::int64_t now() const { return reactor_.now(); }
    StackPool& stacks() { return stacks_; }
    std::size_t alive() const { return alive_; }

    // Runs body as the main fiber, and the hub until it ends; rethrows what it let escape.
    // std::logic_error if every fiber waits on something nothing will ever bring.
    void run(std::function<void()> body);

    // From a fiber or the hub: a new fiber for body, started on a later turn of the hub (not
    // inside this call: gevent.spawn). Fibers of a Pool are made by Pool::spawn.
    Fiber& spawn(std::function<void()> body) { return make(std::move(body), nullptr); }

    // From a fiber, the only ways to give the thread up:
    // park until switch_to brings it back or deadline_ns passes (0: none); false when the
    // deadline passed. Throws Cancelled when the fiber was killed.
    bool park_until(std::int64_t deadline_ns);
    void sleep_for(std::int64_t ns);  // 0: one turn of the hub, after its next epoll_wait
    // The fiber running now (nullptr on the hub).
    Fiber* current() const { return current_; }

    // From the hub (a reactor callback): switch to a parked fiber until it parks again or
    // ends; greenlet's switch. Does nothing to a fiber that is not parked.
    void switch_to(Fiber& fiber);
    // From anywhere on this thread: have a parked fiber switched to on the hub's next turn.
    void wake(Fiber& fiber);

private:
    friend class Pool;
    friend class Fiber;
    Fiber& make(std::function<void()> body, Pool* pool);
    void ended(Fiber& fiber);
    void park();

    reactor::Reactor reactor_;
    StackPool stacks_;
    boost::context::fiber hub_;  // the hub's own context, while a fiber runs
    Fiber* current_ = nullptr;
    Fiber* first_ = nullptr;
    std::size_t alive_ = 0;
    const void* hub_stack_bottom_ = nullptr;
    std::size_t hub_stack_size_ = 0;
    void* hub_sanitizer_ = nullptr;
    void* hub_fake_stack_ = nullptr;
    bool main_ended_ = false;
};

// gevent.pool.Pool: at most `size` fibers of it alive; spawn waits for room. The first error
// one of them lets escape kills the others; join waits for all and rethrows it. Must be
// joined before it is destroyed (on a fiber: a destructor cannot wait safely while an
// exception unwinds, so the owner joins, then rethrows).
class Pool {
public:
    Pool(Hub& hub, std::size_t size);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    void spawn(std::function<void()> body);  // from a fiber
    void join();                             // from a fiber
    void kill();                             // every fiber of it
    bool failed() const { return bool(error_); }
    std::size_t running() const { return running_; }

private:
    friend class Hub;
    void ended(Fiber& fiber);

    Hub& hub_;
    std::size_t size_;
    std::size_t running_ = 0;
    std::vector<Fiber*> members_;  // the live ones (Fiber::pool_index_)
    std::deque<Fiber*> waiting_;   // fibers parked in spawn for room, oldest first
    Fiber* joiner_ = nullptr;
    std::exception_ptr error_;
};

}  // namespace rosetta::fibers
