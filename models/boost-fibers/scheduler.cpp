#include "models/boost-fibers/scheduler.hpp"

#include <boost/fiber/operations.hpp>
#include <future>
#include <latch>
#include <thread>
#include <utility>
#include <vector>

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

Socket::~Socket() { interest_.drop(EpollScheduler::reactor(), fd_.get(), this); }

bool Socket::wait(std::uint32_t events, std::int64_t deadline_ns) {
    interest_.want(EpollScheduler::reactor(), fd_.get(), events, this);
    waiter_ = boost::fibers::context::active();
    scheduled_ = timed_out_ = false;
    EpollScheduler::reactor().arm(deadline_, deadline_ns);
    waiter_->suspend();  // until resume_waiter schedules it
    waiter_ = nullptr;   // running again
    return !timed_out_;
}

void Socket::resume_waiter(bool timed_out) {
    if (!waiter_ || scheduled_) return;
    scheduled_ = true;
    timed_out_ = timed_out;
    EpollScheduler::reactor().disarm(deadline_);
    boost::fibers::context::active()->schedule(waiter_);
}

void Socket::on_events(std::uint32_t) {
    if (waiter_) {
        // Scheduled, it may not have run yet: epoll says again what it said (level-triggered)
        // until the fiber reads, and that is no reason to unregister.
        resume_waiter(false);
    } else {
        // Nobody waits (a parked connection the peer closed): level-triggered.
        interest_.drop(EpollScheduler::reactor(), fd_.get(), this);
    }
}

// ---- Threads --------------------------------------------------------------------------------

void run_on_fiber_threads(std::size_t count, const std::function<void(std::size_t)>& lane) {
    std::vector<std::exception_ptr> errors(count);
    std::latch installed(static_cast<std::ptrdiff_t>(count));
    std::promise<bool> go;
    std::shared_future<bool> started = go.get_future().share();
    auto run_one = [&](std::size_t i) {
        try {
            EpollScheduler::install();
        } catch (...) {
            errors[i] = std::current_exception();
        }
        installed.count_down();  // errors[i] is written before: the latch publishes it
        if (!started.get() || errors[i]) return;
        try {
            lane(i);
        } catch (...) {
            errors[i] = std::current_exception();
        }
    };
    std::vector<std::jthread> threads;  // joined when cleared, and on the way out
    try {
        threads.reserve(count);
        for (std::size_t i = 0; i < count; ++i) threads.emplace_back(run_one, i);
    } catch (...) {  // the OS refused a thread: those made return without starting
        go.set_value(false);
        threads.clear();
        throw;
    }
    installed.wait();
    bool all_installed = true;
    for (const std::exception_ptr& error : errors) all_installed = all_installed && !error;
    go.set_value(all_installed);
    threads.clear();
    for (const std::exception_ptr& error : errors)
        if (error) std::rethrow_exception(error);
}

void FirstFailure::set(std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    if (!first_) first_ = std::move(error);
    stopping_.store(true, std::memory_order_relaxed);
}

Failure FirstFailure::failure() const {
    std::lock_guard lock(mutex_);
    return failure_of(first_);
}

}  // namespace rosetta::boost_fibers
