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
//
// This header: the loop and TaskGroup (a strand's start, end and cancellation); the waits are
// in io.hpp (sockets, sleep, timeout_at) and sync.hpp (Semaphore, Event, gather);
// runtime.hpp includes all three.
#pragma once

#include <exception>
#include <optional>
#include <type_traits>

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
