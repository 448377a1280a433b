// Epoll-callbacks crawl: the frontier feeds C requests on one reactor, one thread.
//
// A request that finishes hands its links to the frontier and takes the next URL; requests
// that found nothing queued wait idle, and are started again when another's links queue more.
// No lock: one thread owns the frontier.
#include <algorithm>

#include "models/epoll-callbacks/request.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

Failure crawl(const ModelRun& run) {
    reactor::Reactor reactor;
    epoll_callbacks::Shared shared(reactor, run, run.spec().concurrency);
    Frontier frontier(run);
    std::vector<std::unique_ptr<epoll_callbacks::Request>> requests;
    std::vector<epoll_callbacks::Request*> idle;
    // Starts queued URLs on idle requests while both last.
    auto start_queued = [&] {
        while (!shared.limit && !idle.empty()) {
            std::optional<std::string> url = frontier.next();
            if (!url) return;
            epoll_callbacks::Request* request = idle.back();
            idle.pop_back();
            request->fetch(std::move(*url));
        }
    };
    auto on_fetched = [&](epoll_callbacks::Request& request, Fetched fetched) {
        frontier.done(fetched.links);
        idle.push_back(&request);
        start_queued();
    };
    for (int i = 0; i < run.spec().concurrency; ++i) {
        requests.push_back(std::make_unique<epoll_callbacks::Request>(shared, i + 1, on_fetched));
        idle.push_back(requests.back().get());
    }
    std::reverse(idle.begin(), idle.end());  // request 1 first
    start_queued();
    reactor.run();
    return shared.limit;
}

}  // namespace rosetta
