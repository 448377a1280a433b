// The outcome classes of one attempt. Every attempt of every model ends in exactly one.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace rosetta {

enum class Outcome { ok, http_error, timeout, reset, truncated, malformed, connect_error };

inline constexpr std::array<Outcome, 7> all_outcomes = {
    Outcome::ok,        Outcome::http_error, Outcome::timeout,      Outcome::reset,
    Outcome::truncated, Outcome::malformed,  Outcome::connect_error};

constexpr std::string_view to_string(Outcome outcome) {
    switch (outcome) {
        case Outcome::ok: return "ok";
        case Outcome::http_error: return "http_error";
        case Outcome::timeout: return "timeout";
        case Outcome::reset: return "reset";
        case Outcome::truncated: return "truncated";
        case Outcome::malformed: return "malformed";
        case Outcome::connect_error: return "connect_error";
    }
    return "?";
}

constexpr std::optional<Outcome> outcome_from_string(std::string_view name) {
    for (Outcome outcome : all_outcomes)
        if (to_string(outcome) == name) return outcome;
    return std::nullopt;
}

// Retryable: 5xx, timeout, reset, truncated, malformed, connect_error. A 4xx is final.
constexpr bool is_retryable(Outcome outcome, int status) {
    switch (outcome) {
        case Outcome::ok: return false;
        case Outcome::http_error: return status >= 500;
        default: return true;
    }
}

}  // namespace rosetta
