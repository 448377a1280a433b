// A small blocking HTTP/1.1 test client on raw sockets: every read has a deadline, and what
// ended a response (complete, EOF, RST, silence, garbage) is reported rather than thrown,
// because the origin's faults are exactly those endings. Beast parses the bytes; no Asio I/O.
#pragma once

// g++ 12 with -fsanitize=address reports a maybe-uninitialized boost::optional inside Beast's
// parser, a false positive; the warning points into the header, so it is silenced there only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "scenarios/net.hpp"

namespace rosetta::test {

using namespace std::chrono_literals;
using TestClock = std::chrono::steady_clock;

inline std::string get_request(std::string_view path, std::string_view extra_headers = {},
                               std::string_view version = "HTTP/1.1") {
    return "GET " + std::string(path) + " " + std::string(version) + "\r\nHost: 127.0.0.1\r\n" +
           std::string(extra_headers) + "\r\n";
}

enum class End { complete, eof, reset, timeout, malformed };

inline std::string_view to_string(End end) {
    switch (end) {
        case End::complete: return "complete";
        case End::eof: return "eof";
        case End::reset: return "reset";
        case End::timeout: return "timeout";
        case End::malformed: return "malformed";
    }
    return "?";
}

struct Response {
    End end = End::timeout;
    int status = 0;
    std::string body;  // as much as arrived
    std::string content_type, connection, allow;
    std::size_t content_length = 0;
    std::string raw;  // every byte read for this response
};

class Client {
public:
    explicit Client(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        if (!fd_) throw std::system_error(errno, std::system_category(), "socket");
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
            throw std::system_error(errno, std::system_category(), "connect");
    }

    int fd() const { return fd_.get(); }
    void close() { fd_.reset(); }
    // Half-close: the server reads EOF, and this side can still read.
    void shutdown_write() { ::shutdown(fd_.get(), SHUT_WR); }

    void send(std::string_view bytes) {
        while (!bytes.empty()) {
            ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) throw std::system_error(errno, std::system_category(), "send");
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // One non-blocking send, all of bytes or part: false once the server has closed (or the
    // socket is full), where send() would throw.
    bool try_send(std::string_view bytes) {
        return ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) > 0;
    }

    // Reads one response, or whatever arrives of it before the connection ends or the
    // deadline passes. Bytes after it stay buffered for the next call.
    // head_request: the response to a HEAD, whose Content-Length announces no body.
    Response read_response(std::chrono::milliseconds timeout = 2000ms, bool head_request = false) {
        namespace http = boost::beast::http;
        Response response;
        http::response_parser<http::string_body> parser;
        parser.body_limit(std::uint64_t{1} << 30);
        parser.eager(true);
        parser.skip(head_request);
        const auto deadline = TestClock::now() + timeout;
        for (;;) {
            boost::system::error_code ec;
            if (!pending_.empty()) {
                std::size_t used = parser.put(boost::asio::buffer(pending_), ec);
                response.raw += pending_.substr(0, used);
                pending_.erase(0, used);
                if (ec && ec != http::error::need_more) {
                    response.raw += pending_;
                    pending_.clear();
                    response.end = End::malformed;
                    break;
                }
                if (parser.is_done()) {
                    response.end = End::complete;
                    break;
                }
                if (used > 0 && !pending_.empty()) continue;
            }
            Read r = read_some(deadline);
            if (r == Read::data) continue;
            response.end = r == Read::eof ? End::eof : r == Read::reset ? End::reset : End::timeout;
            if (r == Read::eof && parser.got_some()) {
                parser.put_eof(ec);  // a body delimited by EOF completes here; any other is cut
                if (!ec && parser.is_done()) response.end = End::complete;
            }
            break;
        }
        if (parser.is_header_done()) {
            const auto& message = parser.get();
            response.status = static_cast<int>(message.result_int());
            response.body = message.body();
            response.content_type = std::string(message[http::field::content_type]);
            response.connection = std::string(message[http::field::connection]);
            response.allow = std::string(message[http::field::allow]);
            if (auto length = parser.content_length())
                response.content_length = static_cast<std::size_t>(*length);
        }
        return response;
    }

    // True when the server closes (EOF or RST) before the deadline and sends nothing first.
    bool closed_within(std::chrono::milliseconds timeout) {
        Read r = read_some(TestClock::now() + timeout);
        return r == Read::eof || r == Read::reset;
    }

    // True when no byte and no close arrives for the whole time.
    bool silent_for(std::chrono::milliseconds timeout) {
        return read_some(TestClock::now() + timeout) == Read::timeout;
    }

    // Waits for a response that arrives within timeout: the convenience most tests want.
    Response get(std::string_view path, std::chrono::milliseconds timeout = 2000ms) {
        send(get_request(path));
        return read_response(timeout);
    }

private:
    enum class Read { data, eof, reset, timeout };

    Read read_some(TestClock::time_point deadline) {
        for (;;) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - TestClock::now());
            if (left.count() < 0) return Read::timeout;
            pollfd p{fd_.get(), POLLIN, 0};
            int ready = ::poll(&p, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return Read::timeout;
            char chunk[65536];
            ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
            if (n > 0) {
                pending_.append(chunk, static_cast<std::size_t>(n));
                return Read::data;
            }
            if (n == 0) return Read::eof;
            if (errno == EINTR || errno == EAGAIN) continue;
            return errno == ECONNRESET ? Read::reset : Read::eof;
        }
    }

    Fd fd_;
    std::string pending_;
};

}  // namespace rosetta::test
