// The contract between the shared main (scenarios/model_main.cpp) and a model. A model
// executable is this main plus one model folder, which defines download() and crawl().
#pragma once

#include "scenarios/net.hpp"
#include "scenarios/records.hpp"
#include "scenarios/spec.hpp"

#include <optional>
#include <string>
#include <vector>

namespace rosetta {

struct ModelRun {
    const Spec& spec;
    const Endpoint& origin;
    Recorder& recorder;
    RetryPolicy retry;

    std::string url_of(std::string_view path) const;   // "http://" + authority + path
    std::vector<std::string> download_urls() const;    // /p/0 .. /p/N-1 in the seeded shuffled order
    std::string start_url() const;                      // the crawl's --start as an absolute URL
};

// Empty when the run completed; otherwise the limit it hit, in words a reader can act on,
// e.g. "thread: EAGAIN (RLIMIT_NPROC ... / pid_max 32768)".
using Failure = std::optional<std::string>;

// Defined once per model, in its download.cpp and crawl.cpp.
Failure download(const ModelRun& run);
Failure crawl(const ModelRun& run);

}  // namespace rosetta
