#include "scenarios/exchange.hpp"

#include <fmt/format.h>

#include "scenarios/url.hpp"

namespace rosetta {

Exchange::Exchange(const ModelRun& run, std::string url, int attempt, TaskId who)
    : authority_(run.origin().authority),
      origin_prefix_("http://" + authority_),
      url_(std::move(url)),
      attempt_(attempt),
      keep_alive_(run.spec().keepalive),
      want_links_(run.crawling()),
      timeout_ms_(run.spec().timeout_ms),
      who_(who),
      start_ns_(monotonic_ns()),
      deadline_ns_(start_ns_ + std::int64_t{timeout_ms_} * 1'000'000),
      links_(want_links_ ? std::make_unique<LinkExtractor>() : nullptr),
      parser_(parser()) {
    write_request();
}

void Exchange::restart(std::string_view url, int attempt) {
    if (url != url_) {  // a retry passes url() itself: nothing to copy or write again
        url_.assign(url);
        write_request();
    }
    attempt_ = attempt;
    start_ns_ = monotonic_ns();
    deadline_ns_ = start_ns_ + std::int64_t{timeout_ms_} * 1'000'000;
    resent_ = false;
    ok_ = false;
    start_again();
}

void Exchange::write_request() {
    // The URLs a run makes itself (the download list, the frontier's) are normalised and start
    // with the origin's own "http://host:port": when such a URL goes on with '/' and has no
    // fragment, the rest is its target (an authority ends at the first '/', '?' or '#'), and
    // Boost.URL's full parse, 4 % of a keep-alive download's client cycles, is not needed.
    // Anything else goes through request_target().
    std::string_view rest = url_;
    if (rest.starts_with(origin_prefix_)) {
        rest.remove_prefix(origin_prefix_.size());
        if (rest.starts_with('/') && rest.find('#') == std::string_view::npos)
            return write_get_request(request_, authority_, rest, keep_alive_);
    }
    write_get_request(request_, authority_, request_target(url_), keep_alive_);
}

ResponseParser Exchange::parser() {
    return ResponseParser([this](std::string_view body) {
        // Called from inside parser_.feed, which has counted this piece already.
        checksum_.update(body, parser_.body_complete());
        if (links_) links_->feed(body);
    });
}

void Exchange::start_again() {
    checksum_.reset();
    links_ = want_links_ ? std::make_unique<LinkExtractor>() : nullptr;
    parser_.reset();
    received_ = 0;
    connected_ns_ = first_byte_ns_ = 0;
}

std::int64_t Exchange::time_left_ns() const { return deadline_ns_ - monotonic_ns(); }

int Exchange::time_left_ms() const {
    std::int64_t left = time_left_ns();
    return left <= 0 ? 0 : static_cast<int>((left + 999'999) / 1'000'000);
}

void Exchange::connected() { connected_ns_ = monotonic_ns(); }

bool Exchange::on_bytes(std::string_view bytes) {
    if (received_ == 0 && !bytes.empty()) first_byte_ns_ = monotonic_ns();
    received_ += bytes.size();
    return parser_.feed(bytes) != ResponseParser::State::need_more;
}

void Exchange::on_eof() { parser_.feed_eof(); }

bool Exchange::send_again(IoFailure failure) {
    const bool transport = failure.step == Step::send || failure.step == Step::recv;
    const bool stale = !resent_ && connected_ns_ == 0 && received_ == 0 &&
                       (!failure || (transport && failure.error != deadline_passed));
    if (!stale) return false;
    resent_ = true;
    start_again();
    return true;
}

void Exchange::fill(Record& r, Outcome outcome, int status, std::string_view error) {
    r.url.assign(url_);
    r.attempt = attempt_;
    r.outcome = outcome;
    r.status = status;
    r.bytes = parser_.body_bytes();
    r.checksum = checksum_.value();
    r.start_ns = start_ns_;
    r.connected_ns = connected_ns_;
    r.first_byte_ns = first_byte_ns_;
    r.end_ns = monotonic_ns();
    r.lane = who_.lane;
    r.task = who_.task;
    r.error.assign(error);
}

Record Exchange::end(IoFailure failure) {
    Record r;
    end(failure, r);
    return r;
}

void Exchange::end(IoFailure failure, Record& into) {
    if (failure) {
        const bool deadline = failure.error == deadline_passed;
        switch (failure.step) {
            case Step::socket:
            case Step::connect: {
                const char* step = failure.step == Step::socket ? "socket" : "connect";
                if (!deadline && is_client_limit(failure.error))
                    throw LimitReached(describe_error(step, failure.error));
                return fill(into, Outcome::connect_error, 0,
                            deadline ? fmt::format("{}: no answer within {} ms", step, timeout_ms_)
                                     : describe_error(step, failure.error));
            }
            case Step::send:
            case Step::recv:
                if (deadline)
                    return fill(into, Outcome::timeout, parser_.status(),
                                fmt::format("no complete response within {} ms", timeout_ms_));
                return fill(
                    into, Outcome::reset, parser_.status(),
                    describe_error(failure.step == Step::send ? "send" : "recv", failure.error));
        }
    }
    switch (parser_.state()) {
        case ResponseParser::State::done: {
            int status = parser_.status();
            if (status >= 400)
                return fill(into, Outcome::http_error, status, fmt::format("HTTP {}", status));
            ok_ = true;
            if (links_) links_->finish();
            return fill(into, Outcome::ok, status, {});
        }
        case ResponseParser::State::failed:
            return fill(into, parser_.failure(), parser_.status(), parser_.error());
        case ResponseParser::State::need_more: break;
    }
    return fill(into, Outcome::truncated, parser_.status(), "response incomplete");
}

bool Exchange::connection_reusable() const {
    return keep_alive_ && parser_.state() == ResponseParser::State::done && parser_.keep_alive();
}

std::vector<std::string> Exchange::take_links() {
    if (!ok_ || !links_) return {};
    std::vector<std::string> links = resolve_links(*links_, url_);
    links_.reset();
    return links;
}

}  // namespace rosetta
