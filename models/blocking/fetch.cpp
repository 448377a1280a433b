// The blocking model: where it waits. One thread, one socket, and three places where the
// kernel parks the thread until something happens or the deadline passes: poll() on the
// connect, send() and recv() with SO_SNDTIMEO/SO_RCVTIMEO set to the time left.
#include "models/blocking/fetch.hpp"

#include "scenarios/exchange.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

namespace rosetta::blocking {

namespace {

// Time left until the deadline, in nanoseconds (<= 0: expired).
std::int64_t time_left(std::int64_t deadline_ns) { return deadline_ns - monotonic_ns(); }

// Sets the socket's kernel timeout for the next blocking call to the time left. The kernel
// reads 0 as "forever", so an expired deadline must never get here.
void set_timeout(int fd, int option, std::int64_t left_ns) {
    std::int64_t us = std::max<std::int64_t>(left_ns / 1000, 1);
    timeval tv{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
    ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// Opens and connects a socket, waiting in poll() for at most the time left. Returns 0 or the
// reason for the connect_error.
std::string connect(const ModelRun& run, Connection& connection, std::int64_t deadline_ns) {
    int fd = open_tcp_socket(run.origin);
    if (fd < 0) return describe_error("socket", errno);
    connection.fd_ = fd;
    connection.reused_ = false;
    int rc = start_connect(fd, run.origin);
    if (rc == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        std::int64_t left = time_left(deadline_ns);
        int ready = left > 0 ? ::poll(&p, 1, static_cast<int>((left + 999'999) / 1'000'000)) : 0;
        if (ready == 0) return fmt::format("connect: no answer within {} ms", run.spec.timeout_ms);
        rc = ready < 0 ? errno : connect_result(fd);
    }
    if (rc != 0) return describe_error("connect", rc);
    // From here on the socket blocks: the kernel does the waiting, bounded by SO_*TIMEO.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return {};
}

}  // namespace

void Connection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    reused_ = false;
}

Record fetch(const ModelRun& run, Connection& connection, const std::string& url, int attempt,
             std::vector<std::string>* links) {
    const std::uint64_t lane = static_cast<std::uint64_t>(::gettid());
    const bool want_links = links != nullptr;
    // A kept-alive connection the server closed while idle fails before any byte arrives; the
    // request then goes again on a new connection, once, and that first try is not an attempt.
    for (bool stale_retry_left = true;; stale_retry_left = false) {
        Exchange exchange(url, run.origin.authority, attempt, run.spec.keepalive, want_links, lane);
        const std::int64_t deadline = monotonic_ns() + std::int64_t{run.spec.timeout_ms} * 1'000'000;
        if (!connection.is_open()) {
            std::string error = connect(run, connection, deadline);
            if (!error.empty()) {
                connection.close();
                return exchange.fail(Outcome::connect_error, error);
            }
        }
        const bool may_be_stale = connection.reused_ && stale_retry_left;

        std::string_view request = exchange.request();
        while (!request.empty()) {
            std::int64_t left = time_left(deadline);
            if (left <= 0) break;
            set_timeout(connection.fd_, SO_SNDTIMEO, left);
            ssize_t n = ::send(connection.fd_, request.data(), request.size(), MSG_NOSIGNAL);
            if (n > 0) {
                request.remove_prefix(static_cast<std::size_t>(n));
            } else if (n < 0 && errno != EINTR) {
                int err = errno;
                connection.close();
                if (may_be_stale) break;
                if (err == EAGAIN) return exchange.fail(Outcome::timeout, "send: timed out");
                return exchange.fail(Outcome::reset, describe_error("send", err));
            }
        }
        if (!connection.is_open()) continue;  // stale: try once more on a new connection
        if (!request.empty()) {
            connection.close();
            return exchange.fail(Outcome::timeout, fmt::format("no complete response within {} ms", run.spec.timeout_ms));
        }

        char buffer[64 * 1024];
        bool complete = false, stale = false;
        while (!complete) {
            std::int64_t left = time_left(deadline);
            if (left <= 0) break;
            set_timeout(connection.fd_, SO_RCVTIMEO, left);
            ssize_t n = ::recv(connection.fd_, buffer, sizeof buffer, 0);
            if (n > 0) {
                complete = exchange.on_bytes({buffer, static_cast<std::size_t>(n)});
            } else if (n == 0) {
                if (may_be_stale && exchange.received_nothing()) stale = true;
                exchange.on_eof();
                complete = true;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;  // SO_RCVTIMEO fired: the deadline passed
            } else if (errno != EINTR) {
                int err = errno;
                connection.close();
                if (may_be_stale && exchange.received_nothing()) {
                    stale = true;
                    break;
                }
                return exchange.fail(Outcome::reset, describe_error("recv", err));
            }
        }
        if (stale) {
            connection.close();
            continue;
        }
        if (!complete) {
            connection.close();  // the response may still come; this connection is spent
            return exchange.fail(Outcome::timeout, fmt::format("no complete response within {} ms", run.spec.timeout_ms));
        }
        Record record = exchange.finish();
        if (exchange.connection_reusable()) {
            connection.reused_ = true;
        } else {
            connection.close();
        }
        if (links) *links = exchange.links();
        return record;
    }
}

Record fetch_url(const ModelRun& run, Connection& connection, const std::string& url,
                 std::vector<std::string>* links) {
    for (int attempt = 1;; ++attempt) {
        Record record = fetch(run, connection, url, attempt, links);
        bool again = run.retry.should_retry(record);
        run.recorder.record(record, !again);
        if (!again) return record;
    }
}

}  // namespace rosetta::blocking
