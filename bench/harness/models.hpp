// The model ids (fixed by the workbench contract) and what each one is, for `rosetta models`
// and for checking --model.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rosetta {

struct ModelInfo {
    std::string_view id;
    std::string_view summary;
    bool one_at_a_time = false;  // concurrency is 1 whatever --concurrency says
};

const std::vector<ModelInfo>& all_models();
const ModelInfo* find_model(std::string_view id);

// Where the model executables are: next to `rosetta`, or $ROSETTA_BIN_DIR.
std::string model_bin_dir();
std::string model_executable(std::string_view id);

}  // namespace rosetta
