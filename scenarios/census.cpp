#include "scenarios/census.hpp"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace rosetta {

namespace {

int entries(const char* directory) {
    std::error_code ec;
    int n = 0;
    for (auto it = std::filesystem::directory_iterator(directory, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

std::string plural(int n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

}  // namespace

Census Census::of_this_process() {
    Census census;
    census.threads = entries("/proc/self/task");
    census.descriptors = entries("/proc/self/fd") - 1;  // the one iterating it
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        std::ifstream children(it->path() / "children");
        for (long pid = 0; children >> pid;) ++census.children;
    }
    return census;
}

Census Census::settled_since(const Census& before) {
    using namespace std::chrono_literals;
    Census now = of_this_process();
    for (auto waited = 0ms; now.threads > before.threads && waited < 200ms; waited += 1ms) {
        std::this_thread::sleep_for(1ms);
        now = of_this_process();
    }
    return now;
}

std::string Census::left_behind_since(const Census& before) const {
    std::string text;
    auto add = [&text](int more, const char* one, const char* many) {
        if (more <= 0) return;
        text += (text.empty() ? "left behind: " : ", ") + plural(more, one, many);
    };
    add(threads - before.threads, "thread", "threads");
    add(descriptors - before.descriptors, "descriptor", "descriptors");
    add(children - before.children, "child process", "child processes");
    return text;
}

}  // namespace rosetta
