#include "models/stackless-coroutines/task.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>

#include "models/stackless-coroutines/loop.hpp"

namespace rosetta::coro {

// ---- Frames ---------------------------------------------------------------------------------

namespace frames {
namespace {

constexpr std::size_t granule = 16;           // malloc's own alignment: no frame is misaligned
constexpr std::size_t largest_pooled = 4096;  // bigger frames go straight to operator new
constexpr std::size_t slab_bytes = 64 * 1024;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool carve_from_slabs = false;  // one allocation a frame, so ASan sees an overflow
#else
constexpr bool carve_from_slabs = true;
#endif

struct Pool {
    std::array<void*, largest_pooled / granule> free{};  // a list per size class
    std::vector<std::unique_ptr<std::byte[]>> slabs;     // where new frames are cut from
    std::size_t slab_left = 0;
    Counts counts;

    void* fresh(std::size_t bytes) {
        if (!carve_from_slabs) return ::operator new(bytes);
        if (slab_left < bytes) {
            slabs.push_back(std::make_unique_for_overwrite<std::byte[]>(slab_bytes));
            slab_left = slab_bytes;
        }
        slab_left -= bytes;
        return slabs.back().get() + slab_left;
    }
    ~Pool() {
        if (carve_from_slabs) return;  // the slabs go with the vector
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
        frame = pool.fresh(classes * granule);
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
