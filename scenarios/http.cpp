// HTTP/1.x on plain buffers with Beast's basic_parser: it does the grammar, this file does the
// buffering Beast leaves to its caller and turns Beast's error codes into outcome classes.
#include "scenarios/http.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <utility>

namespace rosetta {

namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;

// Beast's default of 8 KiB rejects headers real servers send (long Set-Cookie lines), and the
// whole header may sit in our buffer until it is complete, so this also caps that buffer.
constexpr std::uint32_t header_limit_bytes = 64 * 1024;
// A body is streamed to the sink, never held, so its size costs time, not memory; still, none
// of a site's pages is over 64 MiB (--page-bytes), and a response that announces or sends more
// than four times that is refused as malformed at once, not waited on until its deadline.
constexpr std::uint64_t body_limit_bytes = std::uint64_t{256} << 20;

bool is_space_or_control(char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f || c == ' ';
}

// Beast defers judging a status line until it holds the whole header when the response
// arrives in pieces, so junk dribbled in without a blank line would wait for the timeout (or
// become "truncated" at EOF) instead of failing as malformed. Checking the fixed-shape prefix
// "HTTP/1.x ddd " ourselves gives the same verdict however the bytes were split.
std::string_view status_line_prefix_error(std::string_view bytes) {
    constexpr std::string_view shape = "HTTP/1.v ddd ";
    const std::size_t n = std::min(bytes.size(), shape.size());
    for (std::size_t i = 0; i < n; ++i) {
        const char c = bytes[i];
        const char want = shape[i];
        const bool fits = want == 'v'   ? (c == '0' || c == '1')
                          : want == 'd' ? (c >= '0' && c <= '9')
                                        : c == want;
        // Same words as Beast: the version and its space are "bad version", the code "bad status".
        if (!fits) return i < 9 ? "bad version" : "bad status";
    }
    return {};
}

// `unparsed` (what Beast left of a chunked body) holds a whole last-chunk line.
bool after_last_chunk_line(std::string_view unparsed) {
    if (unparsed.starts_with("\r\n")) unparsed.remove_prefix(2);
    return unparsed.starts_with('0') && unparsed.find('\n') != std::string_view::npos;
}

// The start of a rejected status line, printable and on one line, for error().
std::string excerpt(std::string_view bytes) {
    constexpr std::size_t max_bytes = 24;
    bytes = bytes.substr(0, bytes.find_first_of("\r\n"));
    std::string out = "\"";
    for (char c : bytes.substr(0, max_bytes)) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
            out += c;
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", u);
            out += escaped;
        }
    }
    out += bytes.size() > max_bytes ? "\"..." : "\"";
    return out;
}

}  // namespace

std::string make_get_request(std::string_view authority, std::string_view target, bool keep_alive) {
    std::string request;
    write_get_request(request, authority, target, keep_alive);
    return request;
}

void write_get_request(std::string& out, std::string_view authority, std::string_view target,
                       bool keep_alive) {
    if (authority.empty() || std::ranges::any_of(authority, is_space_or_control))
        throw std::invalid_argument("make_get_request: authority is empty or not one token");
    if (!target.starts_with('/') || std::ranges::any_of(target, is_space_or_control))
        throw std::invalid_argument(
            "make_get_request: target is not origin-form (\"/path?query\")");

    constexpr std::string_view get = "GET ";
    constexpr std::string_view host = " HTTP/1.1\r\nHost: ";
    constexpr std::string_view agent = "\r\nUser-Agent: concurrency-rosetta\r\nConnection: ";
    const std::string_view connection = keep_alive ? "keep-alive" : "close";
    constexpr std::string_view end = "\r\n\r\n";

    out.clear();
    out.reserve(get.size() + target.size() + host.size() + authority.size() + agent.size() +
                connection.size() + end.size());
    out.append(get).append(target).append(host).append(authority).append(agent);
    out.append(connection).append(end);
}

class ResponseParser::Impl {
public:
    explicit Impl(BodySink on_body) : on_body_(std::move(on_body)) { wire_.emplace(*this); }

    State feed(std::string_view bytes);
    State feed_eof();
    // All of a Content-Length body delivered (or the parse done).
    bool body_complete() const {
        if (state_ == State::done) return true;
        if (!wire_ || !wire_->is_header_done() || wire_->chunked()) return false;
        const auto length = wire_->content_length();
        return length && body_bytes_ == *length;
    }

    void reset() {
        state_ = State::need_more;
        status_ = 0;
        keep_alive_ = false;
        body_bytes_ = 0;
        failure_ = Outcome::ok;
        error_.clear();
        extra_bytes_ = 0;
        pending_.clear();
        wire_.emplace(*this);
    }

    State state_ = State::need_more;
    int status_ = 0;
    bool keep_alive_ = false;
    std::uint64_t body_bytes_ = 0;
    Outcome failure_ = Outcome::ok;
    std::string error_;
    std::size_t extra_bytes_ = 0;

private:
    // Beast's parser of one message. Beast already interprets Connection, Content-Length and
    // Transfer-Encoding itself, so only the status and the body need a callback here.
    class Wire final : public http::basic_parser<false> {
    public:
        explicit Wire(Impl& owner) : owner_(owner) {
            eager(true);  // header and body in one put(), not one put() per part
            header_limit(header_limit_bytes);
            body_limit(body_limit_bytes);
        }

    private:
        void on_request_impl(http::verb, boost::beast::string_view, boost::beast::string_view, int,
                             error_code&) override {}
        void on_response_impl(int code, boost::beast::string_view, int, error_code& ec) override {
            // Beast takes any three digits; RFC 9110 15: "values outside the range 100..599
            // are invalid" (found by tests/fuzz/response_parser.cpp: "HTTP/1.1 006").
            if (code < 100 || code > 599) {
                ec = http::error::bad_status;
                return;
            }
            owner_.status_ = code;
        }
        void on_field_impl(http::field, boost::beast::string_view, boost::beast::string_view,
                           error_code&) override {}
        void on_header_impl(error_code&) override {}
        void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
        std::size_t on_body_impl(boost::beast::string_view body, error_code&) override {
            owner_.deliver(body);
            return body.size();
        }
        void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
        std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                       error_code&) override {
            owner_.deliver(body);
            return body.size();
        }
        void on_finish_impl(error_code&) override {}

        Impl& owner_;
    };

    void deliver(boost::beast::string_view body) {
        body_bytes_ += body.size();
        if (on_body_) on_body_(std::string_view(body.data(), body.size()));
    }

    std::size_t parse(std::string_view input, bool& needs_more);
    void parse_header_again();
    void finish();
    void fail(Outcome outcome, std::string reason);
    void fail_on(const error_code& ec, std::string_view input);

    BodySink on_body_;
    // In an optional so an interim 1xx response can be followed by a fresh one: Beast's parser
    // is not reusable. The cost is nil when there is no 1xx, which is almost always.
    std::optional<Wire> wire_;
    // The bytes Beast could not consume yet: always a prefix of a header, chunk header or
    // trailer, never body bytes, so it stays small.
    std::string pending_;
};

// Hands `input` to Beast. Returns how many bytes it consumed; `needs_more` is true when the
// rest is an incomplete header, chunk header or trailer that must be presented again, whole,
// with the bytes that follow it.
std::size_t ResponseParser::Impl::parse(std::string_view input, bool& needs_more) {
    error_code ec;
    const std::size_t used = wire_->put(boost::asio::const_buffer(input.data(), input.size()), ec);
    needs_more = ec == http::error::need_more;
    if (needs_more) return used;
    if (ec) {
        fail_on(ec, input.substr(used));
        return used;
    }
    if (!wire_->is_done()) return used;
    if (status_ / 100 == 1 && status_ != 101) {
        wire_.emplace(*this);
        status_ = 0;
        return used;
    }
    finish();
    return used;
}

// pending_ holds the start of a header (or of several, after a 1xx) from its first byte: it is
// shown whole to a fresh parser. Shown a header in pieces, Beast resumes its search for the
// header's end where it stopped and skips checks it makes on bytes it sees together (a CR
// without its LF, a field line without a colon): a response it refuses whole would, split
// there, wait for its deadline instead (found by tests/fuzz/response_parser.cpp). A header
// almost always comes in one read and never gets here; when it does, the bytes of its read that
// follow it are parsed from pending_, a copy.
void ResponseParser::Impl::parse_header_again() {
    while (state_ == State::need_more && !pending_.empty() && !wire_->is_header_done()) {
        wire_.emplace(*this);
        status_ = 0;
        bool needs_more = false;
        const std::size_t used = parse(pending_, needs_more);
        if (state_ == State::failed) return;
        if (needs_more && !wire_->is_header_done()) return;  // still incomplete: kept whole
        pending_.erase(0, used);  // a 1xx (then the next header), or this header and more
    }
}

ResponseParser::State ResponseParser::Impl::feed(std::string_view bytes) {
    if (state_ != State::need_more) {
        extra_bytes_ += bytes.size();
        return state_;
    }
    bool needs_more = false;
    while (!bytes.empty() && state_ == State::need_more) {
        if (pending_.empty()) {
            // The common path: Beast reads the caller's buffer in place and the body goes to the
            // sink without a copy.
            const std::string_view from = bytes;
            const std::size_t used = parse(bytes, needs_more);
            bytes.remove_prefix(used);
            if (state_ == State::need_more && (needs_more || used == 0)) {
                // An incomplete header is kept from its first byte (parse_header_again).
                pending_.assign(wire_->is_header_done() ? bytes : from);
                bytes = {};
            }
        } else if (!wire_->is_header_done()) {
            pending_.append(bytes);
            bytes = {};
            parse_header_again();
        } else {
            // Beast wants the unconsumed tail of a chunk header or trailer again followed by what
            // came next. Every such part ends at a line feed, so adding one line at a time
            // finishes it without copying the body that follows; the cost is one put() per line.
            const std::size_t line_end = bytes.find('\n');
            const std::size_t take =
                line_end == std::string_view::npos ? bytes.size() : line_end + 1;
            pending_.append(bytes.substr(0, take));
            bytes.remove_prefix(take);
            // Once Beast has seen a last-chunk line ("0\r\n", after the previous chunk's CRLF if
            // any) it asserts that it is shown at least 5 bytes, and a body whose first chunk is
            // the last, split right after that line, would show it 4. No chunked ending is
            // shorter than "0\r\n\r\n", so a fifth byte is waited for then, and only then: a bad
            // CRLF after a chunk's data is refused at once, as it is when the body comes whole.
            if (pending_.size() < 5 && after_last_chunk_line(pending_)) continue;
            const std::size_t used = parse(pending_, needs_more);
            pending_.erase(0, used);
        }
    }
    if (state_ == State::done) {
        extra_bytes_ += pending_.size() + bytes.size();
        pending_.clear();
    } else if (state_ == State::need_more && !pending_.empty()) {
        if (status_ == 0) {
            if (const auto reason = status_line_prefix_error(pending_); !reason.empty())
                fail(Outcome::malformed,
                     "bad status line: " + std::string(reason) + " in " + excerpt(pending_));
        } else if (pending_.size() > header_limit_bytes) {
            // Beast bounds the header but not a chunk header or trailer line.
            fail(Outcome::malformed, "bad chunked body: chunk header or trailer over 64 KiB");
        }
    }
    return state_;
}

ResponseParser::State ResponseParser::Impl::feed_eof() {
    if (state_ != State::need_more) return state_;
    if (!wire_->got_some()) {
        fail(Outcome::truncated, "connection closed before any byte of the response");
        return state_;
    }
    error_code ec;
    wire_->put_eof(ec);
    if (!ec && wire_->is_done()) {
        finish();
        return state_;
    }
    if (!wire_->is_header_done()) {
        fail(Outcome::truncated, "connection closed inside the response header");
    } else if (wire_->chunked()) {
        fail(Outcome::truncated, "connection closed inside the chunked body after " +
                                     std::to_string(body_bytes_) + " body bytes");
    } else {
        const auto length = wire_->content_length();
        fail(Outcome::truncated, "connection closed after " + std::to_string(body_bytes_) + " of " +
                                     std::to_string(length.value_or(0)) + " body bytes");
    }
    return state_;
}

void ResponseParser::Impl::finish() {
    state_ = State::done;
    // 101 hands the connection to another protocol: it never carries another HTTP response.
    keep_alive_ = status_ != 101 && wire_->keep_alive();
}

void ResponseParser::Impl::fail(Outcome outcome, std::string reason) {
    state_ = State::failed;
    failure_ = outcome;
    error_ = std::move(reason);
    pending_.clear();
}

void ResponseParser::Impl::fail_on(const error_code& ec, std::string_view input) {
    if (ec == http::error::body_limit) {
        fail(Outcome::malformed,
             fmt::format("body over {} MiB (announced or sent)", body_limit_bytes >> 20));
        return;
    }
    // Every Beast error but need_more (handled by the caller) means the bytes are not HTTP/1.x;
    // a close mid-message never gets here, it is reported by put_eof in feed_eof.
    if (status_ == 0)
        fail(Outcome::malformed, "bad status line: " + ec.message() + " in " + excerpt(input));
    else if (!wire_->is_header_done())
        fail(Outcome::malformed, "bad header: " + ec.message());
    else
        fail(Outcome::malformed, "bad chunked body: " + ec.message());
}

ResponseParser::ResponseParser(BodySink on_body)
    : impl_(std::make_unique<Impl>(std::move(on_body))) {}
ResponseParser::~ResponseParser() = default;
ResponseParser::ResponseParser(ResponseParser&&) noexcept = default;
ResponseParser& ResponseParser::operator=(ResponseParser&&) noexcept = default;

ResponseParser::State ResponseParser::feed(std::string_view bytes) { return impl_->feed(bytes); }
ResponseParser::State ResponseParser::feed_eof() { return impl_->feed_eof(); }
void ResponseParser::reset() { impl_->reset(); }
ResponseParser::State ResponseParser::state() const { return impl_->state_; }
int ResponseParser::status() const { return impl_->status_; }
bool ResponseParser::keep_alive() const {
    return impl_->state_ == State::done && impl_->keep_alive_;
}
std::uint64_t ResponseParser::body_bytes() const { return impl_->body_bytes_; }
bool ResponseParser::body_complete() const { return impl_->body_complete(); }
Outcome ResponseParser::failure() const { return impl_->failure_; }
const std::string& ResponseParser::error() const { return impl_->error_; }
std::size_t ResponseParser::extra_bytes() const { return impl_->extra_bytes_; }

}  // namespace rosetta
