// The crawl's bookkeeping, free of any waiting: which URLs were seen, which are worth fetching,
// and the budget. Not thread-safe on purpose: a model that shares it between threads guards
// it itself, and that guard is part of the model's lesson.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace rosetta {

class Frontier {
public:
    // authority: the origin's "host:port", the only one the crawl follows.
    // budget: --max-pages, the most URLs ever admitted.
    Frontier(std::string authority, std::optional<int> budget);

    // True when url (absolute, normalised) is on the origin, was never admitted before and the
    // budget has room: the caller must then fetch it, exactly once.
    bool admit(const std::string& url);
    // The admitted ones among urls, in order.
    std::vector<std::string> admit_all(const std::vector<std::string>& urls);

    bool budget_spent() const { return budget_ && seen_.size() >= *budget_; }

private:
    std::string authority_;
    std::optional<std::size_t> budget_;
    std::unordered_set<std::string> seen_;
};

}  // namespace rosetta
