// Process-per-task download: one forked child per URL, at most C alive.
//
// Each child is a copy of this process that runs the blocking fetch and sends its attempts
// back over a pipe; the parent only forks, waits for a child to end while C are alive, and
// records what they sent. A child's connection dies with it: no keep-alive across URLs.
#include "models/process-per-task/children.hpp"

namespace rosetta {

Failure download(const ModelRun& run) {
    process_per_task::Children children(run, run.spec().concurrency);
    Failure refused;
    for (const std::string& url : run.download_urls()) {
        if (children.failure()) break;
        while (children.full()) children.wait_one();
        refused = children.spawn(url);
        if (refused) break;
    }
    children.wait_all();
    return refused ? refused : children.failure();
}

}  // namespace rosetta
