// Epoll-callbacks download: C requests on one reactor, one thread (or on T reactors, T threads).
//
// Nothing here waits. Each of the C requests starts a URL and returns at once; the reactor
// calls it back as its socket becomes ready, and when its URL is done it takes the next. The
// loop ends when no request has anything left to wait for.
//
// --threads T: reactor i gets its share of C (scenarios/lanes.hpp) and a contiguous slice of the
// URLs in proportion to it, so each takes its next URL from its own slice without a lock. All they
// share is whether any of them hit a limit, read once per URL.
#include "models/epoll-callbacks/reactors.hpp"
#include "models/epoll-callbacks/request.hpp"

namespace rosetta {

namespace {

constexpr int start_batch_size = 64;

// One reactor and its share: the requests, the slice of URLs, the next one to start.
struct Lane {
    Lane(const ModelRun& run, int concurrency, std::atomic<bool>& limit_hit)
        : concurrency(concurrency), shared(reactor, run, concurrency, limit_hit) {}
    int concurrency;
    reactor::Reactor reactor;
    epoll_callbacks::Shared shared;
    const std::string* next = nullptr;
    const std::string* end = nullptr;
    std::vector<std::unique_ptr<epoll_callbacks::Request>> requests;
    std::function<void()> start_batch;  // starts the next requests, up to C
};

}  // namespace

Failure download(const ModelRun& run) {
    const std::vector<std::string> urls = run.download_urls();
    const int concurrency = run.spec().concurrency;
    const int count = lanes_for(run.spec().threads, concurrency);
    std::atomic<bool> limit_hit = false;
    std::vector<std::unique_ptr<Lane>> lanes;
    std::vector<reactor::Reactor*> reactors;
    for (int i = 0; i < count; ++i) {
        lanes.push_back(
            std::make_unique<Lane>(run, concurrency_share(concurrency, count, i), limit_hit));
        const Slice slice = url_slice(urls.size(), concurrency, count, i);
        lanes.back()->next = urls.data() + slice.begin;
        lanes.back()->end = urls.data() + slice.end;
        reactors.push_back(&lanes.back()->reactor);
    }
    epoll_callbacks::run_each_on_its_thread(reactors, [&](std::size_t i) {
        Lane& lane = *lanes[i];
        auto take_next = [&lane](epoll_callbacks::Request& request, const Fetched&) {
            if (!lane.shared.limit_hit.load(std::memory_order_relaxed) && lane.next != lane.end)
                request.fetch(*lane.next++);
        };
        // The C requests start a batch per loop iteration, not all before the first
        // epoll_wait: at C=10,000 the connects alone take 0.4 s, and the first connected would
        // wait that long to send.
        lane.start_batch = [&lane, take_next] {
            for (int started = 0; started < start_batch_size; ++started) {
                const int task = static_cast<int>(lane.requests.size()) + 1;
                if (task > lane.concurrency || lane.next == lane.end ||
                    lane.shared.limit_hit.load(std::memory_order_relaxed))
                    return;
                lane.requests.push_back(
                    std::make_unique<epoll_callbacks::Request>(lane.shared, task, take_next));
                lane.requests.back()->fetch(*lane.next++);
            }
            lane.reactor.call_soon([&lane] { lane.start_batch(); });
        };
        lane.start_batch();
    });
    for (const auto& lane : lanes)
        if (lane->shared.limit) return lane->shared.limit;
    return std::nullopt;
}

}  // namespace rosetta
