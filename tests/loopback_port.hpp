// A 127.0.0.1 TCP socket on an ephemeral port, for tests that need a port taken (listening,
// without SO_REUSEPORT, so nobody else can bind it) or a port nobody listens on.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>

#include "scenarios/net.hpp"

namespace rosetta::test {

class LoopbackPort {
public:
    enum class Mode { bound, listening };

    // backlog: how many connections may wait to be accepted (listening).
    explicit LoopbackPort(Mode mode, int backlog = 1)
        : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (!fd_ || ::bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            (mode == Mode::listening && ::listen(fd_.get(), backlog) != 0) ||
            ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
            throw std::runtime_error("cannot bind a 127.0.0.1 port for the test");
        port_ = ntohs(address.sin_port);
    }

    std::uint16_t port() const { return port_; }
    int fd() const { return fd_.get(); }

private:
    Fd fd_;
    std::uint16_t port_ = 0;
};

// A port nobody listens on: bound, never listened on, released. Connecting to it is refused.
inline std::uint16_t closed_port() { return LoopbackPort(LoopbackPort::Mode::bound).port(); }

}  // namespace rosetta::test
