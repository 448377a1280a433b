#include "bench/harness/models.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace rosetta {

const std::vector<ModelInfo>& all_models() {
    static const std::vector<ModelInfo> models = {
        {"blocking", "one thread, one socket at a time, the kernel blocks it (concurrency is 1)", true},
        {"process-per-task", "fork() per URL, at most C children; results and links come back over pipes"},
        {"thread-per-task", "one std::thread per URL, at most C alive"},
        {"thread-pool", "TBB: a task_arena of C workers running blocking fetches"},
        {"epoll-callbacks", "a reactor: epoll + timers + callbacks, a state machine per connection"},
        {"stackful-fibers", "greenlet-like: Boost.Context fibers and an epoll hub"},
        {"boost-fibers", "Boost.Fiber with a scheduler that waits on epoll"},
        {"stackless-coroutines", "C++20 coroutines (co_await) on the reactor"},
        {"io-uring", "a proactor: io_uring completions driving C++20 coroutines"},
    };
    return models;
}

const ModelInfo* find_model(std::string_view id) {
    for (const ModelInfo& m : all_models())
        if (m.id == id) return &m;
    return nullptr;
}

std::string model_bin_dir() {
    if (const char* dir = std::getenv("ROSETTA_BIN_DIR"); dir && *dir) return dir;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(".") : self.parent_path().string();
}

std::string model_executable(std::string_view id) {
    return (std::filesystem::path(model_bin_dir()) / ("rosetta-" + std::string(id))).string();
}

}  // namespace rosetta
