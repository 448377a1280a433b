// Blocking crawl: a queue of URLs to visit and a frontier of those already seen; fetch the
// next URL, admit the links it yields, repeat until the queue is empty or the budget spent.
// The same loop, with its waiting spread out, is every other model's crawl.
#include "models/blocking/fetch.hpp"

#include "scenarios/frontier.hpp"

#include <deque>

namespace rosetta {

Failure crawl(const ModelRun& run) {
    Frontier frontier(run.origin.authority, run.spec.max_pages);
    std::deque<std::string> queue;
    if (frontier.admit(run.start_url())) queue.push_back(run.start_url());

    blocking::Connection connection;
    while (!queue.empty()) {
        std::string url = std::move(queue.front());
        queue.pop_front();
        std::vector<std::string> links;
        blocking::fetch_url(run, connection, url, &links);
        for (std::string& link : frontier.admit_all(links)) queue.push_back(std::move(link));
    }
    return std::nullopt;
}

}  // namespace rosetta
