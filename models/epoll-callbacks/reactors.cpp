#include "models/epoll-callbacks/reactors.hpp"

#include <exception>
#include <thread>

namespace rosetta::epoll_callbacks {

void run_each_on_its_thread(const std::vector<reactor::Reactor*>& reactors,
                            const std::function<void(std::size_t)>& start) {
    std::vector<std::exception_ptr> errors(reactors.size());
    auto stop_all_but = [&](std::size_t failed) {
        for (std::size_t j = 0; j < reactors.size(); ++j) {
            if (j == failed) continue;
            reactor::Reactor* other = reactors[j];
            try {
                other->post([other] { other->stop(); });
            } catch (...) {
                // Nothing better to do: the error being carried out already fails the run.
            }
        }
    };
    auto run_one = [&](std::size_t i) {
        try {
            start(i);
            reactors[i]->run();
        } catch (...) {
            errors[i] = std::current_exception();
            stop_all_but(i);
        }
    };
    std::vector<std::jthread> threads;  // joined when cleared, and on the way out
    try {
        threads.reserve(reactors.size());
        for (std::size_t i = 1; i < reactors.size(); ++i) threads.emplace_back(run_one, i);
    } catch (...) {  // the OS refused a thread: those started stop, reactor 0 never runs
        errors[0] = std::current_exception();
        stop_all_but(0);
    }
    if (!errors[0]) run_one(0);
    threads.clear();
    for (const std::exception_ptr& error : errors)
        if (error) std::rethrow_exception(error);
}

}  // namespace rosetta::epoll_callbacks
