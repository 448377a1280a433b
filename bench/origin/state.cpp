#include "bench/origin/state.hpp"

#include <nlohmann/json.hpp>

#include "bench/origin/reply.hpp"

namespace rosetta::origin {

OriginState::OriginState(const Spec& spec, std::string authority, Clock::duration header_timeout)
    : site(SiteParams::from(spec, std::move(authority))),
      latency(std::chrono::milliseconds(spec.latency_ms)),
      header_timeout(header_timeout),
      threads(spec.threads),
      counts(site) {
    // 256 MiB holds the default site 16,000 times over; past it generating a 16 KiB page per
    // request (~30 us) is cheaper than the memory.
    constexpr std::size_t cache_budget = std::size_t{256} << 20;
    const auto page_bytes = static_cast<std::size_t>(site.params().page_bytes);
    const auto pages = static_cast<std::size_t>(site.params().pages);
    if (pages * page_bytes <= cache_budget) {
        bodies.reserve(pages * page_bytes);
        for (std::size_t id = 0; id < pages; ++id) bodies += site.page_html(static_cast<int>(id));
    }
    page_head_keep_alive = page_head(page_bytes, true);
    page_head_close = page_head(page_bytes, false);
}

std::optional<std::string_view> OriginState::cached_body(int page) const {
    if (bodies.empty()) return std::nullopt;
    const auto page_bytes = static_cast<std::size_t>(site.params().page_bytes);
    return std::string_view(bodies).substr(static_cast<std::size_t>(page) * page_bytes, page_bytes);
}

nlohmann::json OriginState::stats() const {
    return {{"requests", counts.total()},
            {"paths", counts.paths()},
            {"other_paths", counts.other_paths()},
            {"connections_accepted", connections_accepted.load(std::memory_order_relaxed)},
            {"peak_connections", connections.peak()},
            {"peak_inflight", inflight.peak()},
            {"connections", connections.level()},
            {"inflight", inflight.level()},
            {"bad_requests", bad_requests.load(std::memory_order_relaxed)},
            {"header_timeouts", header_timeouts.load(std::memory_order_relaxed)},
            {"threads", threads}};
}

}  // namespace rosetta::origin
