#include "models/stackless-coroutines/sync.hpp"

namespace rosetta::coro {

// ---- Semaphore, Event -----------------------------------------------------------------------

Permit& Permit::operator=(Permit&& other) noexcept {
    if (this != &other) {
        if (semaphore_) semaphore_->release();
        semaphore_ = std::exchange(other.semaphore_, nullptr);
    }
    return *this;
}

Permit::~Permit() {
    if (semaphore_) semaphore_->release();
}

Semaphore::Acquire::~Acquire() {
    if (granted_) semaphore_.release();  // destroyed between the grant and its resumption
}

bool Semaphore::Acquire::await_ready() noexcept {
    if (semaphore_.available_ == 0 || !semaphore_.waiters_.empty()) return false;
    --semaphore_.available_;
    granted_ = true;
    return true;
}

bool Semaphore::Acquire::suspend(Strand& strand_, std::coroutine_handle<> awaiting) {
    if (!start_waiting(strand_, awaiting)) return false;
    semaphore_.waiters_.push_back(*this);
    return true;
}

Permit Semaphore::Acquire::await_resume() {
    end_waiting();
    granted_ = false;
    return Permit(semaphore_);
}

void Semaphore::Acquire::cancel() {
    if (granted_ || cancelled) return;  // holding a permit: it runs, and its next wait throws
    cancelled = true;
    semaphore_.waiters_.remove(*this);
    wake();
}

void Semaphore::release() {
    if (Waiter* first = waiters_.front()) {
        auto& acquire = static_cast<Acquire&>(*first);
        waiters_.remove(acquire);
        acquire.granted_ = true;  // handed over: the count never rises while others wait
        acquire.wake();
    } else {
        ++available_;
    }
}

bool Event::Wait::suspend(Strand& strand_, std::coroutine_handle<> awaiting) {
    if (!start_waiting(strand_, awaiting)) return false;
    event_.waiters_.push_back(*this);
    return true;
}

void Event::Wait::cancel() {
    if (cancelled) return;
    cancelled = true;
    event_.waiters_.remove(*this);
    wake();
}

void Event::set() {
    set_ = true;
    while (Waiter* waiter = waiters_.pop_front()) static_cast<Wait*>(waiter)->wake();
}

}  // namespace rosetta::coro
