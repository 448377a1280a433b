// What the stackless-coroutines runtime costs (models/stackless-coroutines).
//
// BM_await_task: co_await of a Task that finishes at once — a frame from the pool, a jump in,
// a jump back (symmetric transfer). BM_spawn_join: a strand spawned into a TaskGroup and
// joined: two frames, the group's bookkeeping, a wake through the loop's ready queue.
// BM_frames_of_a_suspended_fetch: what a fetch holds while it waits for its response — its
// chain of frames (spawned task, fetch_url, fetch, timeout_at, the try, receive), counted by
// the frame pool while N fetches wait on an in-process origin's think time. That is the
// "stack" of a coroutine: the thread-per-task model gives each task 256 KiB of address space
// and touches tens of KiB of it.
#include <benchmark/benchmark.h>

#include "bench/origin/origin.hpp"
#include "models/stackless-coroutines/fetch.hpp"

namespace {

using namespace rosetta;
using namespace rosetta::coro;

constexpr std::int64_t ms = 1'000'000;

Task<int> one() { co_return 1; }

void BM_await_task(benchmark::State& state) {
    Loop loop;
    auto awaits = [&](std::int64_t n) -> Task<long> {
        long sum = 0;
        for (std::int64_t i = 0; i < n; ++i) sum += co_await one();
        co_return sum;
    };
    for (auto _ : state) benchmark::DoNotOptimize(loop.run(awaits(1000)));
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_await_task);

Task<void> nothing() { co_return; }

void BM_spawn_join(benchmark::State& state) {
    Loop loop;
    auto spawns = [&](std::int64_t n) -> Task<void> {
        TaskGroup group(loop);
        for (std::int64_t i = 0; i < n; ++i) group.spawn(nothing());
        co_await group.join();
    };
    for (auto _ : state) loop.run(spawns(1000));
    state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_spawn_join);

class NoSink final : public AttemptSink {
public:
    void record(const Record&, bool) override {}
};

void BM_frames_of_a_suspended_fetch(benchmark::State& state) {
    const int fetches = static_cast<int>(state.range(0));
    Spec spec;
    spec.pages = fetches;
    spec.latency_ms = 200;  // every fetch waits for its response this long
    spec.concurrency = fetches;
    OriginServer origin(spec);
    origin.start();
    Endpoint endpoint = resolve_endpoint(origin.authority());
    NoSink sink;
    ModelRun run(spec, endpoint, sink);
    const std::vector<std::string> urls = run.download_urls();
    double frames_per_fetch = 0, bytes_per_fetch = 0;
    for (auto _ : state) {
        Loop loop;
        stackless_coroutines::Shared shared(loop, run, fetches);
        auto fetch_one = [&](const std::string& url, std::uint64_t task) -> Task<void> {
            stackless_coroutines::SocketPtr connection;
            co_await stackless_coroutines::fetch_url(shared, connection, url, {1, task});
        };
        auto main_task = [&]() -> Task<void> {
            const frames::Counts before = frames::counts();
            TaskGroup group(loop);
            for (int i = 0; i < fetches; ++i)
                group.spawn(fetch_one(urls[static_cast<std::size_t>(i)], i + 1u));
            co_await sleep_for(100 * ms);  // all connected and sent; the origin is thinking
            const frames::Counts waiting = frames::counts();
            frames_per_fetch = double(waiting.alive - before.alive) / fetches;
            bytes_per_fetch = double(waiting.bytes_alive - before.bytes_alive) / fetches;
            co_await group.join();
        };
        loop.run(main_task());
    }
    state.counters["frames_per_fetch"] = frames_per_fetch;
    state.counters["frame_bytes_per_fetch"] = bytes_per_fetch;
}
BENCHMARK(BM_frames_of_a_suspended_fetch)->Arg(100)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
