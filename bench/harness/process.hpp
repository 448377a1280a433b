// Child processes for the harness: spawn with captured output, wait with a deadline, measure
// the whole process tree from outside (/proc for memory, wait4's rusage for CPU and switches).
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "scenarios/net.hpp"

namespace rosetta {

class Child {
public:
    // Starts path with args in its own process group; stdout (and stderr when capture_stderr)
    // come back over pipes. The child dies with the thread that started it (PR_SET_PDEATHSIG,
    // SIGKILL): a harness killed outright, or whose terminal closed, leaves no origin or model
    // behind. With `cpus`, it runs on those CPUs only (sched_setaffinity before exec, so every
    // thread and child it makes inherits them). Throws std::system_error when it cannot start
    // (exec's or sched_setaffinity's errno included).
    Child(const std::string& path, const std::vector<std::string>& args, bool capture_stderr,
          const std::vector<int>& cpus = {});
    ~Child();  // kills the group and reaps it if still running
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    int stdout_fd() const { return out_.get(); }
    int stderr_fd() const { return err_.get(); }
    int pid_fd() const { return pidfd_.get(); }  // readable when the child has exited

    // Reaps the child (it must have exited: pid_fd readable), then kills whatever of its
    // process group is still running (counted first: survivors()). rusage includes its reaped
    // descendants.
    void reap();
    bool reaped() const { return reaped_; }
    // Processes of its group that were still running when it had exited, and were killed.
    int survivors() const { return survivors_; }
    int wait_status() const { return status_; }
    const rusage& usage() const { return usage_; }

    void signal_group(int sig) const;
    // SIGTERM, up to grace_ms for an exit, then SIGKILL; reaps.
    void stop(int grace_ms);

private:
    pid_t pid_ = -1;
    Fd out_, err_, pidfd_;
    bool reaped_ = false;
    int status_ = 0;
    int survivors_ = 0;
    rusage usage_{};
};

// Processes of process group `group` that are alive and not zombies, from /proc.
int running_in_group(pid_t group);

// Resident memory of pid and all its descendants, in KiB (0 if pid is gone).
std::uint64_t tree_rss_kib(pid_t pid);
// The CPUs this process may run on (its affinity mask), ascending.
std::vector<int> allowed_cpus();

// "CPU 1", "CPUs 0,1": how the harness names a set of CPUs.
std::string describe_cpus(const std::vector<int>& cpus);

// The high-water mark of pid's resident memory since its exec (VmHWM), KiB; 0 if pid is gone.
// Not wait4's ru_maxrss: Linux starts a child's at its parent's peak when it forks, so a model
// started by a harness that has grown (a matrix) would report the harness's memory.
std::uint64_t peak_rss_since_exec_kib(pid_t pid);

// The kernel's memory that RSS never shows, system-wide, in KiB: the threads' kernel stacks
// (KernelStack) and the unreclaimable slab (SUnreclaim: socket structures, epoll items, task
// structs...) from /proc/meminfo, and what TCP sockets have charged for their buffers
// (/proc/net/sockstat's TCP mem, pages), which may be slab already, so kept apart.
struct KernelMemory {
    std::int64_t stack_kib = 0;
    std::int64_t slab_kib = 0;
    std::int64_t socket_kib = 0;
};
KernelMemory kernel_memory();
// MemAvailable from /proc/meminfo, KiB (0 if it cannot be read).
std::int64_t mem_available_kib();

// Reads what is available on fd (non-blocking) and appends it; false at EOF.
bool drain(int fd, std::string& into);

// "exit 3", "signal SIGSEGV" from a wait status.
std::string describe_wait_status(int status);

}  // namespace rosetta
