// thread-per-task's mechanism: one OS thread per task, at most C alive, each joined soon after
// it ends; and a pool of idle kept-alive connections the threads hand on to one another.
//
//     Threads threads(C);
//     for (const std::string& url : urls)
//         if (threads.spawn([&, url] { fetch(url); })) break;   // the OS refused a thread
//     threads.join_all();
//
// Why not a counting semaphore alone: a thread that has ended still holds its stack until it
// is joined, so "at most C alive" must also mean "joined as they end". One mutex and one
// condition variable do both.
//
// Why pthread_create and stacks of our own, not std::thread: glibc gives an ended thread's
// stack back to the kernel (madvise(MADV_DONTNEED), or munmap past its 40 MiB cache), so the
// next thread faults the same pages in again, and every give-back flushes the TLB of each CPU
// the process runs on. On this machine (a VM, where a page fault costs ~50 us) that was three
// quarters of the price of a thread: std::thread reached 2,200 req/s at C=1,000 where these
// stacks reach 6,500 (README.md). A stack handed to pthread_attr_setstack stays ours and stays
// resident; each task still gets a thread of its own, created and joined: the model's cost.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "scenarios/model.hpp"
#include "scenarios/net.hpp"

namespace rosetta::thread_per_task {

class Threads {
public:
    // 256 KiB: the blocking fetch needs its 64 KiB read buffer and a few frames; the guard page
    // below each stack turns an overflow into a crash instead of a neighbour's corruption.
    // glibc puts the thread's static TLS at the top of a stack given by pthread_attr_setstack:
    // a few KiB here, but ThreadSanitizer keeps ~900 KiB of its state per thread there.
#if defined(__SANITIZE_THREAD__)
    static constexpr std::size_t stack_bytes = std::size_t{256 + 1024} * 1024;
#else
    static constexpr std::size_t stack_bytes = std::size_t{256} * 1024;
#endif
    // A new stack is mapped only while this much address space would be left beside it, so
    // that under RLIMIT_AS it is the next thread that is refused, and the threads already
    // running still have room to finish (a page and a parser each: ~64 KiB for ~1,000 of
    // them). Otherwise they meet the limit in malloc, where libxml2 does not cope.
    static constexpr std::size_t headroom_bytes = std::size_t{16} << 20;

    explicit Threads(int limit);
    ~Threads();  // joins every thread, then unmaps the stacks
    Threads(const Threads&) = delete;
    Threads& operator=(const Threads&) = delete;

    // Starts task on a new thread as soon as fewer than the limit are alive, joining the ones
    // that ended meanwhile. Returns the limit the OS hit if it refuses the thread or its stack
    // ("thread: EAGAIN (...)"); nothing otherwise. Whatever task throws is kept for failure().
    Failure spawn(std::function<void()> task);
    // Waits for every thread to end, and joins it.
    void join_all();
    // A task let an exception escape (LimitReached: a socket refused; bad_alloc).
    bool failed() const;
    // The first such exception, in words.
    Failure failure() const;

private:
    struct Thread {
        Threads* owner;
        std::function<void()> task;
        void* stack;
        pthread_t handle;
    };
    static void* entry(void* thread);
    void run(Thread& thread);
    void join_ended();  // with mutex_ held
    // A stack from the pool, or a new one (nullptr: the OS refused; errno says why).
    void* take_stack();

    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::condition_variable ended_one_;
    std::unordered_map<Thread*, std::unique_ptr<Thread>> alive_;
    std::vector<Thread*> ended_;      // ended, not joined yet
    std::vector<void*> free_stacks_;  // of joined threads: resident, ready for the next
    std::vector<void*> stacks_;       // every stack mapped, unmapped at the end
    std::exception_ptr error_;        // kept without allocating: memory may be what ran out
};

// Connections left open by a fetch, for the next thread to take instead of connecting. At
// most `capacity` are kept; one more is closed.
class IdleConnections {
public:
    explicit IdleConnections(int capacity) : capacity_(static_cast<std::size_t>(capacity)) {}

    // An open connection, or an empty Fd: the fetch then opens its own.
    Fd take();
    // What the fetch left in its Fd: kept when still open.
    void give(Fd connection);

private:
    std::mutex mutex_;
    std::vector<Fd> idle_;
    const std::size_t capacity_;
};

}  // namespace rosetta::thread_per_task
