#include "bench/origin/request.hpp"

#include <charconv>
#include <cstring>

namespace rosetta::origin {

namespace {

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != b[i]) return false;
    return true;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// No control characters but HT in a field value; the request line allows none at all.
bool has_control(std::string_view s, bool allow_tab) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && !(allow_tab && c == '\t')) || u == 0x7f) return true;
    }
    return false;
}

}  // namespace

ParseResult parse_request(std::string_view input, Request& request) {
    std::size_t pos = 0;
    // RFC 9112 2.2: a server SHOULD ignore at least one empty line before the request line.
    while (pos < input.size() && (input[pos] == '\r' || input[pos] == '\n')) ++pos;
    const std::size_t head_start = pos;

    // Next line without its CR LF (or bare LF); false when the line is not all here yet.
    std::string_view line;
    auto next_line = [&]() {
        const void* nl = std::memchr(input.data() + pos, '\n', input.size() - pos);
        if (!nl) return false;
        std::size_t end = static_cast<std::size_t>(static_cast<const char*>(nl) - input.data());
        line = input.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = end + 1;
        return true;
    };
    auto incomplete_or_too_long = [&]() {
        return input.size() - head_start > max_request_head ? ParseResult::bad
                                                            : ParseResult::incomplete;
    };

    if (!next_line()) {
        // A request line still arriving is refused as soon as its method cannot be a token:
        // binary junk or a TLS handshake gets its 400 now, not at the header timeout.
        std::string_view partial = input.substr(head_start, max_request_head);
        for (char c : partial.substr(0, partial.find(' ')))
            if (!is_tchar(c)) return ParseResult::bad;
        return incomplete_or_too_long();
    }
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return ParseResult::bad;
    request.method = line.substr(0, sp1);
    request.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(request.method) || request.target.empty() || has_control(request.target, false) ||
        request.target.find(' ') != std::string_view::npos)
        return ParseResult::bad;
    if (version == "HTTP/1.1") {
        request.minor_version = 1;
    } else if (version == "HTTP/1.0") {
        request.minor_version = 0;
    } else {
        return ParseResult::bad;
    }

    bool close = false, keep_alive = false, has_length = false;
    std::size_t length = 0;
    for (;;) {
        if (!next_line()) return incomplete_or_too_long();
        if (pos - head_start > max_request_head) return ParseResult::bad;
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t') return ParseResult::bad;  // obs-fold
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return ParseResult::bad;
        std::string_view name = line.substr(0, colon);
        std::string_view value = trim_ows(line.substr(colon + 1));
        if (!is_token(name) || has_control(value, true)) return ParseResult::bad;
        if (iequals(name, "connection")) {
            while (!value.empty()) {
                std::size_t comma = value.find(',');
                std::string_view option = trim_ows(value.substr(0, comma));
                if (iequals(option, "close")) close = true;
                if (iequals(option, "keep-alive")) keep_alive = true;
                value =
                    comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
            }
        } else if (iequals(name, "content-length")) {
            std::size_t n = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (value.empty() || ec != std::errc() || end != value.data() + value.size() ||
                n > max_request_body || (has_length && n != length))
                return ParseResult::bad;
            has_length = true;
            length = n;
        } else if (iequals(name, "transfer-encoding")) {
            return ParseResult::bad;  // a chunked body to a GET-only server: refuse, don't guess
        }
    }
    request.keep_alive = request.minor_version == 1 ? !close : keep_alive && !close;
    request.size = pos + length;
    if (input.size() < request.size) return ParseResult::incomplete;
    return ParseResult::complete;
}

}  // namespace rosetta::origin
