#include "scenarios/verify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "scenarios/url.hpp"

namespace rosetta {

namespace {

class Mismatches {
public:
    explicit Mismatches(std::size_t max) : max_(max) {}
    template <typename... Args>
    void add(fmt::format_string<Args...> format, Args&&... args) {
        if (list_.size() < max_) list_.push_back(fmt::format(format, std::forward<Args>(args)...));
        ++count_;
    }
    void unexpected(Outcome got) { ++unexpected_[std::string(to_string(got))]; }
    Verdict verdict() && {
        return Verdict{count_ == 0, std::move(list_), count_, std::move(unexpected_)};
    }

private:
    std::size_t max_;
    std::vector<std::string> list_;
    std::size_t count_ = 0;
    std::map<std::string, std::size_t> unexpected_;
};

std::string describe(Outcome outcome, int status) {
    if (outcome == Outcome::http_error) return fmt::format("http_error {}", status);
    return std::string(to_string(outcome));
}

}  // namespace

Verdict verify(const VerifyInput& in, std::size_t max_reported) {
    Mismatches bad(max_reported);
    // The start as the model fetched it (ModelRun::start_url normalises it the same way).
    const std::string start = normalize_path(in.start).value_or(in.start);
    const std::string prefix = "http://" + in.site.params().authority;

    // Attempts per path, in attempt order. Paths keep first-fetch order for stable messages.
    std::unordered_map<std::string, std::vector<const Record*>> attempts;
    std::vector<std::string> fetched;
    for (const Record& r : in.records) {
        if (r.url.compare(0, prefix.size(), prefix) != 0 || r.url.size() == prefix.size() ||
            r.url[prefix.size()] != '/') {
            bad.add("fetched {}, which is not on the origin {}", r.url, in.site.params().authority);
            continue;
        }
        std::string path = r.url.substr(prefix.size());
        auto [it, inserted] = attempts.try_emplace(path);
        if (inserted) fetched.push_back(path);
        it->second.push_back(&r);
    }

    // Each URL: attempts 1..n, each with the outcome the truth predicts, ok bodies intact.
    std::unordered_set<std::string> succeeded;
    for (const std::string& path : fetched) {
        auto& list = attempts[path];
        std::stable_sort(list.begin(), list.end(),
                         [](const Record* a, const Record* b) { return a->attempt < b->attempt; });
        ExpectedUrl expected = in.site.expected(path, in.retries);
        bool numbering_ok = true;
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (list[i]->attempt != static_cast<int>(i) + 1) {
                bad.add(
                    "{}: attempts are numbered {} where {} was expected (lost or counted twice)",
                    path, list[i]->attempt, i + 1);
                numbering_ok = false;
                break;
            }
        }
        if (!numbering_ok) continue;
        for (std::size_t i = 0; i < list.size() && i < expected.attempts.size(); ++i) {
            const Record& got = *list[i];
            const ExpectedAttempt& want = expected.attempts[i];
            bool same = got.outcome == want.outcome &&
                        (want.outcome != Outcome::http_error || got.status == want.status);
            if (!same) {
                bad.unexpected(got.outcome);
                bad.add("{} attempt {}: expected {}, got {}{}", path, i + 1,
                        describe(want.outcome, want.status), describe(got.outcome, got.status),
                        got.error.empty() ? "" : " (" + got.error + ")");
            } else if (got.outcome == Outcome::ok &&
                       (got.bytes != expected.bytes || got.checksum != expected.checksum)) {
                bad.add(
                    "{} attempt {}: body of {} bytes, checksum {:016x}; expected {} bytes, {:016x}",
                    path, i + 1, got.bytes, got.checksum, expected.bytes, expected.checksum);
            }
        }
        if (list.size() != expected.attempts.size())
            bad.add("{}: {} attempts, expected {} (final {})", path, list.size(),
                    expected.attempts.size(),
                    describe(expected.final_outcome, expected.final_status));
        if (list.back()->outcome == Outcome::ok) succeeded.insert(path);
    }

    // The set of URLs: download fetches every page; crawl fetches the reachable set, or with a
    // budget a prefix of it that is closed under discovery.
    std::vector<std::string> want = in.scenario == Scenario::download
                                        ? in.site.download_paths()
                                        : in.site.reachable(start, in.retries);
    std::unordered_set<std::string> want_set(want.begin(), want.end());
    std::size_t budget = want.size();
    if (in.scenario == Scenario::crawl && in.max_pages)
        budget = std::min<std::size_t>(budget, static_cast<std::size_t>(*in.max_pages));
    for (const std::string& path : fetched)
        if (!want_set.count(path))
            bad.add("{} was fetched but is not {}", path,
                    in.scenario == Scenario::download ? "a page of the download"
                                                      : "reachable from " + start);
    if (fetched.size() != budget) bad.add("{} URLs fetched, expected {}", fetched.size(), budget);
    if (budget == want.size()) {
        for (const std::string& path : want)
            if (!attempts.count(path)) bad.add("{} was never fetched", path);
    } else {
        // Budgeted crawl: which pages fit depends on timing, but every one must have been
        // discovered on a page that was itself fetched successfully.
        if (!attempts.count(start)) bad.add("the start {} was never fetched", start);
        std::unordered_set<std::string> discovered{start};
        for (const std::string& path : fetched) {
            if (!succeeded.count(path)) continue;
            if (auto page = in.site.page_of(path))
                for (std::string& link : in.site.page_links(*page))
                    discovered.insert(std::move(link));
        }
        for (const std::string& path : fetched)
            if (!discovered.count(path))
                bad.add("{} was fetched but no fetched page links to it", path);
    }

    // The origin's view: no path requested more often than the client says it tried.
    if (in.origin_counts) {
        for (const auto& [path, count] : *in.origin_counts) {
            auto it = attempts.find(path);
            std::uint64_t tried = it == attempts.end() ? 0 : it->second.size();
            if (count > tried)
                bad.add("the origin served {} {} times, but the records show {} attempts", path,
                        count, tried);
        }
        std::uint64_t tried_elsewhere = 0;
        for (const auto& [path, list] : attempts)
            if (!in.site.page_of(path)) tried_elsewhere += list.size();
        if (in.origin_other_paths > tried_elsewhere)
            bad.add(
                "the origin served {} requests for paths outside the site, but the records show "
                "{} attempts",
                in.origin_other_paths, tried_elsewhere);
    }
    return std::move(bad).verdict();
}

}  // namespace rosetta
