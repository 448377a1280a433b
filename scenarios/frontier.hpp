// The crawl's bookkeeping, free of any waiting: the URLs seen, the queue of those still to
// fetch, how many fetches are under way, and the budget. It also knows when the crawl is
// over, which no single fetch can: nothing queued and nothing in flight (asyncio's Queue with
// task_done() and join() in the 500 Lines crawler).
//
//     Frontier frontier(run);
//     while (auto url = frontier.next())              // a concurrent model: while
//         frontier.done(fetch_url(*url).links);       //   !frontier.finished(), with
//                                                     //   up to C fetches between next and done
//
// Not thread-safe on purpose: a model that shares it between threads, processes or tasks
// guards it in its own way, and that guard is part of the model's lesson.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace rosetta {

class ModelRun;

class Frontier {
public:
    // start_url: absolute, normalised; authority: the origin's "host:port", the only one the
    // crawl follows; budget: --max-pages, the most URLs ever fetched.
    Frontier(const std::string& start_url, std::string authority, std::optional<int> budget);
    // The run's --start, origin and --max-pages.
    explicit Frontier(const ModelRun& run);

    // The next URL to fetch, counted in flight until done(); nullopt when none is queued now
    // (fetches in flight may still find more: finished() tells whether the crawl is over).
    std::optional<std::string> next();
    // A fetch that next() handed out has ended, with the links of its page (empty when it
    // failed). Those on the origin, never seen before and within the budget are queued.
    void done(const std::vector<std::string>& links);
    // Nothing queued and nothing in flight: no fetch can find anything more.
    bool finished() const { return queue_.empty() && in_flight_ == 0; }

    std::size_t queued() const { return queue_.size(); }
    std::size_t in_flight() const { return in_flight_; }

private:
    void admit(const std::string& url);

    std::string authority_;
    std::optional<std::size_t> budget_;
    std::unordered_set<std::string> seen_;  // every URL ever queued: each is fetched once
    std::deque<std::string> queue_;
    std::size_t in_flight_ = 0;
};

}  // namespace rosetta
