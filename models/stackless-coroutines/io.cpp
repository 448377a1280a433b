#include "models/stackless-coroutines/io.hpp"

namespace rosetta::coro {

// ---- Sockets --------------------------------------------------------------------------------

IoWait::~IoWait() {
    if (socket_.waiter_ == this) socket_.waiter_ = nullptr;
}

bool IoWait::suspend(Strand& strand, std::coroutine_handle<> awaiting) {
    if (!start_waiting(strand, awaiting)) return false;
    socket_.interest_.want(socket_.loop_.reactor(), socket_.fd_.get(), events_, &socket_);
    socket_.waiter_ = this;
    return true;
}

void IoWait::cancel() {
    if (cancelled) return;
    cancelled = true;
    if (socket_.waiter_ == this) socket_.waiter_ = nullptr;
    wake();
}

Socket::~Socket() { interest_.drop(loop_.reactor(), fd_.get(), this); }

void Socket::on_events(std::uint32_t) {
    if (IoWait* waiter = std::exchange(waiter_, nullptr)) {
        waiter->handle.resume();  // it may destroy this socket: nothing after
    } else {
        // Nobody waits (a parked connection the peer closed): level-triggered epoll would say
        // so again every iteration.
        interest_.drop(loop_.reactor(), fd_.get(), this);
    }
}

// ---- Time -----------------------------------------------------------------------------------

bool Sleep::suspend(Strand& strand_, std::coroutine_handle<> awaiting) {
    if (!start_waiting(strand_, awaiting)) return false;
    reactor::Reactor& reactor = strand_.loop.reactor();
    reactor.arm(timer_, relative_ ? reactor.now() + ns_ : ns_);
    return true;
}

void Sleep::cancel() {
    if (cancelled) return;
    cancelled = true;
    strand->loop.reactor().disarm(timer_);
    wake();
}

DeadlineScope::DeadlineScope(Strand& strand, std::int64_t when_ns)
    : strand_(strand), timer_([this] {
          deadline_.passed = true;
          strand_.interrupt();
      }) {
    deadline_.outer = strand.deadlines;
    strand.deadlines = &deadline_;
    if (when_ns <= strand.loop.now()) {
        deadline_.passed = true;
    } else {
        strand.loop.reactor().arm(timer_, when_ns);
    }
}

DeadlineScope::~DeadlineScope() { strand_.deadlines = deadline_.outer; }

bool DeadlineScope::passed_alone() const {
    if (!deadline_.passed || strand_.cancelled_for_good()) return false;
    for (const Deadline* d = deadline_.outer; d; d = d->outer)
        if (d->passed) return false;
    return true;
}

Task<bool> timeout_at(std::int64_t when_ns, Task<void> task) {
    DeadlineScope scope(co_await this_strand(), when_ns);
    try {
        co_await std::move(task);
        co_return true;
    } catch (const Cancelled&) {
        if (!scope.passed_alone()) throw;
    }
    co_return false;
}

}  // namespace rosetta::coro
