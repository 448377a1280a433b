#include "bench/harness/probe.hpp"

#include <fmt/format.h>
#include <poll.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "scenarios/http.hpp"
#include "scenarios/net.hpp"
#include "scenarios/records.hpp"

namespace rosetta {

namespace {

class Probe {
public:
    Probe(const std::string& authority, int timeout_ms)
        : deadline_(monotonic_ns() + std::int64_t{timeout_ms} * 1'000'000) {
        try {
            endpoint_ = resolve_endpoint(authority);
        } catch (const std::exception& e) {
            error_ = e.what();
            return;
        }
        fd_ = open_tcp_socket(endpoint_);
        if (!fd_) {
            error_ = describe_error("socket", errno);
            return;
        }
        int rc = start_connect(fd_.get(), endpoint_);
        if (rc == EINPROGRESS) rc = wait(POLLOUT) ? connect_result(fd_.get()) : ETIMEDOUT;
        if (rc != 0) error_ = describe_error("connect", rc);
    }

    int fd() const { return fd_.get(); }
    // Empty once connected; else why not.
    const std::string& error() const { return error_; }
    // True when fd became ready for events before the deadline.
    bool wait(short events) const {
        pollfd p{fd_.get(), events, 0};
        std::int64_t left = (deadline_ - monotonic_ns()) / 1'000'000;
        return left > 0 && ::poll(&p, 1, static_cast<int>(left)) == 1;
    }

private:
    std::int64_t deadline_;
    Endpoint endpoint_;
    Fd fd_;
    std::string error_;
};

}  // namespace

std::optional<std::string> check_reachable(const std::string& authority, int timeout_ms) {
    Probe probe(authority, timeout_ms);
    if (!probe.error().empty())
        return fmt::format("origin {} unreachable: {}", authority, probe.error());
    return std::nullopt;
}

std::optional<std::string> http_get(const std::string& authority, const std::string& path,
                                    int timeout_ms) {
    Probe probe(authority, timeout_ms);
    const int fd = probe.fd();
    std::string body;
    ResponseParser parser([&body](std::string_view bytes) { body.append(bytes); });
    std::string request = make_get_request(authority, path, false);
    bool ok = probe.error().empty() && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                                           static_cast<ssize_t>(request.size());
    while (ok && parser.state() == ResponseParser::State::need_more && probe.wait(POLLIN)) {
        char buffer[16384];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            parser.feed({buffer, static_cast<std::size_t>(n)});
        } else if (n == 0) {
            parser.feed_eof();
        } else if (errno != EINTR && errno != EAGAIN) {
            ok = false;
        }
    }
    if (!ok || parser.state() != ResponseParser::State::done || parser.status() != 200)
        return std::nullopt;
    return body;
}

OriginStats read_origin_stats(const std::string& authority, int timeout_ms) {
    std::optional<std::string> body = http_get(authority, "/__stats", timeout_ms);
    if (!body) throw std::runtime_error("origin /__stats did not answer");
    OriginStats stats;
    try {
        nlohmann::json j = nlohmann::json::parse(*body);
        stats.peak_inflight = j.at("peak_inflight").get<std::int64_t>();
        stats.connections = j.at("connections_accepted").get<std::int64_t>() - 1;  // our own
        for (auto& [path, count] : j.at("paths").items())
            stats.paths[path] = count.get<std::uint64_t>();
        stats.other_paths = j.at("other_paths").get<std::uint64_t>();
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("origin /__stats unreadable: {}", e.what()));
    }
    return stats;
}

}  // namespace rosetta
