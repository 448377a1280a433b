// The waits on other strands: a fair Semaphore and its Permit, an Event, gather. See loop.hpp
// for the loop they resume from.
#pragma once

#include <optional>
#include <vector>

#include "models/stackless-coroutines/loop.hpp"

namespace rosetta::coro {

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

}  // namespace rosetta::coro
