#include "models/thread-per-task/threads.hpp"

#include <system_error>

namespace rosetta::thread_per_task {

Failure Threads::spawn(std::function<void()> task) {
    std::unique_lock lock(mutex_);
    ended_one_.wait(lock, [this] {
        join_ended();
        return alive_.size() < limit_;
    });
    try {
        // Under the lock: the new thread cannot report its end before it is in alive_.
        std::thread thread([this, task = std::move(task)] { run(task); });
        std::thread::id id = thread.get_id();
        alive_.emplace(id, std::move(thread));
    } catch (const std::system_error& e) {
        return describe_error("thread", e.code().value());
    }
    return std::nullopt;
}

void Threads::run(const std::function<void()>& task) {
    Failure failed;
    try {
        task();
    } catch (const std::exception& e) {
        failed = e.what();
    }
    std::lock_guard lock(mutex_);
    if (failed && !failure_) failure_ = failed;
    ended_.push_back(std::this_thread::get_id());
    ended_one_.notify_all();
}

void Threads::join_ended() {
    // The ended thread has left run() or is about to: join() waits at most for that.
    for (std::thread::id id : ended_) {
        auto it = alive_.find(id);
        it->second.join();
        alive_.erase(it);
    }
    ended_.clear();
}

void Threads::join_all() {
    std::unique_lock lock(mutex_);
    ended_one_.wait(lock, [this] {
        join_ended();
        return alive_.empty();
    });
}

Failure Threads::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

Fd IdleConnections::take() {
    std::lock_guard lock(mutex_);
    if (idle_.empty()) return Fd();
    Fd connection = std::move(idle_.back());
    idle_.pop_back();
    return connection;
}

void IdleConnections::give(Fd connection) {
    if (!connection) return;
    std::lock_guard lock(mutex_);
    if (idle_.size() < capacity_) idle_.push_back(std::move(connection));
}

}  // namespace rosetta::thread_per_task
