#include "bench/harness/process.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

namespace rosetta {

namespace {

// A pipe whose two ends close themselves.
struct Pipe {
    Fd read, write;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::system_error(errno, std::generic_category(), "pipe");
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
};

}  // namespace

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    return cpus;
}

std::string describe_cpus(const std::vector<int>& cpus) {
    return fmt::format("CPU{} {}", cpus.size() == 1 ? "" : "s", fmt::join(cpus, ","));
}

Child::Child(const std::string& path, const std::vector<std::string>& args, bool capture_stderr,
             const std::vector<int>& cpus) {
    Pipe out, exec_error;
    std::optional<Pipe> err;
    if (capture_stderr) err.emplace();
    // Everything the child needs is built before fork(): between fork and exec a child of a
    // threaded parent may only make async-signal-safe calls.
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    cpu_set_t affinity;
    CPU_ZERO(&affinity);
    for (int cpu : cpus) CPU_SET(cpu, &affinity);

    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork " + path);
    if (pid_ == 0) {
        // Dies with its parent. The parent may have died between fork() and prctl(), and then
        // no signal would ever come: getppid() no longer names it.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
        // Its own process group, so the whole tree (process-per-task's children too) can be
        // signalled at once.
        ::setpgid(0, 0);
        ::dup2(out.write.get(), STDOUT_FILENO);
        if (err) ::dup2(err->write.get(), STDERR_FILENO);
        if (cpus.empty() || ::sched_setaffinity(0, sizeof affinity, &affinity) == 0)
            ::execv(path.c_str(), argv.data());
        int e = errno;  // exec failed: tell the parent why (the pipe closes on a successful exec)
        [[maybe_unused]] ssize_t n = ::write(exec_error.write.get(), &e, sizeof e);
        ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also from here, so the group exists whichever runs first
    exec_error.write.reset();
    out.write.reset();
    if (err) err->write.reset();
    out_ = std::move(out.read);
    if (err) err_ = std::move(err->read);

    int exec_errno = 0;
    ssize_t n = 0;
    while ((n = ::read(exec_error.read.get(), &exec_errno, sizeof exec_errno)) < 0 &&
           errno == EINTR) {
    }
    if (n == sizeof exec_errno) {
        reap();
        throw std::system_error(exec_errno, std::generic_category(),
                                "cannot start " + path + (cpus.empty() ? "" : " on its CPUs"));
    }
    ::fcntl(out_.get(), F_SETFL, O_NONBLOCK);
    if (err_) ::fcntl(err_.get(), F_SETFL, O_NONBLOCK);
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    if (!pidfd_) {
        int e = errno;
        stop(0);
        throw std::system_error(e, std::generic_category(), "pidfd_open");
    }
}

Child::~Child() {
    if (!reaped_ && pid_ > 0) stop(1000);
}

void Child::reap() {
    if (reaped_) return;
    while (::wait4(pid_, &status_, 0, &usage_) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    // Anything the model left behind in its group (it should have reaped all) is counted, then
    // killed. What it started in a group of its own (setsid) is out of reach: every process in
    // this workbench stays in its parent's group.
    survivors_ = running_in_group(pid_);
    ::kill(-pid_, SIGKILL);
}

int running_in_group(pid_t group) {
    int running = 0;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        std::getline(in, stat);
        // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so after the last
        // ')'.
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        std::istringstream fields(stat.substr(paren + 1));
        char state = 0;
        long ppid = 0, pgrp = 0;
        if (fields >> state >> ppid >> pgrp && pgrp == group && state != 'Z' && state != 'X')
            ++running;
    }
    return running;
}

void Child::signal_group(int sig) const {
    if (!reaped_ && pid_ > 0) ::kill(-pid_, sig);
}

void Child::stop(int grace_ms) {
    if (reaped_ || pid_ <= 0) return;
    signal_group(SIGTERM);
    pollfd p{pidfd_.get(), POLLIN, 0};
    if (!pidfd_ || ::poll(&p, 1, grace_ms) != 1) signal_group(SIGKILL);
    // Reaped by wait4 either way, so a stopped run still reports the CPU it used.
    reap();
}

std::uint64_t tree_rss_kib(pid_t root) {
    static const long page_kib = ::sysconf(_SC_PAGESIZE) / 1024;
    std::uint64_t total = 0;
    std::vector<pid_t> pending{root};
    while (!pending.empty()) {
        pid_t pid = pending.back();
        pending.pop_back();
        std::ifstream statm(fmt::format("/proc/{}/statm", pid));
        std::uint64_t size = 0, resident = 0;
        if (!(statm >> size >> resident)) continue;
        total += resident * static_cast<std::uint64_t>(page_kib);
        // Children forked by pid's main thread. Every model forks from its main thread; reading
        // all threads' lists would cost a file per thread per sample (10k for thread-per-task).
        std::ifstream children(fmt::format("/proc/{}/task/{}/children", pid, pid));
        pid_t child = 0;
        while (children >> child) pending.push_back(child);
    }
    return total;
}

std::uint64_t peak_rss_since_exec_kib(pid_t pid) {
    std::ifstream status(fmt::format("/proc/{}/status", pid));
    std::string name, unit;
    std::uint64_t value = 0;
    while (status >> name) {
        if (name == "VmHWM:") return status >> value ? value : 0;
        std::getline(status, unit);
    }
    return 0;
}

KernelMemory kernel_memory() {
    static const long page_kib = ::sysconf(_SC_PAGESIZE) / 1024;
    KernelMemory m;
    std::ifstream meminfo("/proc/meminfo");
    std::string name;
    std::int64_t value = 0;
    std::string unit;
    int found = 0;
    while (found < 2 && meminfo >> name >> value) {
        std::getline(meminfo, unit);  // " kB"
        if (name == "KernelStack:") m.stack_kib = value, ++found;
        if (name == "SUnreclaim:") m.slab_kib = value, ++found;
    }
    std::ifstream sockstat("/proc/net/sockstat");
    std::string line;
    while (std::getline(sockstat, line)) {
        if (!line.starts_with("TCP:")) continue;
        if (auto at = line.find(" mem "); at != std::string::npos)
            m.socket_kib = std::strtoll(line.c_str() + at + 5, nullptr, 10) * page_kib;
    }
    return m;
}

std::int64_t mem_available_kib() {
    std::ifstream meminfo("/proc/meminfo");
    std::string name, unit;
    std::int64_t value = 0;
    while (meminfo >> name >> value) {
        std::getline(meminfo, unit);
        if (name == "MemAvailable:") return value;
    }
    return 0;
}

bool drain(int fd, std::string& into) {
    char buffer[16384];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            into.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0) {
            return false;
        } else {
            return errno == EAGAIN || errno == EINTR;
        }
    }
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return fmt::format("signal SIG{}", name ? name : std::to_string(WTERMSIG(status)));
    }
    return fmt::format("wait status {}", status);
}

}  // namespace rosetta
