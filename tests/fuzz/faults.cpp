// The --faults parser (scenarios/spec.hpp) on arbitrary text: it either refuses with a one-line
// reason (std::invalid_argument) or returns rates that are each in [0, 1], sum to at most 1,
// and print as a canonical text that parses back to the same rates and prints the same again.
#include <stdexcept>
#include <string>

#include "fuzz.hpp"
#include "scenarios/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    rosetta::FaultRates rates;
    try {
        rates = rosetta::parse_faults(text);
    } catch (const std::invalid_argument& e) {
        const std::string reason = e.what();
        ROSETTA_FUZZ_CHECK(!reason.empty() && reason.find('\n') == std::string::npos);
        return 0;
    }
    for (double rate : {rates.reset, rates.stall, rates.status, rates.notfound, rates.truncate,
                        rates.malformed, rates.slow})
        ROSETTA_FUZZ_CHECK(rate >= 0 && rate <= 1);
    ROSETTA_FUZZ_CHECK(rates.total() <= 1 + 1e-9);
    const std::string canonical = rates.to_string();
    const rosetta::FaultRates again = rosetta::parse_faults(canonical);
    ROSETTA_FUZZ_CHECK(again == rates);
    ROSETTA_FUZZ_CHECK(again.to_string() == canonical);
    return 0;
}
