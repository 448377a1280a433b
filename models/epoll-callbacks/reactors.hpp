// --threads T: T reactors, each on a thread of its own, each owning its share of the work.
//
//     std::vector<reactor::Reactor*> reactors = ...;          // made on this thread
//     run_each_on_its_thread(reactors, [&](std::size_t i) {    // on reactor i's thread:
//         start reactor i's share of the requests;             //   then reactors[i]->run()
//     });
//
// Reactor 0 runs on the calling thread, so --threads 1 starts no thread and is the one-reactor
// model unchanged. The reactors share nothing here: what a scenario shares between them (the
// crawl's frontier) it guards itself, and they talk only through Reactor::post.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "models/epoll-callbacks/reactor.hpp"
#include "scenarios/lanes.hpp"  // how many reactors, and the share of each

namespace rosetta::epoll_callbacks {

// Calls start(i) then reactors[i]->run() on reactor i's thread, for every i, and returns when
// all have returned and every thread is joined. The first exception any of them lets escape
// (from start, a handler or a callback), or a thread the OS refuses, stops the others (a posted
// stop(): held reactors would otherwise wait for ever) and is rethrown here after the joins:
// a failure in one thread is a failed run, never std::terminate.
void run_each_on_its_thread(const std::vector<reactor::Reactor*>& reactors,
                            const std::function<void(std::size_t)>& start);

}  // namespace rosetta::epoll_callbacks
