// The contract between the shared main (scenarios/model_main.cpp) and a model. A model
// executable is this main plus one model folder, which defines download() and crawl().
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/net.hpp"
#include "scenarios/records.hpp"
#include "scenarios/spec.hpp"

namespace rosetta {

// Whether a URL gets another attempt, as ModelRun::record decides.
enum class Next { done, retry };

// What a model is given: the spec, the origin, and where its attempts go. Shared by all of a
// model's tasks (read-only but for the sink, which is thread-safe).
class ModelRun {
public:
    ModelRun(const Spec& spec, const Endpoint& origin, AttemptSink& sink)
        : spec_(spec), origin_(origin), sink_(sink), retry_{spec.retries} {}

    const Spec& spec() const { return spec_; }
    const Endpoint& origin() const { return origin_; }
    bool crawling() const { return spec_.scenario == Scenario::crawl; }

    // The end of one attempt, in one step that cannot be half done: decides by the retry
    // policy whether the URL gets another attempt, and records the attempt as final or not
    // accordingly.
    Next record(const Record& attempt) const;
    // Records the attempt as its URL's last whatever the policy would say: the model stopped
    // trying (process-per-task kills a child that outlived its whole attempt budget).
    void give_up(const Record& attempt) const { sink_.record(attempt, true); }

    // The same run with its attempts going to another sink: process-per-task's child, whose
    // attempts travel to the parent over a pipe.
    ModelRun with_sink(AttemptSink& sink) const { return {spec_, origin_, sink}; }

    std::string url_of(std::string_view path) const;  // "http://" + authority + path, normalised
    std::vector<std::string> download_urls() const;   // /p/0 .. /p/N-1 in the seeded shuffled order
    std::string start_url() const;                    // the crawl's --start as an absolute URL

private:
    const Spec& spec_;
    const Endpoint& origin_;
    AttemptSink& sink_;
    RetryPolicy retry_;
};

// Empty when the run completed; otherwise the limit it hit, in words a reader can act on,
// e.g. "thread: EAGAIN (RLIMIT_NPROC ... / pid_max 32768)".
using Failure = std::optional<std::string>;

// The words of an exception a task let escape (a LimitReached names the limit), for a model
// that caught it as a std::exception_ptr: copying one never allocates, so a thread can keep it
// even when memory has run out. Empty for a null pointer.
Failure failure_of(const std::exception_ptr& error);

// Defined once per model, in its download.cpp and crawl.cpp.
Failure download(const ModelRun& run);
Failure crawl(const ModelRun& run);

}  // namespace rosetta
