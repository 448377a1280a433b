// The coroutine runtime on the reactor (models/epoll-callbacks/reactor.hpp, linked): the loop,
// the awaitables, and structured concurrency. asyncio's shape in C++20:
//
//     Task<void> main_task(Loop& loop) {
//         TaskGroup group(loop);
//         Semaphore slots(10);
//         for (...) {
//             Permit permit = co_await slots.acquire();
//             group.spawn(work(std::move(permit)));       // runs until its first wait
//         }
//         co_await group.join();                          // the first error, once all ended
//     }
//     Loop loop;
//     loop.run(main_task(loop));                          // until it ends
//
// Waits: co_await socket.readable() / writable(), sleep_for(ns), slots.acquire(),
// event.wait(), group.join(), timeout_at(deadline, task), gather(tasks), executor.run(fn).
//
// One loop iteration is the reactor's: epoll_wait, then the ready sockets' coroutines resumed
// right there (inline: the resumed coroutine runs until its next co_await), then the due
// timers' coroutines (sleep ends, timeouts), then the ready queue: coroutines woken by
// something other than I/O (a Semaphore release, an Event, a child's end, a cancellation),
// resumed in the order they were woken. Waking never resumes inside the call that woke, so a
// release inside a coroutine does not run another coroutine on top of it.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <vector>

#include "models/epoll-callbacks/reactor.hpp"
#include "models/stackless-coroutines/task.hpp"

namespace rosetta::coro {

class TaskGroup;

class Loop {
public:
    Loop() = default;
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    reactor::Reactor& reactor() { return reactor_; }
    std::int64_t now() const { return reactor_.now(); }

    // Runs task as the one root strand until it ends; returns its result or rethrows its
    // exception. std::logic_error if the loop runs out of things to wait for first (a
    // coroutine waits on something nothing will ever release).
    template <class T>
    T run(Task<T> task);

    // Resumes the waiter's coroutine from this iteration's ready queue, never inside this call.
    void wake(Waiter& waiter);

private:
    template <class T, class Result>
    static Task<void> run_root(Loop& loop, Task<T> task, Result& result, std::exception_ptr& error);
    void run_until_stopped(TaskGroup& root);
    void run_ready();

    reactor::Reactor reactor_;
    WaitQueue ready_;
    std::uint64_t pass_ = 0;
    bool draining_scheduled_ = false;
};

// ---- Descriptors ----------------------------------------------------------------------------

class Socket;

// co_await socket.readable() / writable(): until the kernel says so (or an error or hang-up,
// which the next recv/send reports).
class IoWait final : public Awaitable<IoWait> {
public:
    IoWait(Socket& socket, std::uint32_t events) : socket_(socket), events_(events) {}
    ~IoWait();
    bool await_ready() noexcept { return false; }
    void await_resume() { end_waiting(); }
    void cancel() override;

private:
    friend class Socket;
    friend Awaitable;
    bool suspend(Strand& strand, std::coroutine_handle<> awaiting);
    Socket& socket_;
    std::uint32_t events_;
};

// A connected descriptor on the loop. It stays registered with epoll between waits, for the
// events it waited for last, so a kept-alive connection that reads, sends and reads again
// costs no epoll_ctl. Level-triggered: an event nobody waits for (the peer closed a parked
// connection) would be reported again every iteration, so the first such one unregisters it;
// the next wait registers it again.
class Socket final : public reactor::IoHandler {
public:
    Socket(Loop& loop, Fd fd) : loop_(loop), fd_(std::move(fd)) {}
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    int fd() const { return fd_.get(); }
    IoWait readable() { return {*this, EPOLLIN}; }
    IoWait writable() { return {*this, EPOLLOUT}; }
    bool registered() const { return watching_ != 0; }

    void on_events(std::uint32_t events) override;

private:
    friend class IoWait;
    void want(std::uint32_t events);
    void unwatch();

    Loop& loop_;
    Fd fd_;
    std::uint32_t watching_ = 0;  // 0: not registered
    IoWait* waiter_ = nullptr;
};

// ---- Time -----------------------------------------------------------------------------------

// co_await sleep_until(when_ns) / sleep_for(ns): a timer on the reactor, nothing allocated.
class Sleep final : public Awaitable<Sleep> {
public:
    Sleep(std::int64_t ns, bool relative)
        : ns_(ns), relative_(relative), timer_([this] { handle.resume(); }) {}
    bool await_ready() noexcept { return false; }
    void await_resume() { end_waiting(); }
    void cancel() override;

private:
    friend Awaitable;
    bool suspend(Strand& strand, std::coroutine_handle<> awaiting);
    std::int64_t ns_;
    bool relative_;
    reactor::Timer timer_;
};
inline Sleep sleep_until(std::int64_t when_ns) { return {when_ns, false}; }
inline Sleep sleep_for(std::int64_t ns) { return {ns, true}; }

// While alive, a deadline on the strand's waits: when it passes, the wait pending then (and
// any wait after it) throws Cancelled. What timeout_at is made of.
class DeadlineScope {
public:
    DeadlineScope(Strand& strand, std::int64_t when_ns);
    ~DeadlineScope();
    DeadlineScope(const DeadlineScope&) = delete;
    DeadlineScope& operator=(const DeadlineScope&) = delete;
    // This deadline passed, and nothing outside it (an outer deadline, a cancel) is why the
    // strand is cancelled: the Cancelled is this scope's to absorb.
    bool passed_alone() const;

private:
    Strand& strand_;
    Deadline deadline_;
    reactor::Timer timer_;
};

// The task's result, or nothing if the deadline passed first; in that case whatever it
// waited on was cancelled and its coroutines unwound (a socket it waited on is no longer
// waited on). asyncio's wait_for, curio's timeout_after. A cancellation from outside passes
// through. For Task<void>: true when it completed.
template <class T>
requires(!std::is_void_v<T>) Task<std::optional<T>> timeout_at(std::int64_t when_ns, Task<T> task) {
    DeadlineScope scope(co_await this_strand(), when_ns);
    try {
        co_return co_await std::move(task);
    } catch (const Cancelled&) {
        if (!scope.passed_alone()) throw;
    }
    co_return std::nullopt;
}
Task<bool> timeout_at(std::int64_t when_ns, Task<void> task);

// ---- Structured concurrency -----------------------------------------------------------------

// Owns the strands spawned into it. The first child to end with an exception (other than the
// Cancelled of a child it cancelled) cancels the others; join() waits until all have ended,
// then rethrows that exception. The owner cancelled while it waits in join() cancels them all,
// waits for them, and throws Cancelled. curio's TaskGroup, trio's nursery, asyncio.TaskGroup.
//
// A destructor cannot wait, so leaving the scope without join() (an exception in the owner)
// destroys the children still there where they wait: their destructors run (sockets closed,
// timers disarmed, permits released), no code after their co_await does.
class TaskGroup {
public:
    explicit TaskGroup(Loop& loop) : loop_(loop) {}
    ~TaskGroup();
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;

    // Starts task as a new strand at once: it runs until its first wait, then spawn returns.
    void spawn(Task<void> task);
    void cancel();  // every child
    bool failed() const { return bool(error_); }
    std::size_t size() const { return size_; }

    class Join final : public Awaitable<Join> {
    public:
        explicit Join(TaskGroup& group) : group_(group) {}
        ~Join();
        bool await_ready() noexcept { return group_.size_ == 0; }
        void await_resume();
        void cancel() override;

    private:
        friend Awaitable;
        bool suspend(Strand& strand, std::coroutine_handle<> awaiting);
        TaskGroup& group_;
    };
    Join join() { return Join(*this); }

private:
    struct Child;
    struct ChildPromise;
    static Child run_child(TaskGroup& group, Task<void> task);
    void ended(ChildPromise& child);

    Loop& loop_;
    ChildPromise* first_ = nullptr;  // the children, linked through their promises
    std::size_t size_ = 0;
    std::exception_ptr error_;
    Join* joiner_ = nullptr;
};

// A permit from a Semaphore, given back when destroyed (move it into the task that needs it).
class Semaphore;
class Permit {
public:
    Permit() = default;
    explicit Permit(Semaphore& semaphore) : semaphore_(&semaphore) {}
    Permit(Permit&& other) noexcept : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept;
    ~Permit();

private:
    Semaphore* semaphore_ = nullptr;
};

// At most N permits out. Fair: a release hands its permit to the longest waiter, and a new
// acquire never takes one while others wait (asyncio's Semaphore, which is fair the same way).
class Semaphore {
public:
    explicit Semaphore(std::size_t permits) : available_(permits) {}
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    class Acquire final : public Awaitable<Acquire> {
    public:
        explicit Acquire(Semaphore& semaphore) : semaphore_(semaphore) {}
        ~Acquire();
        bool await_ready() noexcept;
        Permit await_resume();
        void cancel() override;

    private:
        friend class Semaphore;
        friend Awaitable;
        bool suspend(Strand& strand, std::coroutine_handle<> awaiting);
        Semaphore& semaphore_;
        bool granted_ = false;  // holds a permit not yet handed to its coroutine
    };
    Acquire acquire() { return Acquire(*this); }
    void release();
    std::size_t available() const { return available_; }

private:
    std::size_t available_;
    WaitQueue waiters_;
};

// Set or not; wait() returns when it is set (at once if it is). set() wakes every waiter.
// asyncio's Event.
class Event {
public:
    Event() = default;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    class Wait final : public Awaitable<Wait> {
    public:
        explicit Wait(Event& event) : event_(event) {}
        bool await_ready() noexcept { return event_.set_; }
        void await_resume() { end_waiting(); }
        void cancel() override;

    private:
        friend Awaitable;
        bool suspend(Strand& strand, std::coroutine_handle<> awaiting);
        Event& event_;
    };
    Wait wait() { return Wait(*this); }
    void set();
    void clear() { set_ = false; }
    bool is_set() const { return set_; }

private:
    bool set_ = false;
    WaitQueue waiters_;
};

// Runs the tasks as strands of their own, concurrently; their results in their order. The
// first exception cancels the rest and is rethrown once they have ended (a TaskGroup inside:
// asyncio.TaskGroup's rule, not gather's default of letting the others run on).
template <class T>
Task<void> store_result(Task<T> task, std::optional<T>& result) {
    result.emplace(co_await std::move(task));
}
template <class T>
Task<std::vector<T>> gather(std::vector<Task<T>> tasks) {
    Strand& strand = co_await this_strand();
    std::vector<std::optional<T>> results(tasks.size());
    TaskGroup group(strand.loop);
    for (std::size_t i = 0; i < tasks.size(); ++i)
        group.spawn(store_result(std::move(tasks[i]), results[i]));
    co_await group.join();
    std::vector<T> values;
    values.reserve(results.size());
    for (std::optional<T>& result : results) values.push_back(std::move(*result));
    co_return values;
}

// ---- Loop::run ------------------------------------------------------------------------------

// The root strand: the task, then the reactor stopped, whatever the task ended with (kept-alive
// connections may still be registered, so "nothing left to wait for" cannot be the signal).
template <class T, class Result>
Task<void> Loop::run_root(Loop& loop, Task<T> task, Result& result, std::exception_ptr& error) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(task);
            result.emplace(true);
        } else {
            result.emplace(co_await std::move(task));
        }
    } catch (...) {
        error = std::current_exception();
    }
    loop.reactor().stop();
}

template <class T>
T Loop::run(Task<T> task) {
    std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> result;
    std::exception_ptr error;
    {
        TaskGroup root(*this);
        root.spawn(run_root(*this, std::move(task), result, error));
        run_until_stopped(root);
    }
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>) return std::move(*result);
}

}  // namespace rosetta::coro
