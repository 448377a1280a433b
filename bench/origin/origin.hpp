// The origin: the simulated web every model is measured against. It serves the Site (see
// scenarios/site.hpp) over HTTP/1.1 on 127.0.0.1 from `threads` epoll loops, adds the think
// time (--latency-ms) and the faults (--faults) the spec asks for, and counts what it saw.
//
//   client ──connect──> kernel (SO_REUSEPORT spreads connections over one listener per loop)
//                         │
//      loop k:  epoll_wait(timeout = earliest timer) ──> accept / read / write / wake
//                         │                                   │
//                         └── timers due: latency elapsed ────┴──> respond (or drip, or cut)
//
// It holds ~19,000 connections (the descriptor ceiling less its own few) with one thread per
// loop and no thread, timerfd or allocation per request.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <thread>
#include <vector>

#include "scenarios/spec.hpp"

namespace rosetta {

// Everything behind this face (the loops, their connections and timers, the request parser,
// the counters) lives in rosetta::origin, so a model's own Connection or Clock never clashes
// with it.
namespace origin {
struct OriginState;
class EventLoop;
}  // namespace origin

// How the origin treats its clients, as opposed to the site it serves (the Spec): options
// of `rosetta origin` only, which no model needs to know.
struct OriginOptions {
    // A request whose first byte has arrived must be complete (head, and any body it
    // announces) this long after, or its connection is closed and counted in header_timeouts:
    // a slowloris client cannot hold a connection by dripping bytes. A kept-alive connection
    // that has not started its next request is never timed out.
    int header_timeout_ms = 10'000;
};

class OriginServer {
public:
    // Uses the site options of spec and spec.port (0: an ephemeral port). Binds 127.0.0.1 and
    // listens here, so port() is known and connections queue before start(). Raises the
    // soft RLIMIT_NOFILE to the hard limit. Throws std::system_error naming what failed.
    explicit OriginServer(const Spec& spec, const OriginOptions& options = {});
    ~OriginServer();  // stop()

    OriginServer(const OriginServer&) = delete;
    OriginServer& operator=(const OriginServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string authority() const;  // "127.0.0.1:PORT"

    // Runs the event loops, one std::thread each. Once only.
    void start();
    // Wakes the loops, joins them and closes every descriptor. Thread-safe, idempotent; not
    // from a loop thread.
    void stop();
    // The JSON GET /__stats returns: requests (received for the simulated web, stalled ones
    // included, so it is the sum of paths and other_paths), paths (per site path: "/" and
    // the pages), other_paths (requests to any other path, one bucket), connections_accepted
    // (since the server started, all loops summed, the probe's own connection included),
    // peak_connections, peak_inflight, connections, inflight, bad_requests (answered 400, in
    // no path), header_timeouts (connections closed for an unfinished request), threads.
    nlohmann::json stats() const;

private:
    std::uint16_t port_ = 0;
    std::unique_ptr<origin::OriginState> state_;
    std::vector<std::unique_ptr<origin::EventLoop>> loops_;
    std::vector<std::thread> threads_;
    std::mutex lifecycle_mutex_;
    bool started_ = false, stopped_ = false;
};

// `rosetta origin`: starts a server, prints "listening on 127.0.0.1:PORT" as the first line
// of stdout, waits for SIGINT or SIGTERM, stops cleanly. Returns the exit code: 0, or 1 when
// the server could not start (the reason on stderr).
int run_origin_command(const Spec& spec, const OriginOptions& options = {});

}  // namespace rosetta
