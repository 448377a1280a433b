// Epoll-callbacks download: C requests on one reactor, one thread.
//
// Nothing here waits. Each of the C requests starts a URL and returns at once; the reactor
// calls it back as its socket becomes ready, and when its URL is done it takes the next. The
// loop ends when no request has anything left to wait for.
#include "models/epoll-callbacks/request.hpp"

namespace rosetta {

Failure download(const ModelRun& run) {
    const std::vector<std::string> urls = run.download_urls();
    reactor::Reactor reactor;
    epoll_callbacks::Shared shared(reactor, run, run.spec().concurrency);
    std::size_t next = 0;
    auto take_next = [&](epoll_callbacks::Request& request, Fetched) {
        if (!shared.limit && next < urls.size()) request.fetch(urls[next++]);
    };
    std::vector<std::unique_ptr<epoll_callbacks::Request>> requests;
    for (int i = 0; i < run.spec().concurrency && next < urls.size(); ++i) {
        requests.push_back(std::make_unique<epoll_callbacks::Request>(shared, i + 1, take_next));
        requests.back()->fetch(urls[next++]);
    }
    reactor.run();
    return shared.limit;
}

}  // namespace rosetta
