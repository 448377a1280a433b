// The socket both fiber models fetch through (fetch.hpp): a descriptor, and a wait that blocks
// the calling fiber, not the thread.
#pragma once

#include <cstdint>
#include <memory>

#include "scenarios/net.hpp"

namespace rosetta::fibers {

// stackful-fibers' parks the fiber on the hub (green.hpp); boost-fibers' suspends the fiber's
// Boost.Fiber context until the reactor or the deadline schedules it again (scheduler.hpp).
class GreenSocket {
public:
    explicit GreenSocket(Fd fd) : fd_(std::move(fd)) {}
    virtual ~GreenSocket() = default;
    GreenSocket(const GreenSocket&) = delete;
    GreenSocket& operator=(const GreenSocket&) = delete;

    int fd() const { return fd_.get(); }
    // Until the socket is ready for `events` (EPOLLIN, EPOLLOUT) or deadline_ns passes (false).
    virtual bool wait(std::uint32_t events, std::int64_t deadline_ns) = 0;

protected:
    Fd fd_;
};
using SocketPtr = std::unique_ptr<GreenSocket>;

}  // namespace rosetta::fibers
