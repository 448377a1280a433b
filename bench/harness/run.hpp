// `rosetta run`: one model, one scenario, measured from outside and verified.
#pragma once

#include <signal.h>

#include <array>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/spec.hpp"

namespace rosetta {

struct RunOptions {
    std::string model;
    Spec spec;
    int origin_threads = 1;
    double deadline_s = 600;
    // Stops the model once its process tree's RSS and the kernel's growth since it started pass
    // this fraction of MemAvailable at its start: a run must not endanger the machine.
    double memory_guard = 0.5;
    // Where the origin and the model run: "none" (wherever the scheduler puts them) or "split"
    // (the origin on the first half of the CPUs this process may use, the model on the rest, so
    // neither takes the other's CPU time). Recorded in the result's "pin" and "placement".
    std::string pin = "none";
};

// The CPUs of each side under a --pin value; empty: not pinned. Throws std::invalid_argument
// for "split" on a machine (or an affinity mask) with fewer than 2 CPUs.
struct Placement {
    std::vector<int> origin, model;
};
Placement placement_for(const std::string& pin);

// SIGINT, SIGTERM and SIGHUP (the terminal closed) end a run early but cleanly while one of
// these lives: the model is stopped and reaped, its records counted, the origin stopped. The
// handlers are restored when it ends. Scopes nest (a matrix around its runs): only the
// outermost clears a signal already received, so one that arrives between two runs stops the
// next at once.
class StopSignals {
public:
    StopSignals();
    ~StopSignals();
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // "interrupted (SIGINT)" once one has arrived.
    static std::optional<std::string> received();

private:
    std::array<int, 3> signals_ = {SIGINT, SIGTERM, SIGHUP};
    std::array<struct sigaction, 3> old_{};
};

// Runs it and returns the result object (WORKBENCH.md's schema, see result.hpp). Never throws
// for a run that failed: the failure is named in the result. SIGINT, SIGTERM and SIGHUP during
// the run stop it cleanly, with what it did so far counted.
nlohmann::json run_model(const RunOptions& options);

}  // namespace rosetta
