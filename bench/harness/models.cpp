#include "bench/harness/models.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace rosetta {

std::span<const ModelInfo> all_models() { return model_list; }

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
