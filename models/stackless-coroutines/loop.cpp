#include "models/stackless-coroutines/loop.hpp"

#include <stdexcept>

namespace rosetta::coro {

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

}  // namespace rosetta::coro
