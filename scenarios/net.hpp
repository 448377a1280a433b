// The few socket facts every model shares: where the origin is, how to open a socket to it,
// and how to name an errno so a reader can act on it. No waiting here: each model connects,
// reads and writes in its own way.
#pragma once

#include <sys/socket.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace rosetta {

// Owns one file descriptor and closes it once: when destroyed, reset or assigned over. Every
// descriptor the workbench opens lives in one, so an early return or an exception cannot leak
// it. -1 is "none".
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) reset(std::exchange(other.fd_, -1));
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    // Closes the one it holds (if any) and takes fd.
    void reset(int fd = -1);
    // Gives the descriptor up without closing it (to a child's dup2, say).
    [[nodiscard]] int release() { return std::exchange(fd_, -1); }

private:
    int fd_ = -1;
};

struct Endpoint {
    sockaddr_storage address{};
    socklen_t length = 0;
    std::string authority;  // "host:port" as given, for Host headers and same-origin checks
};

// Resolves "HOST:PORT" once, at start (getaddrinfo is blocking and has no deadline, so no model
// calls it per request). Throws std::runtime_error with the resolver's reason.
Endpoint resolve_endpoint(const std::string& host_port);

// A new non-blocking TCP socket for the endpoint, close-on-exec, TCP_NODELAY on.
// Empty with errno set when the kernel refuses (EMFILE, ENFILE, ENOBUFS).
Fd open_tcp_socket(const Endpoint& endpoint);

// Starts a non-blocking connect: 0 when connected at once, EINPROGRESS while pending, or the
// errno of the failure.
int start_connect(int fd, const Endpoint& endpoint);
// After the socket became writable: 0 when connected, else the errno (SO_ERROR).
int connect_result(int fd);

// "ECONNREFUSED", "EMFILE", ... (glibc's strerrorname_np, with a fallback).
std::string errno_name(int err);
// "socket: EMFILE (RLIMIT_NOFILE 20000)": the operation, the errno name and, for errors that
// mean a limit was hit, the limit in force, read from the system at the time. EAGAIN and
// ENOMEM (fork, thread creation, mmap) have several possible limits: the one this process is
// nearest to is named with the figures ("thread: EAGAIN (vm.max_map_count 65530: 65519
// mappings here)"), or all of them when none is near.
std::string describe_error(const char* operation, int err);
// A "Name:   123 kB" field of /proc/self/status (VmSize, VmRSS, VmPTE) in KiB; -1 if absent.
long proc_status_kib(std::string_view field);

// The OS refused the run something it needs: a descriptor (EMFILE, ENFILE), a thread or a
// process (EAGAIN), memory (ENOMEM), a local port (EADDRNOTAVAIL). Not the outcome of one URL
// but the limit of the whole run: a model that catches it starts nothing more, joins and reaps
// what it started, and reports what() — describe_error's words — as the run's failure.
class LimitReached : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Errors that mean the client, not the server, ran out: socket() or connect() failing with
// them raise LimitReached instead of becoming an outcome.
bool is_client_limit(int err);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
long raise_fd_limit();

}  // namespace rosetta
