// The models' response parser (scenarios/http.hpp) fed arbitrary bytes, split arbitrarily: the
// first byte of the input picks the size of every read (1 to 256 bytes), the rest is what the
// "server" sent. Whatever the split, the parse must end the same way: the same state, status,
// outcome and body, fed whole or in pieces. Nothing is ever handed to the sink after done,
// and a done response's body is exactly what the sink got.
#include <string>

#include "fuzz.hpp"
#include "scenarios/http.hpp"

namespace {

struct Parsed {
    rosetta::ResponseParser::State state;
    int status;
    rosetta::Outcome failure;
    std::string body;
    bool keep_alive;
};

Parsed parse(std::string_view bytes, std::size_t piece, bool eof) {
    Parsed parsed{};
    bool sink_after_end = false;
    rosetta::ResponseParser parser([&](std::string_view b) {
        sink_after_end |= parsed.state != rosetta::ResponseParser::State::need_more;
        parsed.body.append(b);
    });
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        parsed.state = parser.feed(bytes.substr(at, piece));
        ROSETTA_FUZZ_CHECK(parsed.state == parser.state());
    }
    if (eof && parser.state() == rosetta::ResponseParser::State::need_more)
        parsed.state = parser.feed_eof();
    ROSETTA_FUZZ_CHECK(!sink_after_end);
    parsed.state = parser.state();
    parsed.status = parser.status();
    parsed.failure = parser.failure();
    parsed.keep_alive = parser.keep_alive();
    ROSETTA_FUZZ_CHECK(parser.body_bytes() == parsed.body.size());
    ROSETTA_FUZZ_CHECK((parsed.state == rosetta::ResponseParser::State::failed) ==
                       !parser.error().empty());
    if (parsed.state == rosetta::ResponseParser::State::done) {
        ROSETTA_FUZZ_CHECK(parsed.status == 101 || (parsed.status >= 200 && parsed.status <= 599));
        ROSETTA_FUZZ_CHECK(parsed.failure == rosetta::Outcome::ok);
    }
    return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rosetta::fuzz::Input input(data, size);
    const std::uint8_t steer = input.byte();
    const std::size_t piece = static_cast<std::size_t>(steer % 64) * 4 + 1;
    const bool eof = steer & 0x80;
    const Parsed whole = parse(input.rest(), input.rest().size() + 1, eof);
    const Parsed split = parse(input.rest(), piece, eof);
    ROSETTA_FUZZ_CHECK(whole.state == split.state);
    ROSETTA_FUZZ_CHECK(whole.status == split.status);
    ROSETTA_FUZZ_CHECK(whole.failure == split.failure);
    ROSETTA_FUZZ_CHECK(whole.body == split.body);
    ROSETTA_FUZZ_CHECK(whole.keep_alive == split.keep_alive);
    return 0;
}
