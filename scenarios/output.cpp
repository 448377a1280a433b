#include "scenarios/output.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "scenarios/net.hpp"

namespace rosetta {

namespace {

std::string reason(std::string_view option, const std::string& path, int err) {
    return fmt::format("{} {}: {}", option, path, std::strerror(err));
}

}  // namespace

std::optional<std::string> check_appendable(std::string_view option, const std::string& path) {
    Fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return reason(option, path, errno);
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
