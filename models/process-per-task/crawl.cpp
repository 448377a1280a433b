// Process-per-task crawl: the parent owns the frontier and is its only user, so it needs no
// lock. It forks a child for the next URL while fewer than C are alive; otherwise, or with
// nothing queued, it waits for a child to end and hands the frontier the links it sent.
#include "models/process-per-task/children.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

Failure crawl(const ModelRun& run) {
    Frontier frontier(run);
    process_per_task::Children children(run, run.spec().concurrency);
    Failure refused;
    while (!frontier.finished() && !children.failure()) {
        std::optional<std::string> url = children.full() ? std::nullopt : frontier.next();
        if (!url) {
            frontier.done(children.wait_one().links);
            continue;
        }
        refused = children.spawn(*url);
        if (refused) {
            frontier.done({});  // never started
            break;
        }
    }
    children.wait_all();
    return refused ? refused : children.failure();
}

}  // namespace rosetta
