#include "bench/origin/reply.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bench/origin/state.hpp"

namespace rosetta::origin {

namespace {

constexpr std::string_view malformed_head = "HTTX/1.1 2x0 ???\r\nContent-Lenth: what\r\n\r\n";

// extra: more header lines, each ending in CRLF.
std::string make_head(int status, std::string_view reason, std::string_view type,
                      std::size_t length, bool keep_alive, std::string_view extra = {}) {
    return fmt::format(
        "HTTP/1.1 {} {}\r\nServer: rosetta-origin\r\nContent-Type: {}\r\nContent-Length: {}\r\n"
        "Connection: {}\r\n{}\r\n",
        status, reason, type, length, keep_alive ? "keep-alive" : "close", extra);
}

}  // namespace

Ask Ask::of(const Request* request) {
    Ask ask;
    ask.keep_alive = request && request->keep_alive;
    ask.head_only = request && request->method == "HEAD";
    if (!request) {
        ask.kind = Kind::bad_request;
    } else if (request->method != "GET" && !ask.head_only) {
        ask.kind = Kind::not_allowed;
        ask.keep_alive = false;  // it may have sent a body we did not read
    } else if (request->target == "/__stats") {
        ask.kind = Kind::stats;
    } else {
        ask.kind = Kind::page;
    }
    return ask;
}

void Reply::decide(const OriginState& state, const Ask& ask) {
    owned_head_.clear();
    owned_body_.clear();
    body_ = {};
    pieces_ = 1;
    after_ = ask.keep_alive ? After::keep_alive : After::close;
    auto small = [&](int status, std::string_view reason, std::string_view text,
                     std::string_view extra = {}) {
        owned_head_ = make_head(status, reason, "text/plain", text.size(), ask.keep_alive, extra);
        head_ = owned_head_;
        body_ = text;
    };
    switch (ask.kind) {
        case Ask::Kind::stats:
            owned_body_ = state.stats().dump();
            owned_head_ =
                make_head(200, "OK", "application/json", owned_body_.size(), ask.keep_alive);
            head_ = owned_head_;
            body_ = owned_body_;
            break;
        case Ask::Kind::bad_request: small(400, "Bad Request", "bad request\n"); break;
        case Ask::Kind::not_allowed:
            // RFC 9110 15.5.6: a 405 names the methods the target supports.
            small(405, "Method Not Allowed", "only GET and HEAD\n", "Allow: GET, HEAD\r\n");
            break;
        case Ask::Kind::page:
            if (ask.fault == Fault::malformed) {
                head_ = malformed_head;
                after_ = After::close;
            } else if (ask.fault == Fault::status) {
                small(503, "Service Unavailable", "try again\n");
            } else if (ask.fault == Fault::notfound || !ask.page) {
                small(404, "Not Found", "not found\n");
            } else {
                head_ = ask.keep_alive ? state.page_head_keep_alive : state.page_head_close;
                if (auto cached = state.cached_body(*ask.page)) {
                    body_ = *cached;
                } else {
                    owned_body_ = state.site.page_html(*ask.page);
                    body_ = owned_body_;
                }
            }
            break;
    }
    body_end_ = ask.head_only ? 0 : body_.size();
    // The faults that cut or slow the delivery apply to whatever the answer would have been.
    if (ask.kind == Ask::Kind::page) {
        if (ask.fault == Fault::reset || ask.fault == Fault::truncate) {
            body_end_ /= 2;
            after_ = ask.fault == Fault::reset ? After::reset : After::close;
        } else if (ask.fault == Fault::slow) {
            pieces_ = drip_pieces;
        }
    }
}

void Reply::drop_generated_body() {
    if (owned_body_.capacity() <= 4096) return;
    std::string().swap(owned_body_);
    body_ = {};
}

std::string page_head(std::size_t page_bytes, bool keep_alive) {
    return make_head(200, "OK", "text/html", page_bytes, keep_alive);
}

}  // namespace rosetta::origin
