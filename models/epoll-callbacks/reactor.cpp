#include "models/epoll-callbacks/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <iterator>
#include <system_error>

#include "scenarios/records.hpp"

namespace rosetta::reactor {

namespace {

// Events fetched per epoll_wait: more ready descriptors wait for the next iteration.
constexpr std::size_t max_events = 1024;
constexpr std::int64_t ns_per_ms = 1'000'000;
// Due timers fired in one iteration at most; the rest stay due, and the next epoll_wait does
// not wait. A hub that starts 10,000 fibers arms 10,000 timers for "now": without a bound the
// sockets connected meanwhile would be read only after the last fiber had started (gevent's
// loop likewise breaks off its callbacks to poll).
constexpr int timers_per_iteration = 64;

void check(bool ok, const char* what) {
    if (!ok) throw std::system_error(errno, std::system_category(), what);
}

}  // namespace

Timer::~Timer() {
    if (reactor_) reactor_->disarm(*this);
}

Reactor::Reactor()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      events_(max_events),
      wakeup_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    check(bool(epoll_), "epoll_create1");
    check(bool(wakeup_fd_), "eventfd");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<IoHandler*>(&wakeup_);
    check(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wakeup_fd_.get(), &ev) == 0, "epoll_ctl ADD");
    now_ns_ = monotonic_ns();
}

Reactor::~Reactor() {
    while (!heap_.empty()) disarm(*heap_.back());
}

void Reactor::watch(int fd, std::uint32_t events, IoHandler* handler) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    check(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD");
    ++watched_;
}

void Reactor::modify(int fd, std::uint32_t events, IoHandler* handler) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    check(::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) == 0, "epoll_ctl MOD");
}

void Reactor::unwatch(int fd, IoHandler* handler) {
    // Explicitly: close() alone leaves it registered while a forked child holds a copy.
    check(::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr) == 0, "epoll_ctl DEL");
    --watched_;
    for (int i = handling_ + 1; i < fetched_; ++i)
        if (events_[static_cast<std::size_t>(i)].data.ptr == handler)
            events_[static_cast<std::size_t>(i)].data.ptr = nullptr;
}

bool Reactor::earlier(const Timer* a, const Timer* b) const {
    return a->when_ns_ != b->when_ns_ ? a->when_ns_ < b->when_ns_ : a->sequence_ < b->sequence_;
}

void Reactor::place(std::size_t i, Timer* timer) {
    heap_[i] = timer;
    timer->index_ = i;
}

void Reactor::sift_up(std::size_t i) {
    Timer* timer = heap_[i];
    while (i > 0) {
        std::size_t parent = (i - 1) / 2;
        if (!earlier(timer, heap_[parent])) break;
        place(i, heap_[parent]);
        i = parent;
    }
    place(i, timer);
}

void Reactor::sift_down(std::size_t i) {
    Timer* timer = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && earlier(heap_[child + 1], heap_[child])) ++child;
        if (!earlier(heap_[child], timer)) break;
        place(i, heap_[child]);
        i = child;
    }
    place(i, timer);
}

void Reactor::arm(Timer& timer, std::int64_t when_ns) {
    timer.when_ns_ = when_ns;
    timer.sequence_ = next_sequence_++;
    if (timer.reactor_ == this) {
        // Moved where it stands: one sift, where disarm and push would take two. A request's
        // deadline moves so for every attempt, to a time later than all others.
        sift_up(timer.index_);
        sift_down(timer.index_);
        return;
    }
    if (timer.reactor_) timer.reactor_->disarm(timer);
    timer.reactor_ = this;
    heap_.push_back(&timer);
    timer.index_ = heap_.size() - 1;
    sift_up(timer.index_);
}

void Reactor::disarm(Timer& timer) {
    if (timer.reactor_ != this) return;
    std::size_t i = timer.index_;
    Timer* last = heap_.back();
    heap_.pop_back();
    timer.reactor_ = nullptr;
    if (last == &timer) return;
    place(i, last);
    // The moved one may belong above or below where the removed one was.
    sift_up(i);
    sift_down(last->index_);
}

Reactor::Handle Reactor::call_later(std::int64_t delay_ns, std::function<void()> callback) {
    auto timer = std::make_shared<Timer>(std::move(callback));
    later_.emplace(timer.get(), timer);
    arm(*timer, now_ns_ + delay_ns);
    return timer;
}

void Reactor::cancel(const Handle& handle) {
    if (!handle) return;
    disarm(*handle);
    later_.erase(handle.get());
}

void Reactor::call_soon(std::function<void()> callback) { soon_.push_back(std::move(callback)); }

void Reactor::post(std::function<void()> callback) {
    bool first;
    {
        std::lock_guard lock(posted_mutex_);
        first = posted_.empty();
        posted_.push_back(std::move(callback));
    }
    // Only the first of a batch writes: the reactor takes the whole batch at once. A wakeup
    // finding the batch already taken is harmless; one missed is impossible, because the
    // reactor reads the eventfd before it takes the batch.
    if (first) {
        const std::uint64_t one = 1;
        check(::write(wakeup_fd_.get(), &one, sizeof one) == sizeof one, "eventfd write");
    }
}

void Reactor::Wakeup::on_events(std::uint32_t) {
    std::uint64_t count;
    (void)!::read(reactor_.wakeup_fd_.get(), &count, sizeof count);  // EAGAIN: already read
    std::lock_guard lock(reactor_.posted_mutex_);
    for (auto& callback : reactor_.posted_) reactor_.soon_.push_back(std::move(callback));
    reactor_.posted_.clear();
}

int Reactor::timeout_ms() const {
    if (!soon_.empty()) return 0;
    if (heap_.empty()) return -1;
    std::int64_t left = heap_.front()->when_ns_ - monotonic_ns();
    if (left <= 0) return 0;
    // Rounded up: epoll_wait counts whole milliseconds, and waking early would only spin.
    std::int64_t ms = (left + ns_per_ms - 1) / ns_per_ms;
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// Fires the timers due now that were armed before this pass began. One armed by a callback here
// (a sleep of 0, a timer re-armed for now) waits for the next iteration, after an epoll_wait, so
// a coroutine that sleeps 0 to give the loop a turn does give it one. Ties in the heap go by
// arming order, so every timer before the first new one is an old one. At most
// timers_per_iteration a pass.
void Reactor::fire_timers() {
    const std::uint64_t armed_before = next_sequence_;
    for (int fired = 0;
         fired < timers_per_iteration && !heap_.empty() && heap_.front()->when_ns_ <= now_ns_ &&
         heap_.front()->sequence_ < armed_before;
         ++fired) {
        Timer* timer = heap_.front();
        disarm(*timer);
        Handle keep;  // a call_later timer lives until its callback has returned
        if (auto it = later_.find(timer); it != later_.end()) {
            keep = std::move(it->second);
            later_.erase(it);
        }
        timer->on_time_();
    }
}

// epoll_wait no longer than the earliest timer, then the ready descriptors' handlers.
void Reactor::poll_descriptors() {
    int n =
        ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms());
    if (n < 0) {
        check(errno == EINTR, "epoll_wait");
        n = 0;
    }
    now_ns_ = monotonic_ns();
    fetched_ = n;
    for (handling_ = 0; handling_ < fetched_; ++handling_) {
        const epoll_event& ev = events_[static_cast<std::size_t>(handling_)];
        if (auto* handler = static_cast<IoHandler*>(ev.data.ptr)) handler->on_events(ev.events);
    }
    fetched_ = handling_ = 0;
}

void Reactor::run_once() {
    if (sleeper_) {
        sleeper_->sleep(timeout_ms());
        now_ns_ = monotonic_ns();
        sleeper_->dispatch();
    } else {
        poll_descriptors();
    }
    fire_timers();
    running_soon_.swap(soon_);
    for (std::size_t i = 0; i < running_soon_.size(); ++i) {
        try {
            running_soon_[i]();
        } catch (...) {
            // The ones after it still run, on the next iteration, in their order.
            soon_.insert(soon_.begin(), std::make_move_iterator(running_soon_.begin() + i + 1),
                         std::make_move_iterator(running_soon_.end()));
            running_soon_.clear();
            throw;
        }
    }
    running_soon_.clear();
}

void Reactor::run() {
    stopping_ = false;
    while (!stopping_ && (watched_ > 0 || !heap_.empty() || !soon_.empty() || holds_ > 0)) {
        try {
            run_once();
        } catch (...) {
            // Events not handled yet are reported again (level-triggered); due timers fire on
            // the next iteration.
            fetched_ = handling_ = 0;
            throw;
        }
    }
}

}  // namespace rosetta::reactor
