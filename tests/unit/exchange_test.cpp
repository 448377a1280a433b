// One attempt without any socket: the exchange is fed bytes, EOFs and failures by hand, as a
// model's waits would, and the records, the stale keep-alive rule and the retry step are
// checked against what the contract says.
#include "scenarios/exchange.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "scenarios/site.hpp"
#include "scenarios/url.hpp"

using namespace rosetta;

namespace {

const std::string authority = "127.0.0.1:4242";
const std::string url = "http://" + authority + "/p/1";

// Keeps what a model records, as the Recorder would receive it.
class ListSink final : public AttemptSink {
public:
    void record(const Record& attempt, bool final) override { got.push_back({attempt, final}); }
    struct Entry {
        Record record;
        bool final;
    };
    std::vector<Entry> got;
};

// A run as a model sees it, with the spec's options adjustable before use.
struct Fixture {
    Spec spec;
    Endpoint origin;
    ListSink sink;
    Fixture() { origin.authority = authority; }
    ModelRun run() { return ModelRun(spec, origin, sink); }
};

std::string response(std::string_view body, std::string_view extra_headers = "") {
    return fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{}\r\n{}", body.size(),
                       extra_headers, body);
}

const TaskId who{11, 22};

}  // namespace

TEST(Exchange, sends_a_get_for_the_url_and_records_an_ok_response_with_its_phases) {
    Fixture f;
    Exchange exchange(f.run(), url, 1, who);
    EXPECT_EQ(exchange.request(), make_get_request(authority, "/p/1", true));
    exchange.connected();
    EXPECT_FALSE(exchange.on_bytes("HTTP/1.1 200 OK\r\nContent-Le"));
    EXPECT_TRUE(exchange.on_bytes("ngth: 5\r\n\r\nhello"));
    EXPECT_TRUE(exchange.connection_reusable());
    Record r = exchange.end();
    EXPECT_EQ(r.url, url);
    EXPECT_EQ(r.attempt, 1);
    EXPECT_EQ(r.outcome, Outcome::ok);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.bytes, 5u);
    // Of a std::string, not the literal: g++ 12 sees XXH3's long-input paths run over a
    // 6-byte array and warns (-Warray-bounds) under the sanitizers.
    const std::string body = "hello";
    EXPECT_EQ(r.checksum, Checksum::of(body));
    EXPECT_EQ(r.lane, 11u);
    EXPECT_EQ(r.task, 22u);
    EXPECT_TRUE(r.error.empty());
    EXPECT_GT(r.connected_ns, 0);
    EXPECT_LE(r.start_ns, r.connected_ns);
    EXPECT_LE(r.connected_ns, r.first_byte_ns);
    EXPECT_LE(r.first_byte_ns, r.end_ns);
}

TEST(Exchange, checksums_a_body_the_same_whole_or_split_at_any_position_and_chunked) {
    // One piece is hashed in one call, a split body streams through XXH3's state: same value.
    Fixture f;
    const std::string body(3000, 'x');
    std::string page = body;
    for (std::size_t i = 0; i < page.size(); i += 7) page[i] = static_cast<char>('a' + i % 26);
    const std::uint64_t expected = Checksum::of(page);
    const std::string whole = response(page);
    Exchange exchange(f.run(), url, 1, who);
    for (std::size_t at = 0; at <= whole.size(); at += 97) {
        exchange.restart(url, 1);
        exchange.on_bytes(std::string_view(whole).substr(0, at));
        exchange.on_bytes(std::string_view(whole).substr(at));
        Record r = exchange.end();
        ASSERT_EQ(r.outcome, Outcome::ok) << "split at " << at;
        ASSERT_EQ(r.checksum, expected) << "split at " << at;
    }
    exchange.restart(url, 1);
    exchange.on_bytes(
        fmt::format("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                    page.size(), page));
    EXPECT_EQ(exchange.end().checksum, expected) << "chunked: complete only at the last chunk";
    exchange.restart(url, 1);
    exchange.on_bytes(response(""));
    const std::string empty;
    EXPECT_EQ(exchange.end().checksum, Checksum::of(empty));
}

TEST(Exchange,
     leaves_connected_ns_out_on_a_kept_alive_connection_and_first_byte_out_when_nothing_came) {
    Fixture f;
    Exchange reused(f.run(), url, 1, who);
    reused.on_bytes(response("x"));
    EXPECT_EQ(reused.end().connected_ns, 0) << "no connected(): the connection was reused";

    Exchange silent(f.run(), url, 1, who);
    silent.connected();
    Record r = silent.end({Step::recv, deadline_passed});
    EXPECT_GT(r.connected_ns, 0);
    EXPECT_EQ(r.first_byte_ns, 0);
}

TEST(Exchange, owns_the_attempts_deadline_from_the_timeout) {
    Fixture f;
    f.spec.timeout_ms = 300;
    std::int64_t before = monotonic_ns();
    Exchange exchange(f.run(), url, 1, who);
    std::int64_t after = monotonic_ns();
    EXPECT_GE(exchange.deadline_ns(), before + 300'000'000);
    EXPECT_LE(exchange.deadline_ns(), after + 300'000'000);
    EXPECT_GT(exchange.time_left_ns(), 0);
    EXPECT_LE(exchange.time_left_ms(), 300);
    EXPECT_GT(exchange.time_left_ms(), 0);

    f.spec.timeout_ms = 1;
    Exchange short_lived(f.run(), url, 1, who);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    EXPECT_LE(short_lived.time_left_ns(), 0);
    EXPECT_EQ(short_lived.time_left_ms(), 0);
}

TEST(Exchange, names_every_failed_step_with_one_outcome_and_one_wording) {
    struct Case {
        IoFailure failure;
        Outcome outcome;
        std::string error;
    };
    const std::vector<Case> cases = {
        {{Step::connect, ECONNREFUSED}, Outcome::connect_error, "connect: ECONNREFUSED"},
        {{Step::connect, deadline_passed},
         Outcome::connect_error,
         "connect: no answer within 250 ms"},
        {{Step::send, EPIPE}, Outcome::reset, "send: EPIPE"},
        {{Step::recv, ECONNRESET}, Outcome::reset, "recv: ECONNRESET"},
        {{Step::send, deadline_passed}, Outcome::timeout, "no complete response within 250 ms"},
        {{Step::recv, deadline_passed}, Outcome::timeout, "no complete response within 250 ms"},
    };
    Fixture f;
    f.spec.timeout_ms = 250;
    for (const Case& c : cases) {
        Exchange exchange(f.run(), url, 2, who);
        exchange.connected();
        Record r = exchange.end(c.failure);
        EXPECT_EQ(r.outcome, c.outcome) << c.error;
        EXPECT_TRUE(r.error.starts_with(c.error)) << r.error;
        EXPECT_EQ(r.attempt, 2);
    }
}

TEST(Exchange, stops_the_run_when_the_client_runs_out_rather_than_blaming_the_url) {
    Fixture f;
    for (IoFailure limit : {IoFailure{Step::socket, EMFILE}, IoFailure{Step::socket, ENFILE},
                            IoFailure{Step::connect, EADDRNOTAVAIL}}) {
        Exchange exchange(f.run(), url, 1, who);
        EXPECT_THROW(exchange.end(limit), LimitReached);
    }
    Exchange exchange(f.run(), url, 1, who);
    try {
        exchange.end({Step::socket, EMFILE});
        FAIL() << "no LimitReached";
    } catch (const LimitReached& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with("socket: EMFILE (RLIMIT_NOFILE "))
            << e.what();
    }
}

TEST(Exchange, ends_a_response_the_peer_cut_short_as_truncated_and_garbage_as_malformed) {
    Fixture f;
    Exchange cut(f.run(), url, 1, who);
    cut.connected();
    cut.on_bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf");
    cut.on_eof();
    EXPECT_EQ(cut.end().outcome, Outcome::truncated);

    Exchange garbage(f.run(), url, 1, who);
    garbage.connected();
    EXPECT_TRUE(garbage.on_bytes("HTTX/1.1 2x0 ???\r\n\r\n"));
    EXPECT_EQ(garbage.end().outcome, Outcome::malformed);

    Exchange missing(f.run(), url, 1, who);
    missing.on_bytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    Record r = missing.end();
    EXPECT_EQ(r.outcome, Outcome::http_error);
    EXPECT_EQ(r.status, 404);
}

TEST(Exchange, sends_again_once_when_a_kept_alive_connection_fails_before_any_byte) {
    Fixture f;
    for (IoFailure stale :
         {IoFailure{Step::send, EPIPE}, IoFailure{Step::recv, ECONNRESET}, IoFailure{}}) {
        Exchange exchange(f.run(), url, 1, who);
        if (!stale) exchange.on_eof();  // an EOF before any byte: the server closed it while idle
        ASSERT_TRUE(exchange.send_again(stale)) << "a kept-alive connection, nothing received";
        // The new try: a new connection, the response arrives, same attempt, same clock.
        exchange.connected();
        exchange.on_bytes(response("ok"));
        EXPECT_FALSE(exchange.send_again({})) << "a complete response is no staleness";
        Record r = exchange.end();
        EXPECT_EQ(r.outcome, Outcome::ok);
        EXPECT_EQ(r.attempt, 1);
        EXPECT_EQ(r.bytes, 2u) << "the first try's parse is gone";
        EXPECT_GT(r.connected_ns, 0);
    }
    // Only once: the resend failing the same way is the attempt's outcome.
    Exchange twice(f.run(), url, 1, who);
    ASSERT_TRUE(twice.send_again({Step::recv, ECONNRESET}));
    EXPECT_FALSE(twice.send_again({Step::recv, ECONNRESET}));
    EXPECT_EQ(twice.end({Step::recv, ECONNRESET}).outcome, Outcome::reset);
}

TEST(Exchange, does_not_send_again_on_a_new_connection_after_a_byte_at_the_deadline_or_on_connect) {
    Fixture f;
    Exchange fresh(f.run(), url, 1, who);
    fresh.connected();
    EXPECT_FALSE(fresh.send_again({Step::recv, ECONNRESET}))
        << "this try opened the connection: a real reset";

    Exchange partial(f.run(), url, 1, who);
    partial.on_bytes("HTTP/1.1 200");
    EXPECT_FALSE(partial.send_again({Step::recv, ECONNRESET}))
        << "a byte arrived: the server answered";

    Exchange late(f.run(), url, 1, who);
    EXPECT_FALSE(late.send_again({Step::recv, deadline_passed}))
        << "the deadline is never staleness";

    Exchange refused(f.run(), url, 1, who);
    EXPECT_FALSE(refused.send_again({Step::connect, ECONNREFUSED}));
    EXPECT_FALSE(refused.send_again({Step::socket, EMFILE}));
}

TEST(Exchange, keeps_the_connection_only_when_both_sides_keep_it_alive_and_the_response_completed) {
    Fixture f;
    Exchange closing(f.run(), url, 1, who);
    closing.on_bytes(response("x", "Connection: close\r\n"));
    EXPECT_FALSE(closing.connection_reusable());

    f.spec.keepalive = false;
    Exchange off(f.run(), url, 1, who);
    EXPECT_NE(off.request().find("Connection: close"), std::string_view::npos);
    off.on_bytes(response("x"));
    EXPECT_FALSE(off.connection_reusable());

    f.spec.keepalive = true;
    Exchange unfinished(f.run(), url, 1, who);
    unfinished.on_bytes("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
    EXPECT_FALSE(unfinished.connection_reusable());
}

TEST(Exchange, gives_a_crawl_the_links_of_an_ok_page_and_nothing_otherwise) {
    Fixture f;
    f.spec.scenario = Scenario::crawl;
    const std::string page =
        "<html><body><a href=\"2\">two</a><a href=\"/p/3#x\">three</a>"
        "<a href=\"http://elsewhere.test/\">off</a></body></html>";
    Exchange ok(f.run(), url, 1, who);
    ok.on_bytes(response(page));
    ok.end();
    EXPECT_EQ(ok.take_links(),
              (std::vector<std::string>{"http://" + authority + "/p/2",
                                        "http://" + authority + "/p/3", "http://elsewhere.test/"}));

    Exchange cut(f.run(), url, 1, who);
    cut.on_bytes("HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n<a href=\"2\">");
    cut.on_eof();
    cut.end();
    EXPECT_TRUE(cut.take_links().empty()) << "a truncated page gives no links";

    f.spec.scenario = Scenario::download;
    Exchange download(f.run(), url, 1, who);
    download.on_bytes(response(page));
    download.end();
    EXPECT_TRUE(download.take_links().empty()) << "a download does not look for links";
}

TEST(Exchange, restarts_for_another_attempt_or_url_as_a_new_exchange_would) {
    Fixture f;
    f.spec.retries = 2;
    Exchange reused(f.run(), url, 1, who);
    reused.connected();
    reused.on_bytes("HTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno");
    Record first;
    reused.end({}, first);
    EXPECT_EQ(first.outcome, Outcome::http_error);

    const std::string other = "http://" + authority + "/p/2?x=1";
    for (const std::string& next : {url, other}) {
        reused.restart(next, 2);
        Exchange fresh(f.run(), next, 2, who);
        EXPECT_EQ(reused.url(), next);
        EXPECT_EQ(reused.attempt(), 2);
        EXPECT_EQ(reused.request(), fresh.request());
        EXPECT_GE(reused.deadline_ns(), fresh.deadline_ns() - 1'000'000) << "the clock restarted";
        EXPECT_TRUE(reused.send_again({Step::recv, ECONNRESET})) << "a fresh try may resend";
        reused.on_bytes(response("hello"));
        Record again = first;  // written over, strings and all
        reused.end({}, again);
        EXPECT_EQ(again.url, next);
        EXPECT_EQ(again.attempt, 2);
        EXPECT_EQ(again.outcome, Outcome::ok);
        EXPECT_EQ(again.status, 200);
        EXPECT_EQ(again.bytes, 5u);
        EXPECT_EQ(again.error, "");
        EXPECT_EQ(again.connected_ns, 0) << "nothing connected in this try";
        EXPECT_TRUE(reused.connection_reusable());
    }
}

TEST(Exchange, writes_the_target_of_a_url_not_of_its_own_origin_the_long_way) {
    Fixture f;
    for (const char* other : {"http://elsewhere.test/p/1", "http://127.0.0.1:4242?q=1",
                              "http://127.0.0.1:4242/p/1#top", "http://127.0.0.1:42420/p/1"}) {
        Exchange exchange(f.run(), other, 1, who);
        EXPECT_EQ(exchange.request(), make_get_request(authority, request_target(other), true))
            << other;
    }
}

TEST(ModelRun, lists_the_download_urls_as_url_of_each_site_path_in_the_site_order) {
    Fixture f;
    f.spec.pages = 300;
    ModelRun run = f.run();
    Site site(SiteParams::from(f.spec, authority));
    std::vector<std::string> expected;
    for (const std::string& path : site.download_paths()) expected.push_back(run.url_of(path));
    EXPECT_EQ(run.download_urls(), expected);
}

TEST(ModelRun, records_each_attempt_and_marks_the_last_one_final_in_the_same_step) {
    Fixture f;
    f.spec.retries = 2;
    ModelRun run = f.run();
    Record r;
    r.url = url;
    auto attempt = [&](int n, Outcome outcome, int status) {
        r.attempt = n;
        r.outcome = outcome;
        r.status = status;
        return run.record(r);
    };
    EXPECT_EQ(attempt(1, Outcome::timeout, 0), Next::retry);
    EXPECT_EQ(attempt(2, Outcome::http_error, 503), Next::retry);
    EXPECT_EQ(attempt(3, Outcome::reset, 0), Next::done) << "retries spent";
    EXPECT_EQ(attempt(1, Outcome::http_error, 404), Next::done) << "a 404 is final";
    EXPECT_EQ(attempt(1, Outcome::ok, 200), Next::done);
    ASSERT_EQ(f.sink.got.size(), 5u);
    std::vector<bool> finals;
    for (auto& entry : f.sink.got) finals.push_back(entry.final);
    EXPECT_EQ(finals, (std::vector<bool>{false, false, true, true, true}));
}
