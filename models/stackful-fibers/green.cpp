#include "models/stackful-fibers/green.hpp"

namespace rosetta::fibers {

Socket::~Socket() { unwatch(); }

bool Socket::wait(std::uint32_t events, std::int64_t deadline_ns) {
    want(events);
    waiter_ = hub_.current();
    bool ready = false;
    try {
        ready = hub_.park_until(deadline_ns);
    } catch (...) {
        waiter_ = nullptr;
        throw;
    }
    waiter_ = nullptr;
    return ready;
}

void Socket::on_events(std::uint32_t) {
    if (Fiber* waiter = waiter_) {
        hub_.switch_to(*waiter);  // it may close this socket: nothing after
    } else {
        unwatch();  // nobody waits (a parked connection the peer closed)
    }
}

void Socket::want(std::uint32_t events) {
    if (watching_ == 0) {
        hub_.reactor().watch(fd_.get(), events, this);
    } else if (watching_ != events) {
        hub_.reactor().modify(fd_.get(), events, this);
    }
    watching_ = events;
}

void Socket::unwatch() {
    if (watching_ != 0) hub_.reactor().unwatch(fd_.get(), this);
    watching_ = 0;
}

}  // namespace rosetta::fibers
