// What the origin's tests share: a small site, a started origin with the truth it serves, and
// the clocks and descriptor counts they assert on.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string_view>
#include <thread>

#include "bench/origin/origin.hpp"
#include "origin/client.hpp"
#include "scenarios/site.hpp"

namespace rosetta::test {

inline Spec small_site(std::string_view faults = "none", int latency_ms = 0, int threads = 1) {
    Spec spec;
    spec.pages = 50;
    spec.faults = parse_faults(faults);
    spec.latency_ms = latency_ms;
    spec.threads = threads;
    return spec;
}

// A started origin and the truth it serves.
struct Running {
    explicit Running(const Spec& spec, const OriginOptions& options = {})
        : server(spec, options), site(SiteParams::from(spec, server.authority())) {
        server.start();
    }
    Client client() { return Client(server.port()); }
    nlohmann::json stats() {
        Client probe(server.port());
        Response r = probe.get("/__stats");
        EXPECT_EQ(r.end, End::complete);
        return nlohmann::json::parse(r.body);
    }
    // Polls /__stats until pred holds, for at most `within`.
    template <typename Pred>
    nlohmann::json stats_when(Pred pred, std::chrono::milliseconds within = 2000ms) {
        auto deadline = TestClock::now() + within;
        nlohmann::json s = stats();
        while (!pred(s) && TestClock::now() < deadline) {
            std::this_thread::sleep_for(10ms);
            s = stats();
        }
        return s;
    }

    OriginServer server;
    Site site;
};

inline double elapsed_ms(TestClock::time_point since) {
    return std::chrono::duration<double, std::milli>(TestClock::now() - since).count();
}

// Descriptors this process holds: the origin's and the test's clients alike.
inline int open_descriptors() {
    int n = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (::readdir(dir)) ++n;
        ::closedir(dir);
    }
    return n;
}

}  // namespace rosetta::test
