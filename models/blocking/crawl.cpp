// Blocking crawl: take the next URL from the frontier, fetch it, hand the frontier the links
// it yields, until the frontier has nothing left (or the budget is spent). The same loop,
// with its waiting spread out, is every other model's crawl.
#include "models/blocking/fetch.hpp"
#include "scenarios/frontier.hpp"

namespace rosetta {

Failure crawl(const ModelRun& run) {
    Frontier frontier(run);
    Fd connection;
    while (std::optional<std::string> url = frontier.next())
        frontier.done(blocking::fetch_url(run, connection, *url).links);
    return std::nullopt;
}

}  // namespace rosetta
