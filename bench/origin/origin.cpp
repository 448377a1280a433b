#include "bench/origin/origin.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>

#include "bench/origin/event_loop.hpp"
#include "scenarios/net.hpp"

namespace rosetta {

namespace {

[[noreturn]] void fail(const std::string& what) {
    throw std::system_error(errno, std::system_category(), "origin: " + what);
}

void bind_loopback(const Fd& fd, std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
        fail("bind 127.0.0.1:" + std::to_string(port));
}

// SO_REUSEPORT lets any socket of the same user that sets it too join a port, so a second
// origin on a port another one serves would bind, listen, and silently take half of its
// clients to a different site. A probe bound without SO_REUSEPORT fails with EADDRINUSE
// whenever any socket holds the port; with SO_REUSEADDR, connections of an earlier run
// lingering in TIME_WAIT do not count. The probe is closed before the listeners bind, so
// two origins started on one port within those few microseconds could both pass it and share
// the port. The accepted cost: no lock for a race that needs two origins started by hand on
// the same fixed port at the same instant (the harness asks for an ephemeral port).
void refuse_a_port_already_held(std::uint16_t port) {
    Fd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) fail("socket");
    int one = 1;
    if (::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        fail("setsockopt SO_REUSEADDR");
    bind_loopback(probe, port);
}

// One listener per loop on the same port: with SO_REUSEPORT the kernel spreads incoming
// connections over them by hash, so loops never contend for an accept queue.
Fd listen_on(std::uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) fail("socket");
    int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        fail("setsockopt SO_REUSEPORT");
    bind_loopback(fd, port);
    // The kernel clamps the backlog to net.core.somaxconn (4096 here); asking for more keeps
    // a connect storm of 10k clients from being dropped wherever that limit is raised.
    if (::listen(fd.get(), 65535) != 0) fail("listen on 127.0.0.1:" + std::to_string(port));
    return fd;
}

std::uint16_t bound_port(const Fd& fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
        fail("getsockname");
    return ntohs(address.sin_port);
}

}  // namespace

OriginServer::OriginServer(const Spec& spec, const OriginOptions& options) {
    // 19,000 connections need the hard limit (20,000 here), not the usual soft 1,024. Failing
    // to raise it is not fatal: the server then holds fewer connections, and accept says so.
    raise_fd_limit();
    const auto port = static_cast<std::uint16_t>(spec.port);
    // Port 0 needs no probe: the kernel's search for a free port passes over ports held with
    // SO_REUSEPORT too (since Linux 4.6), and the other loops' listeners join it by number.
    if (port != 0) refuse_a_port_already_held(port);
    std::vector<Fd> listeners;
    listeners.push_back(listen_on(port));
    port_ = bound_port(listeners.front());
    for (int i = 1; i < spec.threads; ++i) listeners.push_back(listen_on(port_));
    // The pages name the authority in their absolute links, so they exist only once bound.
    state_ = std::make_unique<origin::OriginState>(
        spec, authority(), std::chrono::milliseconds(options.header_timeout_ms));
    for (Fd& listener : listeners)
        loops_.push_back(std::make_unique<origin::EventLoop>(*state_, std::move(listener)));
}

OriginServer::~OriginServer() { stop(); }

std::string OriginServer::authority() const { return "127.0.0.1:" + std::to_string(port_); }

void OriginServer::start() {
    std::lock_guard lock(lifecycle_mutex_);
    if (started_ || stopped_) return;
    started_ = true;
    for (auto& loop : loops_)
        threads_.emplace_back([loop = loop.get()] {
            try {
                loop->run();
            } catch (const std::exception& e) {
                // Only epoll_wait failing or memory running out get here; the other loops
                // keep serving and stop() still joins this one.
                std::fprintf(stderr, "rosetta origin: event loop stopped: %s\n", e.what());
            }
        });
}

void OriginServer::stop() {
    std::lock_guard lock(lifecycle_mutex_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& loop : loops_) loop->wake();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    loops_.clear();  // closes every connection, listener, epoll set and eventfd
}

nlohmann::json OriginServer::stats() const { return state_->stats(); }

int run_origin_command(const Spec& spec, const OriginOptions& options) {
    // Blocked before any thread exists, so every loop inherits the mask and SIGINT/SIGTERM
    // stay pending until sigwait below takes them: no handler, no async-signal-safety rules.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    try {
        OriginServer server(spec, options);
        server.start();
        std::cout << "listening on " << server.authority() << std::endl;
        int signal = 0;
        while (sigwait(&signals, &signal) != 0) {
        }
        server.stop();
    } catch (const std::system_error& e) {  // its message starts with "origin: "
        std::cerr << "rosetta " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {  // a site whose pages cannot hold their links
        std::cerr << "rosetta origin: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace rosetta
