// A fuzz target's main outside the `fuzz` preset (g++, or clang without libFuzzer): runs
// LLVMFuzzerTestOneInput once on each file named, or on each file of each directory named, the
// way libFuzzer does when given files. Used by CTest to replay the corpora (seeds and kept
// findings) in the release and sanitizer builds.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void run_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
    int inputs = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path path(argv[i]);
        if (std::filesystem::is_directory(path)) {
            for (const auto& entry : std::filesystem::directory_iterator(path))
                if (entry.is_regular_file()) run_file(entry.path()), ++inputs;
        } else {
            run_file(path), ++inputs;
        }
    }
    if (inputs == 0) {
        std::fprintf(stderr, "no input: name files or directories of a corpus\n");
        return 2;
    }
    std::printf("%d inputs replayed\n", inputs);
    return 0;
}
