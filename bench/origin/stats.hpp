// What the origin counts, shared by all its event loops: the harness reads it through
// GET /__stats to prove what a client did (no duplicate fetch, C10k really held).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

namespace rosetta {
class Site;
}

namespace rosetta::origin {

// A level and the highest it has been. Two relaxed atomics: the peak may trail the level by
// a moment, never miss a maximum.
class PeakGauge {
public:
    void add() {
        std::int64_t now = level_.fetch_add(1, std::memory_order_relaxed) + 1;
        std::int64_t peak = peak_.load(std::memory_order_relaxed);
        while (now > peak && !peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
        }
    }
    void remove() { level_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t level() const { return level_.load(std::memory_order_relaxed); }
    std::int64_t peak() const { return peak_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> level_{0}, peak_{0};
};

// Requests per path. The counter is also the attempt number the fault draw uses, so it is
// shared by all loops: a retry that lands on another loop still sees attempt 2. Only the
// site's own paths ("/" and the pages) have a counter each: an array of atomics indexed by
// id, no lock on the hot path, 4 bytes a page, so the state is bounded by the site whatever
// clients ask for. Every other path (404 junk, a crawler following what is not a link) goes
// to one bucket, other_paths: 100,000 distinct junk paths used to cost 30 MB and a 21 MB
// /__stats. The bucket is also the attempt number of an unknown path, which is exact for a
// client that requests one unknown path only (a crawl whose --start is not a page): that is
// all a correct client does, and any other is already wrong by the site truth.
class RequestCounts {
public:
    explicit RequestCounts(const Site& site);

    // Counts one more request for path, the page it names if any (Site::page_of), and returns
    // its attempt number (1 for the first).
    std::uint32_t count(std::string_view path, std::optional<int> page);
    // Every request counted: the sum of paths() and other_paths().
    std::uint64_t total() const { return total_.load(std::memory_order_relaxed); }
    // {"/p/3": 2, ...}: every site path requested at least once.
    nlohmann::json paths() const;
    // Requests to paths outside the site, all together.
    std::uint64_t other_paths() const { return others_.load(std::memory_order_relaxed); }

private:
    std::size_t pages_ = 0;
    std::unique_ptr<std::atomic<std::uint32_t>[]> page_counts_;
    std::atomic<std::uint32_t> root_count_{0};  // "/" is page 0's body but a path of its own
    std::atomic<std::uint64_t> others_{0};
    std::atomic<std::uint64_t> total_{0};
};

}  // namespace rosetta::origin
