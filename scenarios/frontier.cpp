#include "scenarios/frontier.hpp"

#include "scenarios/url.hpp"

namespace rosetta {

Frontier::Frontier(std::string authority, std::optional<int> budget) : authority_(std::move(authority)) {
    if (budget) budget_ = static_cast<std::size_t>(*budget);
}

bool Frontier::admit(const std::string& url) {
    if (budget_spent() || !same_origin(url, authority_)) return false;
    return seen_.insert(url).second;
}

std::vector<std::string> Frontier::admit_all(const std::vector<std::string>& urls) {
    std::vector<std::string> admitted;
    for (const std::string& url : urls)
        if (admit(url)) admitted.push_back(url);
    return admitted;
}

}  // namespace rosetta
