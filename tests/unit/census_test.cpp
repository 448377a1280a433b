// The census a model run is checked against: it must see a thread, a descriptor and a child
// process left behind, and nothing once they are joined, closed and reaped.
#include "scenarios/census.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace rosetta;

TEST(Census, names_a_thread_descriptors_and_a_child_left_behind_and_nothing_once_they_are_gone) {
    std::thread([] {}).join();  // ThreadSanitizer starts its own thread with the first one
    const Census before = Census::of_this_process();
    EXPECT_EQ(before.left_behind_since(before), "");

    std::mutex mutex;
    std::condition_variable go;
    bool done = false;
    std::thread thread([&] {
        std::unique_lock lock(mutex);
        go.wait(lock, [&] { return done; });
    });
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }

    EXPECT_EQ(Census::of_this_process().left_behind_since(before),
              "left behind: 1 thread, 2 descriptors, 1 child process");
    // Waiting for joined threads to leave the kernel does not hide one that is still running.
    EXPECT_EQ(Census::settled_since(before).left_behind_since(before),
              "left behind: 1 thread, 2 descriptors, 1 child process");

    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(fds[0]);
    ::close(fds[1]);
    {
        std::lock_guard lock(mutex);
        done = true;
    }
    go.notify_one();
    thread.join();
    EXPECT_EQ(Census::settled_since(before).left_behind_since(before), "");
}
