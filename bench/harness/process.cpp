#include "bench/harness/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

extern char** environ;

namespace rosetta {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

Child::Child(const std::string& path, const std::vector<std::string>& args, bool capture_stderr) {
    int out[2], err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    if (capture_stderr && ::pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        ::close(out[0]);
        ::close(out[1]);
        throw std::system_error(e, std::generic_category(), "pipe");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    if (capture_stderr) posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // Its own process group, so the whole tree (process-per-task's children too) can be
    // signalled at once.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);

    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int rc = ::posix_spawn(&pid_, path.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(out[1]);
    if (err[1] >= 0) ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (rc != 0) {
        close_fd(out_);
        close_fd(err_);
        throw std::system_error(rc, std::generic_category(), "cannot start " + path);
    }
    ::fcntl(out_, F_SETFL, O_NONBLOCK);
    if (err_ >= 0) ::fcntl(err_, F_SETFL, O_NONBLOCK);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd_ < 0) {
        int e = errno;
        stop(0);
        throw std::system_error(e, std::generic_category(), "pidfd_open");
    }
}

Child::~Child() {
    if (!reaped_ && pid_ > 0) stop(1000);
    close_fd(out_);
    close_fd(err_);
    close_fd(pidfd_);
}

void Child::reap() {
    if (reaped_) return;
    while (::wait4(pid_, &status_, 0, &usage_) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    // Anything the model left behind in its group (it should have reaped all) goes too.
    ::kill(-pid_, SIGKILL);
}

void Child::signal_group(int sig) const {
    if (!reaped_ && pid_ > 0) ::kill(-pid_, sig);
}

void Child::stop(int grace_ms) {
    if (reaped_ || pid_ <= 0) return;
    signal_group(SIGTERM);
    pollfd p{pidfd_, POLLIN, 0};
    if (pidfd_ < 0 || ::poll(&p, 1, grace_ms) != 1) signal_group(SIGKILL);
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
