// The model ids and what each one is, from the one list (models/CMakeLists.txt, generated into
// models/model_list.hpp), and where their executables are.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "models/model_list.hpp"

namespace rosetta {

std::span<const ModelInfo> all_models();
const ModelInfo* find_model(std::string_view id);

// The exit status of a peer whose Python library is not installed (automake's "skipped"): it
// printed one line saying which package; the harness reports the run as skipped.
inline constexpr int peer_skipped_status = 77;

// Where the model executables are: next to `rosetta`, or $ROSETTA_BIN_DIR.
std::string model_bin_dir();
std::string model_executable(std::string_view id);

}  // namespace rosetta
