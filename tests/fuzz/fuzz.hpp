// What the fuzz targets share: reading arbitrary bytes as the parts a target splits them into.
// Each target is one LLVMFuzzerTestOneInput over the bytes libFuzzer invents (the `fuzz` preset,
// clang) and, in every other build, over the files of its corpus (tests/fuzz/corpus/<target>,
// the seeds and every finding kept as a regression input) through replay_main.cpp.
//
// A target asserts what must hold for any input (ROSETTA_FUZZ_CHECK aborts, which both
// libFuzzer and the replay report as a failure with the input that did it); the sanitizers the
// build has catch the rest (out of bounds, use after free, undefined behaviour, leaks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#define ROSETTA_FUZZ_CHECK(condition)                                                  \
    do {                                                                               \
        if (!(condition)) {                                                            \
            std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, \
                         #condition);                                                  \
            std::abort();                                                              \
        }                                                                              \
    } while (0)

namespace rosetta::fuzz {

// The input, read front to back: small numbers that steer the target (where to split, which
// option), then the rest as the bytes under test.
class Input {
public:
    Input(const std::uint8_t* data, std::size_t size)
        : rest_(reinterpret_cast<const char*>(data), size) {}

    // One byte as a number (0 when none is left).
    std::uint8_t byte() {
        if (rest_.empty()) return 0;
        const auto b = static_cast<std::uint8_t>(rest_.front());
        rest_.remove_prefix(1);
        return b;
    }
    // Up to `n` bytes.
    std::string_view take(std::size_t n) {
        std::string_view part = rest_.substr(0, n);
        rest_.remove_prefix(part.size());
        return part;
    }
    // Up to the first '\0' (consumed), or everything.
    std::string_view until_nul() {
        const std::size_t end = rest_.find('\0');
        std::string_view part = rest_.substr(0, end);
        rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
        return part;
    }
    std::string_view rest() const { return rest_; }

private:
    std::string_view rest_;
};

}  // namespace rosetta::fuzz
