// The files a run writes besides its records: --out, where one result line is appended.
// Checked before anything starts, so a typo costs a second, not a whole run; and checked again
// when written, so a full disk is a named failure, never a silent loss.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rosetta {

// Whether path can be appended to: opened for appending (never truncated) and closed again; when
// missing, created and removed again, so the check leaves nothing behind. nullopt when it can
// be written; else "OPTION PATH: reason" (a directory, a missing folder, no permission, /proc).
// A full device such as /dev/full passes: only a write finds that out.
std::optional<std::string> check_appendable(std::string_view option, const std::string& path);

// For a file that will be read back: nullopt when path is missing or a regular file, else
// "OPTION PATH: not a regular file". A device or a pipe gives back something else, or never
// ends (/dev/full reads as endless zeros, read into memory until there is none).
std::optional<std::string> check_regular_if_present(std::string_view option,
                                                    const std::string& path);

// Appends text in one write and checks that all of it landed: nullopt, or "OPTION PATH: reason".
std::optional<std::string> append_to(std::string_view option, const std::string& path,
                                     std::string_view text);

}  // namespace rosetta
