// The result of `rosetta run` (WORKBENCH.md's schema): its skeleton with every field present,
// the human summary, and the exit code it maps to.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "bench/harness/run.hpp"

namespace rosetta {

// The fields that say what was run: model, scenario and every option that shapes the run, as
// the run reports them (concurrency 1 for a model that runs one at a time, the loops it really
// had). What identifies a run (rosetta matrix's cells).
nlohmann::json run_fields(const RunOptions& options);

// Every field of the schema, filled from the options; the measured ones zero or null, and
// completed false until the run proves otherwise.
nlohmann::json result_skeleton(const RunOptions& options);

// The human summary of a result, a few lines.
std::string describe_result(const nlohmann::json& result);

// 0: completed and verified (or not verifiable); 1: failed or not verified.
int exit_code_of(const nlohmann::json& result);

}  // namespace rosetta
