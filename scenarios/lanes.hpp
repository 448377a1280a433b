// --threads T for the models that run one event loop or scheduler a thread (epoll-callbacks,
// boost-fibers): how many lanes a run uses, and what lane i owns of the C requests and of the
// download's URLs. Each lane owns its share outright, so no lane takes a lock to start its
// next URL.
#pragma once

#include <algorithm>
#include <cstddef>

namespace rosetta {

// The lanes a run uses: --threads, but no more than C (a lane with no request is not started),
// and at least one.
inline int lanes_for(int threads, int concurrency) {
    return std::max(1, std::min(threads, concurrency));
}

// Lane i's share of C requests over `lanes`: C/lanes, and one more for the first C%lanes.
inline int concurrency_share(int concurrency, int lanes, int i) {
    return concurrency / lanes + (i < concurrency % lanes ? 1 : 0);
}

// Lane i's slice [begin, end) of the download's `urls` URLs: contiguous, in proportion to its
// share of C, the slices of lanes 0..lanes-1 covering every URL once in order.
struct Slice {
    std::size_t begin = 0;
    std::size_t end = 0;
};
inline Slice url_slice(std::size_t urls, int concurrency, int lanes, int i) {
    auto through = [&](int lane) {  // the shares of lanes 0..lane-1, summed
        return static_cast<std::size_t>(lane * (concurrency / lanes) +
                                        std::min(lane, concurrency % lanes));
    };
    const auto c = static_cast<std::size_t>(concurrency);
    return {urls * through(i) / c, urls * through(i + 1) / c};
}

}  // namespace rosetta
