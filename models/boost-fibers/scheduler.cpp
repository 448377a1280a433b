#include "models/boost-fibers/scheduler.hpp"

#include <boost/fiber/operations.hpp>
#include <utility>

namespace rosetta::boost_fibers {

namespace {
thread_local EpollScheduler* installed = nullptr;
}  // namespace

EpollScheduler::EpollScheduler() { installed = this; }

EpollScheduler::~EpollScheduler() {
    if (installed == this) installed = nullptr;
}

reactor::Reactor& EpollScheduler::reactor() { return installed->reactor_; }

void EpollScheduler::install() {
    if (!installed) boost::fibers::use_scheduling_algorithm<EpollScheduler>();
}

void EpollScheduler::awakened(boost::fibers::context* ready) noexcept { ready->ready_link(ready_); }

boost::fibers::context* EpollScheduler::pick_next() noexcept {
    if (++picks_ % 64 == 0) {
        reactor_.call_soon([] {});  // nothing to run, but epoll_wait must not wait
        reactor_.run_once();
    }
    if (ready_.empty()) return nullptr;
    boost::fibers::context* next = &ready_.front();
    ready_.pop_front();
    return next;
}

bool EpollScheduler::has_ready_fibers() const noexcept { return !ready_.empty(); }

void EpollScheduler::suspend_until(std::chrono::steady_clock::time_point const& until) noexcept {
    if (until != std::chrono::steady_clock::time_point::max()) {
        // steady_clock is CLOCK_MONOTONIC on Linux: the reactor's clock.
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch());
        reactor_.arm(until_, ns.count());
    }
    // Handlers only make fibers ready; what else could throw here is the reactor failing, for
    // which a noexcept function has no better answer than terminate.
    reactor_.run_once();
    reactor_.disarm(until_);
}

void EpollScheduler::notify() noexcept {
    reactor_.post([] {});  // its eventfd ends the epoll_wait
}

// ---- Socket ---------------------------------------------------------------------------------

Socket::~Socket() { unwatch(); }

bool Socket::wait(std::uint32_t events, std::int64_t deadline_ns) {
    want(events);
    waiter_ = boost::fibers::context::active();
    timed_out_ = false;
    EpollScheduler::reactor().arm(deadline_, deadline_ns);
    waiter_->suspend();  // until resume_waiter schedules it
    return !timed_out_;
}

void Socket::resume_waiter(bool timed_out) {
    boost::fibers::context* waiter = std::exchange(waiter_, nullptr);
    if (!waiter) return;
    timed_out_ = timed_out;
    EpollScheduler::reactor().disarm(deadline_);
    boost::fibers::context::active()->schedule(waiter);
}

void Socket::on_events(std::uint32_t) {
    if (waiter_) {
        resume_waiter(false);
    } else {
        unwatch();  // nobody waits (a parked connection the peer closed): level-triggered
    }
}

void Socket::want(std::uint32_t events) {
    reactor::Reactor& reactor = EpollScheduler::reactor();
    if (watching_ == 0) {
        reactor.watch(fd_.get(), events, this);
    } else if (watching_ != events) {
        reactor.modify(fd_.get(), events, this);
    }
    watching_ = events;
}

void Socket::unwatch() {
    if (watching_ != 0) EpollScheduler::reactor().unwatch(fd_.get(), this);
    watching_ = 0;
}

}  // namespace rosetta::boost_fibers
