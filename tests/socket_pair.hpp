// Both ends of a connected pair of local stream sockets, for the runtime tests: each end
// closed with its Fd. Non-blocking unless asked (the ring does its own waiting and wants
// blocking sockets; the reactor, the hubs and the loops want them non-blocking).
#pragma once

#include <sys/socket.h>

#include <stdexcept>

#include "scenarios/net.hpp"

namespace rosetta::test {

struct SocketPair {
    enum class Mode { nonblocking, blocking };

    explicit SocketPair(Mode mode = Mode::nonblocking) {
        int fds[2];
        const int flags = mode == Mode::nonblocking ? SOCK_NONBLOCK | SOCK_CLOEXEC : SOCK_CLOEXEC;
        if (::socketpair(AF_UNIX, SOCK_STREAM | flags, 0, fds) != 0)
            throw std::runtime_error("socketpair");
        a = Fd(fds[0]);
        b = Fd(fds[1]);
    }

    Fd a, b;
};

}  // namespace rosetta::test
