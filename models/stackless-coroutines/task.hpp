// Task<T>: a C++20 coroutine that returns a T, and the few things every wait needs to know
// about the coroutine that waits: its strand (which cancellation reaches it) and where to
// resume it. The waits themselves are in loop.hpp (TaskGroup), io.hpp (sockets, sleep,
// timeout_at) and sync.hpp (Semaphore, Event); this file is only the coroutine type.
//
//     Task<int> answer() { co_return 42; }
//     Task<int> twice() { co_return 2 * co_await answer(); }   // answer() starts here
//
// Lazy: calling a coroutine makes its frame and runs nothing; co_await starts it. If it ends
// without waiting, the awaiting coroutine carries on as after a call; if it waited, its end
// resumes the awaiting coroutine by symmetric transfer (final_suspend returns the handle to
// run next). Either way a loop of a hundred thousand awaits does not grow the stack. An
// exception leaves a Task through the co_await that awaited it. A Task destroyed before it ran
// frees its frame and runs none of its body.
//
// A strand is what asyncio calls a Task and trio a task: one root coroutine spawned into a
// TaskGroup and everything it co_awaits, one thing at a time. Cancelling a strand cancels
// whatever its innermost coroutine waits on (Strand::waiter), which then throws Cancelled
// from that co_await; the exception unwinds the coroutines up to whoever catches it.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <utility>

namespace rosetta::coro {

class Loop;

// Where coroutine frames come from: a free list per 16-byte size class, per thread, filled
// by cutting 64 KiB slabs (one plain allocation a frame under ASan, so it sees overflows). A
// download makes several frames per URL (the spawned task, fetch, each try, the timeout
// around it); after the first few hundred URLs each comes from a list, not from malloc, and
// none carries malloc's header. The accepted cost: the memory of the most frames of each size
// alive at once stays with the thread until it exits. The counts are what the runtime tests
// check ("no frame leaked after a run").
namespace frames {
void* allocate(std::size_t bytes);
void release(void* frame, std::size_t bytes) noexcept;
struct Counts {
    long alive = 0;               // frames made and not yet destroyed, on this thread
    std::size_t bytes_alive = 0;  // their sizes, as the compiler asked (before rounding up)
    std::size_t last_bytes = 0;   // the size of the frame made last (what a coroutine costs)
};
Counts counts();
}  // namespace frames

// Thrown from a co_await whose strand was cancelled (or whose timeout passed), so that the
// coroutines between the wait and whoever cancelled it unwind, running their destructors.
struct Cancelled : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
};

class Strand;

// What a strand is suspended on (a socket, a timer, a Semaphore's queue, a TaskGroup's join):
// told when the strand is cancelled, it stops waiting and has the coroutine resumed from the
// loop, where its await_resume throws Cancelled. The links put it in at most one queue at a
// time (the loop's ready queue or a Semaphore's); destroying it takes it out.
class Waiter {
public:
    virtual void cancel() = 0;
    // Has the coroutine resumed from the loop's ready queue.
    void wake();
    std::coroutine_handle<> handle;

protected:
    Waiter() = default;
    virtual ~Waiter();  // virtual only because the queues, friends, could reach it
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

    // In await_suspend: false when the strand is cancelled already (do not suspend; resume
    // throws), else it becomes the strand's current wait.
    bool start_waiting(Strand& strand, std::coroutine_handle<> awaiting);
    // In await_resume: no longer the strand's wait; throws Cancelled if cancel() was told.
    void end_waiting();

    Strand* strand = nullptr;
    bool cancelled = false;

private:
    friend class WaitQueue;
    friend class Loop;
    class WaitQueue* queue_ = nullptr;
    Waiter* prev_ = nullptr;
    Waiter* next_ = nullptr;
    std::uint64_t pass_ = 0;  // the loop's drain pass it was woken in
};

// The await_suspend of every awaitable here: the awaiting coroutine's strand and handle go to
// Derived::suspend(strand, awaiting), which returns false to carry on without suspending.
template <class Derived>
class Awaitable : public Waiter {
public:
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> awaiting) {
        return static_cast<Derived&>(*this).suspend(*awaiting.promise().strand, awaiting);
    }
};

// A FIFO of waiters, linked through the waiters themselves: queuing allocates nothing.
class WaitQueue {
public:
    WaitQueue() = default;
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;
    ~WaitQueue();
    bool empty() const { return head_ == nullptr; }
    Waiter* front() const { return head_; }
    void push_back(Waiter& waiter);
    void remove(Waiter& waiter);
    Waiter* pop_front();

private:
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
};

// A deadline around part of a strand's work (timeout_at): while it has passed, the strand's
// waits throw Cancelled. Nested ones link outwards.
struct Deadline {
    Deadline* outer = nullptr;
    bool passed = false;
};

class Strand {
public:
    explicit Strand(Loop& loop_) : loop(loop_) {}
    Strand(const Strand&) = delete;
    Strand& operator=(const Strand&) = delete;

    // Cancelled for good, or inside a timeout that has passed: every wait throws at once.
    bool cancelled() const {
        if (cancelled_) return true;
        for (const Deadline* d = deadlines; d; d = d->outer)
            if (d->passed) return true;
        return false;
    }
    bool cancelled_for_good() const { return cancelled_; }
    void cancel() {
        cancelled_ = true;
        interrupt();
    }
    // Tells the current wait, if any, that the strand was cancelled or a deadline passed.
    void interrupt() {
        if (waiter) waiter->cancel();
    }

    Loop& loop;
    Waiter* waiter = nullptr;       // what it is suspended on, set by the awaitables
    Deadline* deadlines = nullptr;  // the innermost timeout it is in

private:
    bool cancelled_ = false;
};

inline bool Waiter::start_waiting(Strand& strand_, std::coroutine_handle<> awaiting) {
    strand = &strand_;
    if (strand_.cancelled()) {
        cancelled = true;
        return false;
    }
    handle = awaiting;
    strand_.waiter = this;
    return true;
}

inline void Waiter::end_waiting() {
    if (strand && strand->waiter == this) strand->waiter = nullptr;
    if (cancelled) throw Cancelled();
}

// What every promise of ours holds: its frame's allocator, where to go when it ends, the
// exception it ended with, and its strand (given by whoever awaits or spawns it).
class PromiseBase {
public:
    static void* operator new(std::size_t bytes) { return frames::allocate(bytes); }
    static void operator delete(void* frame, std::size_t bytes) noexcept {
        frames::release(frame, bytes);
    }

    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        // Symmetric transfer to the awaiting coroutine if it is suspended on this one; if it
        // is not (the task finished inside its await_suspend), back to that call.
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            PromiseBase& promise = self.promise();
            if (promise.awaiter_suspended && promise.continuation) return promise.continuation;
            return std::noop_coroutine();
        }
        void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }

    Strand* strand = nullptr;
    std::coroutine_handle<> continuation;
    bool awaiter_suspended = false;
    std::exception_ptr error;
};

template <class T>
struct TaskResult {
    template <class U>
    void return_value(U&& value) {
        result.emplace(std::forward<U>(value));
    }
    std::optional<T> result;
};
template <>
struct TaskResult<void> {
    void return_void() {}
};

template <class T = void>
class [[nodiscard]] Task {
public:
    struct promise_type : PromiseBase, TaskResult<T> {
        Task get_return_object() {
            return Task(std::coroutine_handle<promise_type>::from_promise(*this));
        }
    };
    using Handle = std::coroutine_handle<promise_type>;

    Task(Task&& other) noexcept : frame_(std::exchange(other.frame_, {})) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            if (frame_) frame_.destroy();
            frame_ = std::exchange(other.frame_, {});
        }
        return *this;
    }
    ~Task() {
        if (frame_) frame_.destroy();
    }

    struct Awaiter {
        Handle frame;
        bool await_ready() noexcept { return false; }
        // Starts it here and, if it finished without waiting, carries on without suspending
        // at all: a loop of awaits that finish at once runs flat, whether or not the compiler
        // turns the transfer below into a tail call (it does not under AddressSanitizer).
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> awaiting) {
            promise_type& promise = frame.promise();
            promise.strand = awaiting.promise().strand;
            promise.continuation = awaiting;
            frame.resume();
            if (frame.done()) return false;
            promise.awaiter_suspended = true;  // its end, later, resumes the awaiting coroutine
            return true;
        }
        T await_resume() {
            promise_type& promise = frame.promise();
            if (promise.error) std::rethrow_exception(promise.error);
            if constexpr (!std::is_void_v<T>) return std::move(*promise.result);
        }
    };
    // Runs it and waits for its result: `co_await std::move(task)` or `co_await f()`.
    Awaiter operator co_await() && noexcept { return {frame_}; }

private:
    explicit Task(Handle frame) : frame_(frame) {}
    Handle frame_;
};

// The strand of the coroutine that awaits this (never suspends): `co_await this_strand()`.
struct this_strand {
    Strand* strand = nullptr;
    bool await_ready() noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> awaiting) noexcept {
        strand = awaiting.promise().strand;
        return false;
    }
    Strand& await_resume() noexcept { return *strand; }
};

}  // namespace rosetta::coro
