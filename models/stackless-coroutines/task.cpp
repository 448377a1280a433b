#include "models/stackless-coroutines/task.hpp"

#include <array>
#include <new>

#include "models/stackless-coroutines/loop.hpp"

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

}  // namespace rosetta::coro
