// What every event loop of one origin serves and counts: the site, its pages and their head
// ready to send, and the counters GET /__stats reports. Built once before any loop runs, and
// read-only after but for the counters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bench/origin/stats.hpp"
#include "scenarios/site.hpp"
#include "scenarios/spec.hpp"

namespace rosetta::origin {

using Clock = std::chrono::steady_clock;

struct OriginState {
    OriginState(const Spec& spec, std::string authority, Clock::duration header_timeout);

    Site site;
    Clock::duration latency;
    // How long a request may take to arrive once its first byte has (OriginOptions).
    Clock::duration header_timeout;
    int threads;
    // Every page back to back when pages * page_bytes fits the cache budget, else empty and
    // pages are generated per request.
    std::string bodies;
    // All pages have the same length, so one 200 head serves them all.
    std::string page_head_keep_alive, page_head_close;

    RequestCounts counts;
    PeakGauge connections, inflight;
    // Every connection accept4 returned, all loops together: with keep-alive a client opens
    // at most one per concurrent request, without it one per request.
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> bad_requests{0};
    // Connections closed because a request they started was not complete in header_timeout.
    std::atomic<std::uint64_t> header_timeouts{0};

    std::optional<std::string_view> cached_body(int page) const;
    nlohmann::json stats() const;
};

}  // namespace rosetta::origin
