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
    int fd = open_tcp_socket(run.origin).release();
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

// The two waits of an attempt. Each returns 0, ETIMEDOUT when the deadline passed, or the
// errno of a failed send or recv; `operation` names the call that failed.
struct Io {
    int error = 0;
    const char* operation = "";
};

// Sends all of bytes, the kernel blocking in send() at most until the deadline.
Io send_all(int fd, std::string_view bytes, std::int64_t deadline_ns) {
    while (!bytes.empty()) {
        std::int64_t left = time_left(deadline_ns);
        if (left <= 0) return {ETIMEDOUT, "send"};
        set_timeout(fd, SO_SNDTIMEO, left);
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EINTR) {
            return {errno == EAGAIN ? ETIMEDOUT : errno, "send"};
        }
    }
    return {};
}

// Feeds the exchange what recv() brings until the response is complete or the peer closes,
// the kernel blocking in recv() at most until the deadline.
Io receive(int fd, Exchange& exchange, std::int64_t deadline_ns) {
    char buffer[64 * 1024];
    for (;;) {
        std::int64_t left = time_left(deadline_ns);
        if (left <= 0) return {ETIMEDOUT, "recv"};
        set_timeout(fd, SO_RCVTIMEO, left);
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
            if (exchange.on_bytes({buffer, static_cast<std::size_t>(n)})) return {};
        } else if (n == 0) {
            exchange.on_eof();
            return {};
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return {ETIMEDOUT, "recv"};  // SO_RCVTIMEO fired: the deadline passed
        } else if (errno != EINTR) {
            return {errno, "recv"};
        }
    }
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
    for (bool first_try = true;; first_try = false) {
        Exchange exchange(url, run.origin.authority, attempt, run.spec.keepalive, links != nullptr, lane);
        const std::int64_t deadline = monotonic_ns() + std::int64_t{run.spec.timeout_ms} * 1'000'000;
        if (!connection.is_open()) {
            std::string error = connect(run, connection, deadline);
            if (!error.empty()) {
                connection.close();
                return exchange.fail(Outcome::connect_error, error);
            }
        }
        const bool reused = connection.reused_;
        Io io = send_all(connection.fd_, exchange.request(), deadline);
        if (io.error == 0) io = receive(connection.fd_, exchange, deadline);

        // A kept-alive connection the server closed while idle fails (EOF, EPIPE, ECONNRESET)
        // before any byte of a response: the request goes again on a new connection, once,
        // and that first try is not an attempt. No fault of the origin looks like this.
        if (reused && first_try && exchange.received_nothing() && io.error != ETIMEDOUT) {
            connection.close();
            continue;
        }
        if (io.error == ETIMEDOUT) {
            connection.close();  // the response may still come; this connection is spent
            return exchange.fail(Outcome::timeout,
                                 fmt::format("no complete response within {} ms", run.spec.timeout_ms));
        }
        if (io.error != 0) {
            connection.close();
            return exchange.fail(Outcome::reset, describe_error(io.operation, io.error));
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
