#include "scenarios/net.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

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

long read_number(const char* path) {
    try {
        return std::stol(read_first_line(path));
    } catch (const std::exception&) {
        return -1;
    }
}

// Lines of a file, e.g. the mappings in /proc/self/maps.
long count_lines(const char* path) {
    std::ifstream in(path);
    long n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
}

// A limit the failed call may have hit: its name and value, how much is in use, and how that
// reads to a person.
struct Gauge {
    double used_fraction;
    std::string text;
};

// fork()/clone() say EAGAIN and mmap() ENOMEM for several limits at once. Names the one this
// process is nearest to, with the figures, e.g. "vm.max_map_count 65530: 65519 mappings here";
// all of them when none is near.
std::string nearest_limit() {
    std::vector<Gauge> gauges;
    // /proc/loadavg's fourth field is "running/total": every thread of every process.
    std::string loadavg = read_first_line("/proc/loadavg");
    long tasks = -1;
    if (auto slash = loadavg.find('/'); slash != std::string::npos)
        tasks = std::atol(loadavg.c_str() + slash + 1);
    for (const char* name : {"pid_max", "threads-max"}) {
        long limit = read_number(fmt::format("/proc/sys/kernel/{}", name).c_str());
        if (limit > 0 && tasks >= 0)
            gauges.push_back({static_cast<double>(tasks) / static_cast<double>(limit),
                              fmt::format("{} {}: {} threads on the system", name, limit, tasks)});
    }
    long maps = read_number("/proc/sys/vm/max_map_count");
    if (maps > 0) {
        long used = count_lines("/proc/self/maps");
        gauges.push_back({static_cast<double>(used) / static_cast<double>(maps),
                          fmt::format("vm.max_map_count {}: {} mappings here", maps, used)});
    }
    rlimit limit{};
    if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        long used = proc_status_kib("VmSize");
        gauges.push_back({static_cast<double>(used) * 1024 / static_cast<double>(limit.rlim_cur),
                          fmt::format("RLIMIT_AS {} MiB: {} MiB mapped here", limit.rlim_cur >> 20,
                                      used >> 10)});
    }
    if (getrlimit(RLIMIT_NPROC, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && ::geteuid() != 0)
        gauges.push_back({0.5, fmt::format("RLIMIT_NPROC {}", limit.rlim_cur)});
    std::sort(gauges.begin(), gauges.end(),
              [](const Gauge& a, const Gauge& b) { return a.used_fraction > b.used_fraction; });
    if (gauges.empty()) return "no limit in sight";
    if (gauges.front().used_fraction > 0.9) return gauges.front().text;
    std::string all;
    for (const Gauge& g : gauges) all += (all.empty() ? "" : "; ") + g.text;
    return all;
}

}  // namespace

long proc_status_kib(std::string_view field) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.size() > field.size() && line.starts_with(field) && line[field.size()] == ':')
            return std::stol(line.substr(field.size() + 1));
    return -1;
}

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
        case ENOMEM: text += fmt::format(" ({})", nearest_limit()); break;
        case EADDRNOTAVAIL: {
            // "32768\t60999" in /proc: every local port of the range is taken (or in TIME_WAIT)
            std::string range = read_first_line("/proc/sys/net/ipv4/ip_local_port_range");
            if (auto tab = range.find_first_of("\t "); tab != std::string::npos)
                range = range.substr(0, tab) + "-" + range.substr(range.find_last_of("\t ") + 1);
            text += fmt::format(" (ephemeral ports {} in use)", range);
            break;
        }
        default: break;
    }
    return text;
}

bool is_client_limit(int err) {
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EAGAIN ||
           err == EADDRNOTAVAIL;
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
