#include "models/thread-per-task/threads.hpp"

#include <sys/mman.h>

#include <cerrno>

namespace rosetta::thread_per_task {

namespace {
constexpr std::size_t guard_bytes = 4096;
}  // namespace

Threads::Threads(int limit) : limit_(static_cast<std::size_t>(limit)) {
    // So that a thread never allocates to report its end: it may end because memory ran out.
    ended_.reserve(limit_);
}

Threads::~Threads() {
    join_all();
    for (void* stack : stacks_) ::munmap(stack, guard_bytes + stack_bytes);
}

void* Threads::take_stack() {
    if (!free_stacks_.empty()) {
        void* stack = free_stacks_.back();
        free_stacks_.pop_back();
        return stack;
    }
    // Mapped with the headroom above it, which is given back at once (see headroom_bytes).
    void* stack = ::mmap(nullptr, guard_bytes + stack_bytes + headroom_bytes,
                         PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return nullptr;
    ::munmap(static_cast<char*>(stack) + guard_bytes + stack_bytes, headroom_bytes);
    ::mprotect(stack, guard_bytes, PROT_NONE);  // the lowest page: stacks grow down into it
    stacks_.push_back(stack);
    return stack;
}

Failure Threads::spawn(std::function<void()> task) {
    std::unique_lock lock(mutex_);
    ended_one_.wait(lock, [this] {
        join_ended();
        return alive_.size() < limit_;
    });
    void* stack = take_stack();
    if (!stack) {
        return describe_error("thread", errno);
    }
    auto thread = std::make_unique<Thread>(Thread{this, std::move(task), stack, {}});
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, static_cast<char*>(stack) + guard_bytes, stack_bytes);
    // Under the lock: the new thread cannot report its end before it is in alive_.
    int refused = pthread_create(&thread->handle, &attr, &Threads::entry, thread.get());
    pthread_attr_destroy(&attr);
    if (refused) {
        free_stacks_.push_back(stack);
        return describe_error("thread", refused);
    }
    Thread* key = thread.get();
    alive_.emplace(key, std::move(thread));
    return std::nullopt;
}

void* Threads::entry(void* thread) {
    static_cast<Thread*>(thread)->owner->run(*static_cast<Thread*>(thread));
    return nullptr;
}

void Threads::run(Thread& thread) {
    std::exception_ptr error;
    try {
        thread.task();
    } catch (...) {
        error = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    if (error && !error_) error_ = error;
    ended_.push_back(&thread);  // within the capacity reserved: never allocates
    ended_one_.notify_all();
}

void Threads::join_ended() {
    // The ended thread has left run() or is about to: join() waits at most for that. Only then
    // is its stack free for the next.
    for (Thread* thread : ended_) {
        pthread_join(thread->handle, nullptr);
        free_stacks_.push_back(thread->stack);
        alive_.erase(thread);
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

bool Threads::failed() const {
    std::lock_guard lock(mutex_);
    return error_ != nullptr;
}

Failure Threads::failure() const {
    std::lock_guard lock(mutex_);
    return failure_of(error_);
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
