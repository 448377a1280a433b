// The verifier: compares what a run did (its records, and the origin's request counts) with
// what the site truth says a correct client must do. It names the first mismatches, so a
// failed verification reads as a bug report, not as a boolean.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/records.hpp"
#include "scenarios/site.hpp"
#include "scenarios/spec.hpp"

namespace rosetta {

struct VerifyInput {
    const Site& site;
    Scenario scenario = Scenario::download;
    int retries = 2;
    std::optional<int> max_pages;
    std::string start = "/";
    const std::vector<Record>& records;
    // Site path ("/", a page) -> requests the origin received for it (from /__stats); null:
    // not checked.
    const std::map<std::string, std::uint64_t>* origin_counts = nullptr;
    // Requests the origin received for paths outside the site, which it counts in one bucket
    // (other_paths); checked with origin_counts.
    std::uint64_t origin_other_paths = 0;
};

struct Verdict {
    bool verified = true;
    std::vector<std::string> mismatches;  // the first ones, in a stable order
    std::size_t mismatch_count = 0;       // all of them
    // Attempts that ended otherwise than the site answers, by the outcome they got (e.g.
    // "timeout": 151): what a run that could not keep up shows, named in its failure.
    std::map<std::string, std::size_t> unexpected;
};

Verdict verify(const VerifyInput& input, std::size_t max_reported = 10);

}  // namespace rosetta
