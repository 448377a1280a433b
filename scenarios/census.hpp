// What a process holds that a model must give back before it returns: threads, descriptors,
// child processes. model_main counts them from /proc before the run and after it; anything
// more at the end is a leak, and the run reports it as its failure ("left behind: 3 threads").
// Nothing detaches, nothing leaks: this is the check that says so.
#pragma once

#include <string>

namespace rosetta {

struct Census {
    int threads = 0;      // /proc/self/task
    int descriptors = 0;  // /proc/self/fd (the directory's own is not counted)
    int children = 0;     // /proc/self/task/*/children: running or not yet reaped

    static Census of_this_process();
    // of_this_process(), counted again for up to 200 ms while it holds more threads than
    // `before`: pthread_join returns when the kernel clears the thread's id, a moment before
    // the thread leaves /proc/self/task. A thread still there after that was not joined.
    static Census settled_since(const Census& before);
    // "left behind: 2 threads, 1 descriptor, 1 child process", or empty when this census holds
    // no more of any than `before`.
    std::string left_behind_since(const Census& before) const;
};

}  // namespace rosetta
