#include "scenarios/exchange.hpp"

#include "scenarios/url.hpp"

#include <fmt/format.h>

namespace rosetta {

Exchange::Exchange(std::string url, std::string_view authority, int attempt, bool keep_alive,
                   bool want_links, std::uint64_t lane)
    : url_(std::move(url)),
      attempt_(attempt),
      keep_alive_(keep_alive),
      lane_(lane),
      start_ns_(monotonic_ns()),
      request_(make_get_request(authority, request_target(url_), keep_alive)),
      links_(want_links ? std::make_unique<LinkExtractor>() : nullptr),
      parser_([this](std::string_view body) {
          checksum_.update(body);
          if (links_) links_->feed(body);
      }) {}

bool Exchange::on_bytes(std::string_view bytes) {
    received_ += bytes.size();
    return parser_.feed(bytes) != ResponseParser::State::need_more;
}

void Exchange::on_eof() { parser_.feed_eof(); }

Record Exchange::make_record(Outcome outcome, int status, std::string error) {
    Record r;
    r.url = url_;
    r.attempt = attempt_;
    r.outcome = outcome;
    r.status = status;
    r.bytes = parser_.body_bytes();
    r.checksum = checksum_.value();
    r.start_ns = start_ns_;
    r.end_ns = monotonic_ns();
    r.lane = lane_;
    r.error = std::move(error);
    return r;
}

Record Exchange::finish() {
    switch (parser_.state()) {
        case ResponseParser::State::done: {
            int status = parser_.status();
            if (status >= 400) return make_record(Outcome::http_error, status, fmt::format("HTTP {}", status));
            ok_ = true;
            if (links_) links_->finish();
            return make_record(Outcome::ok, status, {});
        }
        case ResponseParser::State::failed:
            return make_record(parser_.failure(), parser_.status(), parser_.error());
        case ResponseParser::State::need_more: break;
    }
    return make_record(Outcome::truncated, parser_.status(), "response incomplete");
}

Record Exchange::fail(Outcome outcome, std::string error) {
    return make_record(outcome, parser_.status(), std::move(error));
}

bool Exchange::connection_reusable() const {
    return keep_alive_ && parser_.state() == ResponseParser::State::done && parser_.keep_alive();
}

std::vector<std::string> Exchange::links() const {
    if (!ok_ || !links_) return {};
    return resolve_links(*links_, url_);
}

}  // namespace rosetta
