// `rosetta run`: one model, one scenario, measured from outside and verified.
#pragma once

#include "scenarios/spec.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace rosetta {

struct RunOptions {
    std::string model;
    Spec spec;
    int origin_threads = 1;
    double deadline_s = 600;
};

// Runs it and returns the result object (WORKBENCH.md schema). Never throws for a run that
// failed: the failure is named in the result.
nlohmann::json run_model(const RunOptions& options);

// The human summary of a result.
std::string describe_result(const nlohmann::json& result);

// 0: completed and verified (or not verifiable); 1: failed or not verified.
int exit_code_of(const nlohmann::json& result);

}  // namespace rosetta
