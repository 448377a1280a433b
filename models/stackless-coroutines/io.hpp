// The waits on the kernel: a socket readable or writable, a sleep, and a deadline around a
// task (timeout_at). See loop.hpp for the loop they resume from.
#pragma once

#include <optional>
#include <type_traits>

#include "models/stackless-coroutines/loop.hpp"

namespace rosetta::coro {

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
    bool registered() const { return interest_.registered(); }

    void on_events(std::uint32_t events) override;

private:
    friend class IoWait;

    Loop& loop_;
    Fd fd_;
    reactor::Interest interest_;
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

}  // namespace rosetta::coro
