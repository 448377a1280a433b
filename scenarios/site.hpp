// The site truth: the synthetic web as a pure function of (seed, pages, links, page_bytes,
// faults, authority). The origin serves it; the verifier checks a run against it. Nothing
// here keeps state between calls, so both sides compute the same answer independently.
//
// A page is an HTML document of exactly page_bytes bytes:
//
//   <!DOCTYPE html> <head> with <base href="/p/"> ... <h1>
//   <ul> `links` links, each in one of ten shapes (relative, ./, ../p/, /p/, absolute with the
//        site's authority, with a fragment, entity-encoded twice over, unquoted upper-case,
//        single-quoted), then one duplicate of an earlier target in another shape </ul>
//   off-site links (http://offsite-N.example/..., //offsite-N.example/...)
//   a link inside a comment and one inside a <script> string, both to pages that don't exist
//   seeded filler paragraphs up to page_bytes, then </body></html>
//
// page_links() answers from the generator's intent, not by parsing its own output, so a
// crawler whose link extraction differs from it is wrong, not the site.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/outcome.hpp"
#include "scenarios/spec.hpp"

namespace rosetta {

enum class Fault { none, reset, stall, status, notfound, truncate, malformed, slow };
std::string_view to_string(Fault fault);

struct SiteParams {
    std::uint64_t seed = 1;
    int pages = 1000;
    int links = 8;
    int page_bytes = 16384;
    FaultRates faults;
    std::string authority;  // "127.0.0.1:PORT", the authority the pages' absolute links name

    static SiteParams from(const Spec& spec, std::string authority);
};

struct ExpectedAttempt {
    Outcome outcome;
    int status;  // 0 when no response
};

struct ExpectedUrl {
    std::vector<ExpectedAttempt> attempts;  // exactly the attempts a correct client makes
    Outcome final_outcome = Outcome::ok;
    int final_status = 0;
    std::uint64_t bytes = 0, checksum = 0;  // of the body when final_outcome is ok
};

class Site {
public:
    explicit Site(SiteParams params);

    const SiteParams& params() const { return params_; }

    // "/" -> 0, "/p/<id>" (0 <= id < pages, canonical decimal) -> id, anything else nullopt.
    std::optional<int> page_of(std::string_view path) const;
    // Exactly page_bytes bytes. Throws std::logic_error if the skeleton alone does not fit.
    std::string page_html(int id) const;
    std::uint64_t page_checksum(int id) const;
    // The paths a correct crawler follows from page id: resolved, same-origin, fragment
    // dropped, deduplicated, in order of first appearance.
    std::vector<std::string> page_links(int id) const;

    // The fault injected on the attempt-th request (attempt >= 1) for path. "/__stats" never.
    Fault fault(std::string_view path, int attempt) const;
    // What a correct client sees for path when it retries retryable outcomes `retries` times.
    ExpectedUrl expected(std::string_view path, int retries) const;
    // Breadth-first from start; a page is expanded only if its final outcome is ok.
    std::vector<std::string> reachable(std::string_view start, int retries) const;
    // "/p/0" .. "/p/N-1" in a seeded shuffled order: what the download scenario fetches.
    std::vector<std::string> download_paths() const;

private:
    // expected() without the body checksum, which costs a page generation.
    ExpectedUrl expected_attempts(std::string_view path, int retries) const;

    SiteParams params_;
    double fault_edges_[7];  // cumulative rates in the order of Fault, reset .. slow
};

}  // namespace rosetta
