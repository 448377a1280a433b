#include "scenarios/net.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "scenarios/spec.hpp"

namespace rosetta {

Endpoint resolve_endpoint(const std::string& host_port) {
    HostPort hp = parse_host_port(host_port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string port = std::to_string(hp.port);
    int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) throw std::runtime_error(fmt::format("resolve {}: {}", hp.host, gai_strerror(rc)));
    Endpoint endpoint;
    std::memcpy(&endpoint.address, found->ai_addr, found->ai_addrlen);
    endpoint.length = found->ai_addrlen;
    endpoint.authority = hp.authority();
    freeaddrinfo(found);
    return endpoint;
}

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

Fd open_tcp_socket(const Endpoint& endpoint) {
    Fd fd(::socket(endpoint.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    int one = 1;
    // Requests are written in one piece; Nagle would only add a delay to the next request on a
    // kept-alive connection.
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int start_connect(int fd, const Endpoint& endpoint) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint.address), endpoint.length) == 0)
        return 0;
    return errno;
}

int connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

std::string errno_name(int err) {
    if (const char* name = strerrorname_np(err)) return name;
    return fmt::format("errno {}", err);
}

namespace {
std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}
}  // namespace

std::string describe_error(const char* operation, int err) {
    std::string text = fmt::format("{}: {}", operation, errno_name(err));
    rlimit limit{};
    switch (err) {
        case EMFILE:
            if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
                text += fmt::format(" (RLIMIT_NOFILE {})", limit.rlim_cur);
            break;
        case ENFILE:
            text += fmt::format(" (fs.file-max {})", read_first_line("/proc/sys/fs/file-max"));
            break;
        case EAGAIN:
            // fork/clone's EAGAIN: processes and threads both count against these.
            if (getrlimit(RLIMIT_NPROC, &limit) == 0)
                text +=
                    fmt::format(" (RLIMIT_NPROC {} / pid_max {} / threads-max {})",
                                limit.rlim_cur == RLIM_INFINITY ? std::string("unlimited")
                                                                : std::to_string(limit.rlim_cur),
                                read_first_line("/proc/sys/kernel/pid_max"),
                                read_first_line("/proc/sys/kernel/threads-max"));
            break;
        case ENOMEM:
            text += fmt::format(" (vm.max_map_count {})",
                                read_first_line("/proc/sys/vm/max_map_count"));
            break;
        case EADDRNOTAVAIL:
            text += fmt::format(" (ephemeral ports {})",
                                read_first_line("/proc/sys/net/ipv4/ip_local_port_range"));
            break;
        default: break;
    }
    return text;
}

long raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return static_cast<long>(limit.rlim_cur);
}

}  // namespace rosetta
