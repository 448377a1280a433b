#include "scenarios/frontier.hpp"

#include <stdexcept>

#include "scenarios/model.hpp"
#include "scenarios/url.hpp"

namespace rosetta {

Frontier::Frontier(const std::string& start_url, std::string authority, std::optional<int> budget)
    : authority_(std::move(authority)) {
    if (budget) budget_ = static_cast<std::size_t>(*budget);
    admit(start_url);
}

Frontier::Frontier(const ModelRun& run)
    : Frontier(run.start_url(), run.origin().authority, run.spec().max_pages) {}

void Frontier::admit(const std::string& url) {
    if (budget_ && seen_.size() >= *budget_) return;
    if (!same_origin(url, authority_)) return;
    if (seen_.insert(url).second) queue_.push_back(url);
}

std::optional<std::string> Frontier::next() {
    if (queue_.empty()) return std::nullopt;
    std::string url = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    return url;
}

void Frontier::done(const std::vector<std::string>& links) {
    if (in_flight_ == 0) throw std::logic_error("Frontier::done without a URL from next()");
    --in_flight_;
    for (const std::string& link : links) admit(link);
}

}  // namespace rosetta
