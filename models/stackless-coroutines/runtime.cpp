#include "models/stackless-coroutines/runtime.hpp"

#include <array>
#include <new>
#include <stdexcept>

namespace rosetta::coro {

// ---- Frames ---------------------------------------------------------------------------------

namespace frames {
namespace {

constexpr std::size_t granule = 64;
constexpr std::size_t largest_pooled = 4096;  // bigger frames go straight to operator new

struct Pool {
    std::array<void*, largest_pooled / granule> free{};  // a list per size class
    Counts counts;
    ~Pool() {
        for (void* head : free) {
            while (head) {
                void* next = *static_cast<void**>(head);
                ::operator delete(head);
                head = next;
            }
        }
    }
};
thread_local Pool pool;

}  // namespace

void* allocate(std::size_t bytes) {
    const std::size_t classes = (bytes + granule - 1) / granule;
    void* frame = nullptr;
    if (classes * granule > largest_pooled) {
        frame = ::operator new(bytes);
    } else if (void*& head = pool.free[classes - 1]) {
        frame = head;
        head = *static_cast<void**>(frame);
    } else {
        frame = ::operator new(classes* granule);
    }
    ++pool.counts.alive;
    pool.counts.bytes_alive += bytes;
    pool.counts.last_bytes = bytes;
    return frame;
}

void release(void* frame, std::size_t bytes) noexcept {
    --pool.counts.alive;
    pool.counts.bytes_alive -= bytes;
    const std::size_t classes = (bytes + granule - 1) / granule;
    if (classes * granule > largest_pooled) return ::operator delete(frame);
    void*& head = pool.free[classes - 1];
    *static_cast<void**>(frame) = head;
    head = frame;
}

Counts counts() { return pool.counts; }

}  // namespace frames

// ---- Waiters and queues ---------------------------------------------------------------------

Waiter::~Waiter() {
    if (queue_) queue_->remove(*this);
    if (strand && strand->waiter == this) strand->waiter = nullptr;
}

void Waiter::wake() { strand->loop.wake(*this); }

WaitQueue::~WaitQueue() {
    while (pop_front()) {
    }
}

void WaitQueue::push_back(Waiter& waiter) {
    waiter.queue_ = this;
    waiter.prev_ = tail_;
    waiter.next_ = nullptr;
    (tail_ ? tail_->next_ : head_) = &waiter;
    tail_ = &waiter;
}

void WaitQueue::remove(Waiter& waiter) {
    if (waiter.queue_ != this) return;
    (waiter.prev_ ? waiter.prev_->next_ : head_) = waiter.next_;
    (waiter.next_ ? waiter.next_->prev_ : tail_) = waiter.prev_;
    waiter.queue_ = nullptr;
    waiter.prev_ = waiter.next_ = nullptr;
}

Waiter* WaitQueue::pop_front() {
    Waiter* waiter = head_;
    if (waiter) remove(*waiter);
    return waiter;
}

// ---- Loop -----------------------------------------------------------------------------------

void Loop::wake(Waiter& waiter) {
    if (waiter.queue_ == &ready_) return;
    waiter.pass_ = pass_;
    ready_.push_back(waiter);
    if (!draining_scheduled_) {
        draining_scheduled_ = true;
        reactor_.call_soon([this] { run_ready(); });  // captures one pointer: no allocation
    }
}

// Resumes the waiters woken before this pass began, in order; those woken while it runs wait
// for the next iteration, so a chain of wakes cannot keep the loop from epoll_wait.
void Loop::run_ready() {
    draining_scheduled_ = false;
    const std::uint64_t pass = ++pass_;
    while (Waiter* waiter = ready_.front()) {
        if (waiter->pass_ >= pass) break;
        ready_.pop_front();
        waiter->handle.resume();
    }
    if (!ready_.empty() && !draining_scheduled_) {
        draining_scheduled_ = true;
        reactor_.call_soon([this] { run_ready(); });
    }
}

void Loop::run_until_stopped(TaskGroup& root) {
    if (root.size() == 0) return;  // it ended without ever waiting
    reactor_.run();
    if (root.size() != 0)
        throw std::logic_error("the loop has nothing left to wait for, but its task has not ended");
}

// ---- Sockets --------------------------------------------------------------------------------

IoWait::~IoWait() {
    if (socket_.waiter_ == this) socket_.waiter_ = nullptr;
}

bool IoWait::suspend(Strand& strand, std::coroutine_handle<> awaiting) {
    if (!start_waiting(strand, awaiting)) return false;
    socket_.want(events_);
    socket_.waiter_ = this;
    return true;
}

void IoWait::cancel() {
    if (cancelled) return;
    cancelled = true;
    if (socket_.waiter_ == this) socket_.waiter_ = nullptr;
    wake();
}

Socket::~Socket() { unwatch(); }

void Socket::want(std::uint32_t events) {
    if (watching_ == 0) {
        loop_.reactor().watch(fd_.get(), events, this);
    } else if (watching_ != events) {
        loop_.reactor().modify(fd_.get(), events, this);
    }
    watching_ = events;
}

void Socket::unwatch() {
    if (watching_ != 0) loop_.reactor().unwatch(fd_.get(), this);
    watching_ = 0;
}

void Socket::on_events(std::uint32_t) {
    if (IoWait* waiter = std::exchange(waiter_, nullptr)) {
        waiter->handle.resume();  // it may destroy this socket: nothing after
    } else {
        unwatch();  // nobody waits (a parked connection the peer closed): level-triggered
                    // epoll would say so again every iteration
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

// ---- TaskGroup ------------------------------------------------------------------------------

struct TaskGroup::ChildPromise : PromiseBase {
    // A coroutine's promise is constructed from the coroutine's arguments: run_child's.
    ChildPromise(TaskGroup& group_, Task<void>&) : own(group_.loop_), group(&group_) {
        strand = &own;
    }
    Child get_return_object();
    void return_void() {}
    // The child's end: the group hears of it, then the frame goes. Nothing resumes the frame
    // after this, so it destroys itself.
    struct End {
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<ChildPromise> self) noexcept {
            self.promise().group->ended(self.promise());
            self.destroy();
        }
        void await_resume() noexcept {}
    };
    End final_suspend() noexcept { return {}; }

    Strand own;
    TaskGroup* group;
    ChildPromise* prev = nullptr;
    ChildPromise* next = nullptr;
};

struct TaskGroup::Child {
    using promise_type = ChildPromise;
    std::coroutine_handle<ChildPromise> frame;
};

TaskGroup::Child TaskGroup::ChildPromise::get_return_object() {
    return {std::coroutine_handle<ChildPromise>::from_promise(*this)};
}

TaskGroup::Child TaskGroup::run_child(TaskGroup&, Task<void> task) { co_await std::move(task); }

TaskGroup::~TaskGroup() {
    while (ChildPromise* child = first_) {
        first_ = child->next;
        if (first_) first_->prev = nullptr;
        --size_;
        std::coroutine_handle<ChildPromise>::from_promise(*child).destroy();
    }
}

void TaskGroup::spawn(Task<void> task) {
    Child child = run_child(*this, std::move(task));
    ChildPromise& promise = child.frame.promise();
    promise.next = first_;
    if (first_) first_->prev = &promise;
    first_ = &promise;
    ++size_;
    child.frame.resume();  // until its first wait; if it ends already, ended() unlinked it
}

void TaskGroup::cancel() {
    for (ChildPromise* child = first_; child; child = child->next) child->own.cancel();
}

void TaskGroup::ended(ChildPromise& child) {
    (child.prev ? child.prev->next : first_) = child.next;
    if (child.next) child.next->prev = child.prev;
    --size_;
    if (child.error) {
        bool cancelled_by_us = false;
        if (child.own.cancelled_for_good()) {
            try {
                std::rethrow_exception(child.error);
            } catch (const Cancelled&) {
                cancelled_by_us = true;
            } catch (...) {
            }
        }
        if (!cancelled_by_us && !error_) {
            error_ = child.error;
            cancel();
        }
    }
    if (size_ == 0 && joiner_) joiner_->wake();
}

TaskGroup::Join::~Join() {
    if (group_.joiner_ == this) group_.joiner_ = nullptr;
}

bool TaskGroup::Join::suspend(Strand& strand_, std::coroutine_handle<> awaiting) {
    // Suspends even when cancelled already: the children are cancelled and waited for first.
    handle = awaiting;
    strand = &strand_;
    strand_.waiter = this;
    group_.joiner_ = this;
    if (strand_.cancelled()) cancel();
    return true;
}

void TaskGroup::Join::cancel() {
    cancelled = true;
    group_.cancel();  // it is woken when the last of them has ended
}

void TaskGroup::Join::await_resume() {
    if (group_.joiner_ == this) group_.joiner_ = nullptr;
    if (group_.error_) {
        if (strand && strand->waiter == this) strand->waiter = nullptr;
        std::rethrow_exception(group_.error_);
    }
    end_waiting();
}

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
