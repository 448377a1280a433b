// URL resolution (scenarios/url.hpp, Boost.URL underneath) on an arbitrary base and href (split
// at the first '\0'). What holds for any input: a result is an absolute http(s) URL with a host
// and no fragment, already normal (normalising it again changes nothing), and resolving it
// again against anything gives itself back (an absolute reference replaces the base).
#include "scenarios/url.hpp"

#include <string>

#include "fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rosetta::fuzz::Input input(data, size);
    const std::string_view base = input.until_nul();
    const std::string_view href = input.rest();
    const std::optional<std::string> resolved = rosetta::resolve_url(base, href);
    if (resolved) {
        ROSETTA_FUZZ_CHECK(resolved->starts_with("http://") || resolved->starts_with("https://"));
        ROSETTA_FUZZ_CHECK(resolved->find('#') == std::string::npos);
        ROSETTA_FUZZ_CHECK(rosetta::normalize_url(*resolved) == resolved);
        ROSETTA_FUZZ_CHECK(rosetta::resolve_url(*resolved, *resolved) == resolved);
        (void)rosetta::request_target(*resolved);
    }
    rosetta::UrlResolver resolver(base);
    ROSETTA_FUZZ_CHECK(resolver.resolve(href) == resolved);
    (void)rosetta::normalize_path(href);
    return 0;
}
