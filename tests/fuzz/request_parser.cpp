// The origin's request reader (bench/origin/request.hpp) on arbitrary bytes, as a connection's
// buffer holds them: requests parsed from the front one after another, the way the origin does
// with pipelined requests. What holds for any input: a complete request takes at least one byte
// and no more than there are, its method and target are views into the input, it is HTTP/1.0
// or 1.1, and a prefix of a complete request is never "bad" (a request arriving in pieces is
// refused only for what it holds, never for where it was cut).
#include "bench/origin/request.hpp"
#include "fuzz.hpp"

namespace {

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() &&
                            part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using rosetta::origin::ParseResult;
    std::string_view buffer(reinterpret_cast<const char*>(data), size);
    for (int requests = 0; requests < 64 && !buffer.empty(); ++requests) {
        rosetta::origin::Request request;
        const ParseResult result = rosetta::origin::parse_request(buffer, request);
        if (result != ParseResult::complete) break;
        ROSETTA_FUZZ_CHECK(request.size >= 1 && request.size <= buffer.size());
        ROSETTA_FUZZ_CHECK(inside(request.method, buffer) && inside(request.target, buffer));
        ROSETTA_FUZZ_CHECK(request.minor_version == 0 || request.minor_version == 1);
        for (std::size_t cut = 0; cut < request.size; cut += 1 + cut / 4) {
            rosetta::origin::Request partial;
            ROSETTA_FUZZ_CHECK(rosetta::origin::parse_request(buffer.substr(0, cut), partial) ==
                               ParseResult::incomplete);
        }
        buffer.remove_prefix(request.size);
    }
    return 0;
}
