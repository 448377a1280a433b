// The harness's own connections to an origin: is it there, and what does /__stats say. Each is
// a fresh connection on a non-blocking socket, every wait in poll() against one deadline.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace rosetta {

// nullopt when authority accepts a connection within timeout_ms; else why not, e.g.
// "origin 127.0.0.1:9 unreachable: connect: ECONNREFUSED".
std::optional<std::string> check_reachable(const std::string& authority, int timeout_ms);

// A GET on a fresh connection. The body of a 200, or nullopt.
std::optional<std::string> http_get(const std::string& authority, const std::string& path,
                                    int timeout_ms);

// What the origin's /__stats says about a run.
struct OriginStats {
    std::int64_t peak_inflight = 0;
    // Connections accepted from the client, the probe that asked for these stats not counted.
    std::int64_t connections = 0;
    std::map<std::string, std::uint64_t> paths;  // requests per site path ("/", the pages)
    std::uint64_t other_paths = 0;               // requests to any other path, all together
};
// Reads /__stats (one connection, counted by the origin and taken off again here). Throws
// std::runtime_error naming what went wrong.
OriginStats read_origin_stats(const std::string& authority, int timeout_ms);

}  // namespace rosetta
