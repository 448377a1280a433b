#include "scenarios/output.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "scenarios/net.hpp"

namespace rosetta {

namespace {

std::string reason(std::string_view option, const std::string& path, int err) {
    return fmt::format("{} {}: {}", option, path, std::strerror(err));
}

}  // namespace

std::optional<std::string> check_appendable(std::string_view option, const std::string& path) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    if (fd) return std::nullopt;
    if (errno != ENOENT) return reason(option, path, errno);
    // Missing: create it to learn that it can be, then remove it again, so that a command refused
    // for another reason, or a run that never writes, leaves no empty file behind.
    Fd created(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (created) {
        ::unlink(path.c_str());
        return std::nullopt;
    }
    if (errno != EEXIST) return reason(option, path, errno);
    // A dangling symbolic link (or a file made meanwhile): create through it and keep it, as a
    // write would.
    Fd through(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!through) return reason(option, path, errno);
    return std::nullopt;
}

std::optional<std::string> check_regular_if_present(std::string_view option,
                                                    const std::string& path) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec))
        return fmt::format("{} {}: not a regular file", option, path);
    return std::nullopt;
}

std::optional<std::string> append_to(std::string_view option, const std::string& path,
                                     std::string_view text) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return reason(option, path, errno);
    while (!text.empty()) {
        ssize_t n = ::write(fd.get(), text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return reason(option, path, n < 0 ? errno : EIO);
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::close(fd.release()) != 0) return reason(option, path, errno);
    return std::nullopt;
}

}  // namespace rosetta
