// CPU work off the loop: asyncio's run_in_executor, on a TBB arena.
//
//     Loop loop;
//     Executor executor(2);   // after the loop: destroyed first, it waits for its jobs
//     ... co_await executor.run([&] { return extract_links(page, url); }) ...
//
// The loop has one thread; a coroutine that computes for a millisecond stalls every other
// strand for that millisecond. executor.run(fn) hands fn to a worker of the arena and
// suspends the strand; the worker posts the result back through the reactor's post() (the
// one lock of the reactor, once per job), and the loop resumes the strand with it, or with
// fn's exception. A round trip costs an enqueue, a wakeup of a worker, an eventfd write and
// a wakeup of the loop: it pays only for work longer than that, on a core the loop is not
// using (bench/micro/coroutine_bench.cpp measures both).
//
// Cancelling the strand does not stop fn (a thread cannot be interrupted safely): the strand
// resumes at once with Cancelled, fn runs to its end, and its result is dropped. fn must not
// reference the awaiting coroutine's locals for that reason; capture by value what it needs,
// or keep the locals alive past the await, as the TaskGroup does for its children.
#pragma once

#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <memory>
#include <optional>
#include <type_traits>

#include "models/stackless-coroutines/runtime.hpp"

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace rosetta::coro {

// ThreadSanitizer cannot see TBB hand a task to a worker: that happens inside libtbb, which is
// not instrumented, so it would report everything the job reads (its captures, the state the
// loop made for it) as written by one thread and read by another without synchronisation.
// The hand-over is told to it here: released where TBB has made its copy of the job, acquired
// where the worker starts it. Without ThreadSanitizer this is nothing.
template <class Job>
class HandedOver {
public:
    explicit HandedOver(Job job) : job_(std::move(job)) {}
    HandedOver(const HandedOver& other) : job_(other.job_) { release(); }
    HandedOver(HandedOver&& other) noexcept : job_(std::move(other.job_)) { release(); }
    void operator()() const {
#if defined(__SANITIZE_THREAD__)
        __tsan_acquire(const_cast<HandedOver*>(this));
#endif
        job_();
    }

private:
    void release() {
#if defined(__SANITIZE_THREAD__)
        __tsan_release(this);
#endif
    }
    Job job_;
};

class Executor {
public:
    // threads workers, and one slot kept for the loop's thread, so that handing a job over
    // never waits for a worker to be free (TBB's own limit, cores - 1 workers by default, may
    // give fewer).
    explicit Executor(int threads) : arena_(threads + 1, 1) {}
    // Waits for the jobs still running: none outlives the executor, nor posts to a dead loop.
    ~Executor() {
        arena_.execute([this] { jobs_.wait(); });
    }
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    template <class F>
    class Run;
    // co_await executor.run(fn): fn() on a worker; its result here.
    template <class F>
    Run<F> run(F fn) {
        return Run<F>(*this, std::move(fn));
    }

private:
    // Spawned from the loop's slot, taken by a worker; the loop returns at once. (TBB's
    // task_arena::enqueue would do too, but its hand-over happens inside libtbb, where
    // ThreadSanitizer cannot see it.)
    template <class Job>
    void enqueue(Job job) {
        arena_.execute([&] { jobs_.run(HandedOver<Job>(std::move(job))); });
    }

    tbb::task_arena arena_;
    tbb::task_group jobs_;
};

template <class F>
class Executor::Run final : public Awaitable<Run<F>> {
public:
    using Result = std::invoke_result_t<F&>;

    Run(Executor& executor, F fn)
        : executor_(executor), job_(std::make_shared<Job>(std::move(fn))) {}
    ~Run() { job_->waiter = nullptr; }
    bool await_ready() noexcept { return false; }
    Result await_resume() {
        this->end_waiting();
        if (job_->error) std::rethrow_exception(job_->error);
        if constexpr (!std::is_void_v<Result>) return std::move(*job_->value);
    }
    void cancel() override {
        if (this->cancelled) return;
        this->cancelled = true;
        job_->waiter = nullptr;  // the answer, when it comes, finds nobody
        this->wake();
    }

private:
    friend Awaitable<Run<F>>;
    bool suspend(Strand& strand_, std::coroutine_handle<> awaiting) {
        if (!this->start_waiting(strand_, awaiting)) return false;
        submit();
        return true;
    }

    // Shared by the awaiting strand and the worker, so that either may be gone first.
    struct Job {
        explicit Job(F fn_) : fn(std::move(fn_)) {}
        F fn;
        std::optional<std::conditional_t<std::is_void_v<Result>, bool, Result>> value;
        std::exception_ptr error;
        Run* waiter = nullptr;  // on the loop's thread only
    };

    void submit() {
        reactor::Reactor& reactor = this->strand->loop.reactor();
        job_->waiter = this;
        reactor.hold();  // the loop waits for the answer even with nothing else to wait for
        std::shared_ptr<Job> job = job_;
        executor_.enqueue([job, &reactor] {
            try {
                if constexpr (std::is_void_v<Result>) {
                    job->fn();
                    job->value.emplace(true);
                } else {
                    job->value.emplace(job->fn());
                }
            } catch (...) {
                job->error = std::current_exception();
            }
            // post()'s lock orders the writes above before the loop's reads.
            reactor.post([job, &reactor] {
                reactor.release();
                if (Run* waiter = job->waiter) {
                    job->waiter = nullptr;
                    waiter->handle.resume();
                }
            });
        });
    }

    Executor& executor_;
    std::shared_ptr<Job> job_;
};

}  // namespace rosetta::coro
