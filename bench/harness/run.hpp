// `rosetta run`: one model, one scenario, measured from outside and verified.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

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
};

// Runs it and returns the result object (WORKBENCH.md's schema, see result.hpp). Never throws
// for a run that failed: the failure is named in the result. SIGINT, SIGTERM and SIGHUP during
// the run stop it cleanly, with what it did so far counted.
nlohmann::json run_model(const RunOptions& options);

}  // namespace rosetta
