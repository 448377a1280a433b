#include "models/stackful-fibers/green.hpp"

namespace rosetta::fibers {

Socket::~Socket() { interest_.drop(hub_.reactor(), fd_.get(), this); }

bool Socket::wait(std::uint32_t events, std::int64_t deadline_ns) {
    interest_.want(hub_.reactor(), fd_.get(), events, this);
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
        interest_.drop(hub_.reactor(), fd_.get(), this);  // nobody waits (the peer closed)
    }
}

}  // namespace rosetta::fibers
