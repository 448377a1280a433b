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
//
// run_in_executor, and when it pays: BM_executor_round_trip is the price of handing nothing to
// a TBB worker and having the answer posted back; BM_links_on_the_loop / _on_the_executor
// extract the links of 8 pages of N KiB on the loop's thread one after the other, or as 8
// jobs on a 2-worker executor gathered by the loop. Offloading pays once a page's extraction
// is well above the round trip and a core is free for the workers.
#include <benchmark/benchmark.h>

#include "bench/origin/origin.hpp"
#include "models/stackless-coroutines/executor.hpp"
#include "models/stackless-coroutines/fetch.hpp"
#include "scenarios/links.hpp"

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
            Fetched fetched;
            co_await stackless_coroutines::fetch_url(shared, connection, url, {1, task}, fetched);
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

void BM_executor_round_trip(benchmark::State& state) {
    Loop loop;
    Executor executor(1);
    auto round_trips = [&](int n) -> Task<long> {
        long sum = 0;
        for (int i = 0; i < n; ++i) sum += co_await executor.run([] { return 1; });
        co_return sum;
    };
    for (auto _ : state) benchmark::DoNotOptimize(loop.run(round_trips(100)));
    state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_executor_round_trip)->UseRealTime();

// A page of about kib KiB: paragraphs of words with a link every few hundred bytes.
std::string make_page(std::int64_t kib) {
    std::string page = "<html><head><title>t</title></head><body>";
    for (int i = 0; page.size() < static_cast<std::size_t>(kib) * 1024; ++i) {
        page += "<p>the origin serves pages of plain words and links that every model fetches ";
        page += "<a href=\"/p/" + std::to_string(i % 1000) + "\">page</a> under a budget.</p>\n";
    }
    return page + "</body></html>";
}

constexpr int pages_per_run = 8;
constexpr std::string_view page_url = "http://127.0.0.1:8080/p/1";

void BM_links_on_the_loop(benchmark::State& state) {
    const std::string page = make_page(state.range(0));
    Loop loop;
    auto extract_all = [&]() -> Task<std::size_t> {
        std::size_t links = 0;
        for (int i = 0; i < pages_per_run; ++i) links += extract_links(page, page_url).size();
        co_return links;
    };
    for (auto _ : state) benchmark::DoNotOptimize(loop.run(extract_all()));
    state.SetItemsProcessed(state.iterations() * pages_per_run);
}
BENCHMARK(BM_links_on_the_loop)->Arg(16)->Arg(256)->Arg(1024)->UseRealTime();

void BM_links_on_the_executor(benchmark::State& state) {
    const std::string page = make_page(state.range(0));
    Loop loop;
    Executor executor(2);
    auto extract = [&]() -> Task<std::size_t> {
        co_return co_await executor.run([&] { return extract_links(page, page_url).size(); });
    };
    auto extract_all = [&]() -> Task<std::vector<std::size_t>> {
        std::vector<Task<std::size_t>> jobs;
        for (int i = 0; i < pages_per_run; ++i) jobs.push_back(extract());
        co_return co_await gather(std::move(jobs));
    };
    for (auto _ : state) benchmark::DoNotOptimize(loop.run(extract_all()));
    state.SetItemsProcessed(state.iterations() * pages_per_run);
}
BENCHMARK(BM_links_on_the_executor)->Arg(16)->Arg(256)->Arg(1024)->UseRealTime();

}  // namespace
