// Running the built executables from a test: `rosetta run ... --json` and the model binaries,
// each with a deadline, output captured.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "bench/harness/process.hpp"
#include "loopback_port.hpp"
#include "models/model_list.hpp"
#include "scenarios/records.hpp"

namespace rosetta::test {

inline const std::string bin_dir = ROSETTA_BIN_DIR;

// A directory of the test's own (`name`-pid under the temporary directory), made empty and
// removed with everything in it when the test is done, whether it passed or not.
class ScratchDir {
public:
    explicit ScratchDir(const std::string& name)
        : path_(std::filesystem::temp_directory_path() / fmt::format("{}-{}", name, ::getpid())) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    // The path of `name` in it, as a string (for a command line).
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

// An environment variable set while this lives (the programs a test starts inherit it); what
// was there before, or its absence, put back after.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

// Every model test body runs once per model this build has: a model joins by being built (see
// models/CMakeLists.txt), never by being remembered here.
// The peers (Python, bench/peers/python/) run the same bodies in an executable of their own,
// built from the same files with ROSETTA_TEST_PEERS (label `peers`).
inline std::vector<std::string> built_models() {
#ifdef ROSETTA_TEST_PEERS
    constexpr bool peers = true;
#else
    constexpr bool peers = false;
#endif
    std::vector<std::string> ids;
    for (const ModelInfo& model : model_list)
        if (model.built && model.peer == peers) ids.emplace_back(model.id);
    return ids;
}
inline const std::vector<std::string> models_under_test = built_models();

inline const ModelInfo& model_info(const std::string& id) {
    for (const ModelInfo& model : model_list)
        if (model.id == id) return model;
    throw std::invalid_argument("no model " + id);
}
inline bool one_at_a_time(const std::string& id) { return model_info(id).one_at_a_time; }

inline std::string test_name_of(const ::testing::TestParamInfo<std::string>& info) {
    std::string name = info.param;
    for (char& c : name)
        if (c == '-') c = '_';
    return name;
}

struct Ran {
    int exit_code = -1;  // -1: killed at the deadline or by a signal
    std::string out, err;
    double seconds = 0;
    nlohmann::json json() const {
        auto end = out.find_last_not_of('\n');
        auto start = out.rfind('\n', end);
        std::string line = out.substr(start == std::string::npos ? 0 : start + 1,
                                      end - (start == std::string::npos ? 0 : start + 1) + 1);
        return nlohmann::json::parse(line);
    }
};

// Runs path with args, output captured, stopped (and a failure added) after deadline_s; on
// `cpus` only, when given.
inline Ran run_program(const std::string& path, const std::vector<std::string>& args,
                       int deadline_s = 120, const std::vector<int>& cpus = {}) {
    const std::string& name = path;
    Ran ran;
    Child child(path, args, true, cpus);
    std::int64_t start = monotonic_ns(),
                 deadline = start + std::int64_t{deadline_s} * 1'000'000'000;
    bool out_open = true, err_open = true;
    while (!child.reaped()) {
        pollfd p[3] = {{out_open ? child.stdout_fd() : -1, POLLIN, 0},
                       {err_open ? child.stderr_fd() : -1, POLLIN, 0},
                       {child.pid_fd(), POLLIN, 0}};
        ::poll(p, 3, 100);
        if (p[0].revents) out_open = drain(child.stdout_fd(), ran.out);
        if (p[1].revents) err_open = drain(child.stderr_fd(), ran.err);
        if (p[2].revents & POLLIN) {
            child.reap();
        } else if (monotonic_ns() > deadline) {
            child.stop(1000);
            ADD_FAILURE() << name << " still running after " << deadline_s << " s";
        }
    }
    if (out_open) drain(child.stdout_fd(), ran.out);
    if (err_open) drain(child.stderr_fd(), ran.err);
    ran.seconds = static_cast<double>(monotonic_ns() - start) / 1e9;
    int status = child.wait_status();
    if (WIFEXITED(status)) ran.exit_code = WEXITSTATUS(status);
    return ran;
}

// One of the build's executables (rosetta, rosetta-<id>).
inline Ran run_binary(const std::string& name, const std::vector<std::string>& args,
                      int deadline_s = 120) {
    return run_program(bin_dir + "/" + name, args, deadline_s);
}

}  // namespace rosetta::test
