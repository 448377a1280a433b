#include "bench/origin/stats.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "scenarios/site.hpp"

namespace rosetta::origin {

RequestCounts::RequestCounts(const Site& site)
    : pages_(static_cast<std::size_t>(site.params().pages)),
      page_counts_(std::make_unique<std::atomic<std::uint32_t>[]>(pages_)) {}

std::uint32_t RequestCounts::count(std::string_view path, std::optional<int> page) {
    total_.fetch_add(1, std::memory_order_relaxed);
    if (path == "/") return root_count_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (page)
        return page_counts_[static_cast<std::size_t>(*page)].fetch_add(1,
                                                                       std::memory_order_relaxed) +
               1;
    return static_cast<std::uint32_t>(others_.fetch_add(1, std::memory_order_relaxed) + 1);
}

nlohmann::json RequestCounts::paths() const {
    nlohmann::json paths = nlohmann::json::object();
    if (std::uint32_t n = root_count_.load(std::memory_order_relaxed)) paths["/"] = n;
    // O(pages) per call, ~10 ms at the 10M-page maximum: fine for a probe read once a run.
    for (std::size_t id = 0; id < pages_; ++id)
        if (std::uint32_t n = page_counts_[id].load(std::memory_order_relaxed))
            paths["/p/" + std::to_string(id)] = n;
    return paths;
}

}  // namespace rosetta::origin
