// Epoll-callbacks crawl: the frontier feeds C requests on one reactor, one thread (or on T
// reactors, T threads).
//
// A request that finishes hands its links to the frontier and takes the next URL; requests
// that found nothing queued wait idle, and are started again when another's links queue more.
//
// --threads T: reactor i owns its share of the C requests (scenarios/lanes.hpp); the frontier is
// the run's, under one mutex taken once per finished URL (and once per URL started on a request
// that sat idle), never per I/O event. A reactor whose requests all sit idle may not end while
// others still have pages in flight, whose links may queue more: it is held in run() until the
// frontier is finished, and woken by a post when URLs are queued that it could take. The crawl
// is over when nothing is queued and nothing is in flight anywhere; the reactor that sees it
// releases every reactor, which then ends as its last connection closes.
#include <algorithm>
#include <mutex>

#include "models/epoll-callbacks/reactors.hpp"
#include "models/epoll-callbacks/request.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

namespace {

using epoll_callbacks::Request;

// One reactor and its share of the requests.
struct Lane {
    Lane(const ModelRun& run, int concurrency, std::atomic<bool>& limit_hit)
        : concurrency(concurrency), shared(reactor, run, concurrency, limit_hit) {
        reactor.hold();  // released (by a post) when the crawl is over
    }
    int concurrency;
    reactor::Reactor reactor;
    epoll_callbacks::Shared shared;
    std::vector<std::unique_ptr<Request>> requests;
    std::vector<Request*> idle;  // waiting for a URL (this reactor's thread only)
    bool held = true;            // this reactor's thread only, once running
    // What the other reactors know of this one: guarded by the crawl's mutex.
    std::size_t idle_known = 0;
    bool wake_posted = false;
};

// The frontier and the lanes, which every reactor's thread touches.
class Crawl {
public:
    explicit Crawl(const ModelRun& run) : frontier_(run) {}

    std::vector<std::unique_ptr<Lane>> lanes;
    std::atomic<bool> limit_hit = false;

    // On lane's thread: hands the links of a page just fetched (if any; its request is idle
    // again) to the frontier, then starts queued URLs on the lane's idle requests, one per
    // lock, while both last. Wakes the lanes with idle requests when more is queued than this
    // one takes, and ends every lane when the crawl is over.
    void start_queued(Lane& lane, const std::vector<std::string>* links) {
        for (;;) {
            std::optional<std::string> url;
            bool over = false;
            {
                std::lock_guard lock(mutex_);
                if (links) frontier_.done(*links);
                links = nullptr;
                lane.wake_posted = false;  // a wake still queued for it finds less, harmlessly
                const bool stopping = limit_hit.load(std::memory_order_relaxed);
                if (!stopping && !lane.idle.empty()) url = frontier_.next();
                lane.idle_known = lane.idle.size() - (url ? 1 : 0);
                if (!stopping && frontier_.queued() > lane.idle_known) wake_idle_lanes_locked(lane);
                over = frontier_.finished();
            }
            if (over) return end_all();
            if (!url) return;
            Request* request = lane.idle.back();
            lane.idle.pop_back();
            // May end at once (a refused connect) and come back here through on_fetched: the
            // loop reads everything again each time round.
            request->fetch(std::move(*url));
        }
    }

    // Any thread: releases every lane's hold, so each ends once its requests are idle.
    void end_all() {
        for (const auto& lane : lanes) {
            Lane* other = lane.get();
            other->reactor.post([other] {
                if (!other->held) return;
                other->held = false;
                other->reactor.release();
            });
        }
    }

private:
    void wake_idle_lanes_locked(const Lane& from) {
        for (const auto& lane : lanes) {
            Lane* other = lane.get();
            if (other == &from || other->idle_known == 0 || other->wake_posted) continue;
            other->wake_posted = true;
            // The target's own lock, never ours, is taken inside post: no cycle.
            other->reactor.post([this, other] { start_queued(*other, nullptr); });
        }
    }

    std::mutex mutex_;   // guards frontier_ and every lane's idle_known and wake_posted
    Frontier frontier_;  // not thread-safe: only under mutex_
};

}  // namespace

Failure crawl(const ModelRun& run) {
    Crawl crawl(run);
    const int concurrency = run.spec().concurrency;
    const int count = lanes_for(run.spec().threads, concurrency);
    std::vector<reactor::Reactor*> reactors;
    for (int i = 0; i < count; ++i) {
        crawl.lanes.push_back(
            std::make_unique<Lane>(run, concurrency_share(concurrency, count, i), crawl.limit_hit));
        reactors.push_back(&crawl.lanes.back()->reactor);
    }
    epoll_callbacks::run_each_on_its_thread(reactors, [&](std::size_t i) {
        Lane& lane = *crawl.lanes[i];
        auto on_fetched = [&crawl, &lane](Request& request, const Fetched& fetched) {
            lane.idle.push_back(&request);
            crawl.start_queued(lane, &fetched.links);
        };
        // A limit stops new URLs everywhere: the lanes end once what is in flight is done.
        lane.shared.on_limit = [&crawl] { crawl.end_all(); };
        for (int task = 1; task <= lane.concurrency; ++task) {
            lane.requests.push_back(std::make_unique<Request>(lane.shared, task, on_fetched));
            lane.idle.push_back(lane.requests.back().get());
        }
        std::reverse(lane.idle.begin(), lane.idle.end());  // request 1 first
        crawl.start_queued(lane, nullptr);
    });
    for (const auto& lane : crawl.lanes)
        if (lane->shared.limit) return lane->shared.limit;
    return std::nullopt;
}

}  // namespace rosetta
