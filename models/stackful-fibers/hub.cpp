#include "models/stackful-fibers/hub.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace rosetta::fibers {

namespace ctx = boost::context;

// ---- Telling the sanitizers that the stack changed ------------------------------------------
// Boost.Context switches stacks behind the compiler's back. AddressSanitizer must know the
// stack it lands on (or it takes a fiber's frames for stray writes), ThreadSanitizer which
// fiber runs (or it sees one thread's accesses on two stacks as a race). Nothing otherwise.
namespace {

// Before leaving `from` for the stack [bottom, bottom + size); from == nullptr: for good.
void leaving(void** from_fake_stack, const void* bottom, std::size_t size, void* tsan_target) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_start_switch_fiber(from_fake_stack, bottom, size);
#else
    (void)from_fake_stack, (void)bottom, (void)size;
#endif
#if defined(__SANITIZE_THREAD__)
    __tsan_switch_to_fiber(tsan_target, 0);
#else
    (void)tsan_target;
#endif
}

// Just after arriving; reports the stack left.
void arrived(void* fake_stack, const void** left_bottom, std::size_t* left_size) {
#if defined(__SANITIZE_ADDRESS__)
    __sanitizer_finish_switch_fiber(fake_stack, left_bottom, left_size);
#else
    (void)fake_stack, (void)left_bottom, (void)left_size;
#endif
}

}  // namespace

// ---- Fiber ----------------------------------------------------------------------------------

Fiber::Fiber(Hub& hub, std::function<void()> body, Pool* pool)
    : hub_(hub), body_(std::move(body)), pool_(pool), timer_([this] { on_timer(); }) {
#if defined(__SANITIZE_THREAD__)
    sanitizer_ = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
#if defined(__SANITIZE_THREAD__)
    if (sanitizer_) __tsan_destroy_fiber(sanitizer_);
#endif
}

void Fiber::kill() {
    if (ended_ || cancelled_) return;
    cancelled_ = true;
    if (parked_) hub_.wake(*this);
}

void Fiber::on_timer() {
    timed_out_ = !woken_;
    hub_.switch_to(*this);
}

// ---- Hub ------------------------------------------------------------------------------------

Hub::Hub(std::size_t stack_bytes) : stacks_(stack_bytes) {
#if defined(__SANITIZE_THREAD__)
    hub_sanitizer_ = __tsan_get_current_fiber();
#endif
}

Hub::~Hub() {
    // A fiber still suspended would be unwound by Boost.Context's forced_unwind from here; run()
    // does not return before every fiber has ended, so this is a bug's last line of defence.
    while (Fiber* fiber = first_) {
        first_ = fiber->next_;
        delete fiber;
    }
}

Fiber& Hub::make(std::function<void()> body, Pool* pool) {
    auto owned = std::unique_ptr<Fiber>(new Fiber(*this, std::move(body), pool));
    Fiber& fiber = *owned;
    ctx::stack_context stack = stacks_.take();
    fiber.stack_bottom_ = static_cast<char*>(stack.sp) - stack.size;
    fiber.stack_size_ = stack.size;
    fiber.context_ =
        ctx::fiber(std::allocator_arg, ctx::preallocated(stack.sp, stack.size, stack),
                   stacks_.allocator(), [this, &fiber](ctx::fiber&& hub) {
                       hub_ = std::move(hub);
                       arrived(nullptr, &hub_stack_bottom_, &hub_stack_size_);
                       try {
                           if (fiber.cancelled_) throw Cancelled();
                           fiber.body_();
                       } catch (const ctx::detail::forced_unwind&) {
                           throw;  // Boost.Context unwinding a fiber destroyed while suspended
                       } catch (const Cancelled&) {
                       } catch (...) {
                           fiber.error_ = std::current_exception();
                       }
                       fiber.ended_ = true;
                       leaving(nullptr, hub_stack_bottom_, hub_stack_size_, hub_sanitizer_);
                       return std::move(hub_);
                   });
    fiber.next_ = first_;
    if (first_) first_->prev_ = &fiber;
    first_ = owned.release();
    ++alive_;
    fiber.parked_ = true;  // not started: the first switch_to starts it
    wake(fiber);
    return fiber;
}

void Hub::switch_to(Fiber& fiber) {
    if (!fiber.parked_ || current_) return;
    fiber.parked_ = false;
    reactor_.disarm(fiber.timer_);
    current_ = &fiber;
    leaving(&hub_fake_stack_, fiber.stack_bottom_, fiber.stack_size_, fiber.sanitizer_);
    fiber.context_ = std::move(fiber.context_).resume();
    arrived(hub_fake_stack_, nullptr, nullptr);
    current_ = nullptr;
    if (fiber.ended_) ended(fiber);
}

void Hub::wake(Fiber& fiber) {
    if (!fiber.parked_) return;
    fiber.woken_ = true;
    reactor_.arm(fiber.timer_, reactor_.now());
}

void Hub::park() {
    Fiber& fiber = *current_;
    fiber.parked_ = true;
    leaving(&fiber.fake_stack_, hub_stack_bottom_, hub_stack_size_, hub_sanitizer_);
    hub_ = std::move(hub_).resume();
    arrived(fiber.fake_stack_, &hub_stack_bottom_, &hub_stack_size_);
}

bool Hub::park_until(std::int64_t deadline_ns) {
    Fiber& fiber = *current_;
    if (fiber.cancelled_) throw Cancelled();
    fiber.woken_ = fiber.timed_out_ = false;
    if (deadline_ns > 0) reactor_.arm(fiber.timer_, deadline_ns);
    park();
    if (fiber.cancelled_) throw Cancelled();
    return !fiber.timed_out_;
}

void Hub::sleep_for(std::int64_t ns) {
    Fiber& fiber = *current_;
    if (fiber.cancelled_) throw Cancelled();
    fiber.woken_ = true;  // not a deadline: the timer is the whole wait
    reactor_.arm(fiber.timer_, reactor_.now() + ns);
    park();
    if (fiber.cancelled_) throw Cancelled();
}

void Hub::ended(Fiber& fiber) {
    (fiber.prev_ ? fiber.prev_->next_ : first_) = fiber.next_;
    if (fiber.next_) fiber.next_->prev_ = fiber.prev_;
    --alive_;
    std::unique_ptr<Fiber> owned(&fiber);
    if (owned->pool_) owned->pool_->ended(*owned);
    if (alive_ == 0 && main_ended_) reactor_.stop();
}

void Hub::run(std::function<void()> body) {
    std::exception_ptr error;
    main_ended_ = false;
    make(
        [&] {
            try {
                body();
            } catch (const ctx::detail::forced_unwind&) {
                throw;
            } catch (...) {
                error = std::current_exception();
            }
            // Fibers spawned outside a pool and still alive end now (gevent's hub would wait
            // for them; a run here is over when its main fiber is).
            for (Fiber* fiber = first_; fiber; fiber = fiber->next_)
                if (fiber != current_) fiber->kill();
            main_ended_ = true;
        },
        nullptr);
    reactor_.run();
    if (alive_ != 0) {
        // Nothing is watched, armed or queued, yet fibers wait: kill them so they unwind (a
        // fiber destroyed while suspended would be unwound by Boost.Context instead, through
        // every catch (...) on its stack), then say so.
        for (Fiber* fiber = first_; fiber; fiber = fiber->next_) fiber->kill();
        main_ended_ = true;
        reactor_.run();
        throw std::logic_error(
            "stackful-fibers: every fiber waits on something nothing will ever bring");
    }
    if (error) std::rethrow_exception(error);
}

// ---- Pool -----------------------------------------------------------------------------------

Pool::Pool(Hub& hub, std::size_t size) : hub_(hub), size_(std::max<std::size_t>(size, 1)) {}

Pool::~Pool() {
    // Not joined (a bug in the owner): the fibers must not outlive the pool they report to.
    for (Fiber* fiber : members_) fiber->pool_ = nullptr;
}

void Pool::spawn(std::function<void()> body) {
    Fiber* self = hub_.current();
    while (running_ >= size_) {
        waiting_.push_back(self);
        try {
            hub_.park_until(0);
        } catch (...) {
            std::erase(waiting_, self);
            throw;
        }
    }
    Fiber& fiber = hub_.make(std::move(body), this);
    fiber.pool_index_ = members_.size();
    members_.push_back(&fiber);
    ++running_;
}

void Pool::join() {
    while (running_ > 0) {
        joiner_ = hub_.current();
        try {
            hub_.park_until(0);
        } catch (const Cancelled&) {
            joiner_ = nullptr;
            kill();
            while (running_ > 0) {  // the owner was killed: its fibers end first
                joiner_ = hub_.current();
                hub_.park();
            }
            joiner_ = nullptr;
            throw;
        }
        joiner_ = nullptr;
    }
    if (error_) std::rethrow_exception(error_);
}

void Pool::kill() {
    for (Fiber* fiber : members_) fiber->kill();
}

void Pool::ended(Fiber& fiber) {
    Fiber* last = members_.back();
    members_[fiber.pool_index_] = last;
    last->pool_index_ = fiber.pool_index_;
    members_.pop_back();
    --running_;
    if (fiber.error_ && !error_) {
        error_ = fiber.error_;
        kill();
    }
    if (!waiting_.empty()) {
        Fiber* next = waiting_.front();
        waiting_.pop_front();
        hub_.wake(*next);
    }
    if (running_ == 0 && joiner_) hub_.wake(*joiner_);
}

}  // namespace rosetta::fibers
