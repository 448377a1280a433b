// Green sockets: what a fiber calls where the blocking model calls the kernel. eventlet's
// green socket, gevent's monkey-patched one: the descriptor is non-blocking, and where the
// blocking call would sleep, the fiber parks on the hub until epoll says the socket is ready
// or the deadline passes. The socket stays registered between waits (level-triggered: an event
// nobody waits for unregisters it), so a kept-alive request costs no epoll_ctl.
#pragma once

#include <cstdint>
#include <memory>

#include "models/stackful-fibers/green_socket.hpp"
#include "models/stackful-fibers/hub.hpp"
#include "scenarios/net.hpp"

namespace rosetta::fibers {

// The hub's: parks the fiber until epoll says the socket is ready or the deadline passes.
// Throws Cancelled if the fiber is killed meanwhile.
class Socket final : public GreenSocket, public reactor::IoHandler {
public:
    Socket(Hub& hub, Fd fd) : GreenSocket(std::move(fd)), hub_(hub) {}
    ~Socket() override;

    bool wait(std::uint32_t events, std::int64_t deadline_ns) override;
    void on_events(std::uint32_t events) override;

private:
    Hub& hub_;
    reactor::Interest interest_;
    Fiber* waiter_ = nullptr;
};

}  // namespace rosetta::fibers
