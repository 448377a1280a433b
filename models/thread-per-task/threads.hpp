// thread-per-task's mechanism: at most C threads alive, each joined soon after it ends, and a
// pool of idle kept-alive connections the threads hand on to one another.
//
//     Threads threads(C);
//     for (const std::string& url : urls)
//         if (threads.spawn([&, url] { fetch(url); })) break;   // the OS refused a thread
//     threads.join_all();
//
// Why not a counting semaphore alone: a thread that has ended still holds its stack (and its
// two mappings) until it is joined, so "at most C alive" must also mean "joined as they end"
// or a 100,000-URL run would hold 100,000 stacks. One mutex and one condition variable do both.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "scenarios/model.hpp"
#include "scenarios/net.hpp"

namespace rosetta::thread_per_task {

class Threads {
public:
    explicit Threads(int limit) : limit_(static_cast<std::size_t>(limit)) {}
    ~Threads() { join_all(); }
    Threads(const Threads&) = delete;
    Threads& operator=(const Threads&) = delete;

    // Starts task on a new std::thread as soon as fewer than the limit are alive, joining the
    // ones that ended meanwhile. Returns the limit the OS hit if it refuses the thread
    // ("thread: EAGAIN (...)"); nothing otherwise. Whatever task throws is kept as failure().
    Failure spawn(std::function<void()> task);
    // Waits for every thread to end, and joins it.
    void join_all();
    // The first exception a task let escape (LimitReached: a socket refused), if any.
    Failure failure() const;

private:
    void run(const std::function<void()>& task);
    void join_ended();  // with mutex_ held

    const std::size_t limit_;
    mutable std::mutex mutex_;
    std::condition_variable ended_one_;
    std::unordered_map<std::thread::id, std::thread> alive_;
    std::vector<std::thread::id> ended_;  // ended, not joined yet
    Failure failure_;
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
