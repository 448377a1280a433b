// The origin under abuse: slowloris, garbage, half-open clients, pipelining, the methods and
// versions a GET-only HTTP/1.1 server meets, junk paths, and descriptors after it all. Each
// test asserts what the origin does, with time tolerances for a shared, noisy machine; the
// header timeout is short here (the default is 10 s) so the whole file runs in a few seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "origin/client.hpp"
#include "origin/running.hpp"

namespace rosetta {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::elapsed_ms;
using test::End;
using test::get_request;
using test::open_descriptors;
using test::Response;
using test::Running;
using test::small_site;
using test::TestClock;

OriginOptions header_timeout(int ms) {
    OriginOptions options;
    options.header_timeout_ms = ms;
    return options;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

// A head that never ends: a header value that goes on one byte at a time.
char slowloris_byte(std::size_t i) {
    static const std::string prefix = "GET /p/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    return i < prefix.size() ? prefix[i] : 'a';
}

TEST(Abuse, serves_normal_clients_promptly_while_hundreds_of_slowloris_clients_drip_bytes) {
    constexpr int drippers = 300;
    constexpr int timeout_ms = 1000;
    // One loop: the slowloris clients and the normal ones share it.
    Running origin(small_site(), header_timeout(timeout_ms));
    std::vector<std::unique_ptr<Client>> slow;
    for (int i = 0; i < drippers; ++i) {
        slow.push_back(std::make_unique<Client>(origin.server.port()));
        slow.back()->send(std::string(1, slowloris_byte(0)));
    }
    const auto started = TestClock::now();  // every dripper has sent its first byte
    // Five bytes a second each, faster than the brief's one a second so that each keeps
    // sending several times within the short timeout: the deadline must hold all the same.
    std::atomic<bool> stop{false};
    std::thread dripper([&] {
        for (std::size_t i = 1; !stop.load(); ++i) {
            std::this_thread::sleep_for(200ms);
            for (auto& c : slow) c->try_send(std::string(1, slowloris_byte(i)));
        }
    });

    // Normal clients meanwhile: one kept alive, and a fresh connection every fifth request.
    Client kept = origin.client();
    std::vector<double> latencies;
    std::int64_t cut_early = -1;
    while (elapsed_ms(started) < 1500) {
        auto start = TestClock::now();
        Response r;
        if (latencies.size() % 5 == 4) {
            r = origin.client().get("/p/2");
        } else {
            r = kept.get("/p/3");
        }
        latencies.push_back(elapsed_ms(start));
        ASSERT_EQ(r.end, End::complete);
        EXPECT_EQ(r.status, 200);
        if (cut_early < 0 && elapsed_ms(started) > timeout_ms * 0.6)
            cut_early = origin.stats()["header_timeouts"].get<std::int64_t>();
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(cut_early, 0) << "slowloris connections cut before their deadline";
    nlohmann::json s = origin.stats_when(
        [](const nlohmann::json& j) { return j["header_timeouts"] == drippers; }, 4000ms);
    const double all_cut_ms = elapsed_ms(started);
    stop = true;
    dripper.join();

    ASSERT_EQ(s["header_timeouts"], drippers);
    EXPECT_LT(all_cut_ms, timeout_ms + 2500) << "the deadline was not kept";
    const auto closed_by = TestClock::now() + 1s;
    for (auto& c : slow)
        EXPECT_TRUE(c->closed_within(std::chrono::duration_cast<std::chrono::milliseconds>(
            std::max(closed_by - TestClock::now(), TestClock::duration::zero()))));
    EXPECT_EQ(s["requests"], latencies.size()) << "a dripped head was taken for a request";
    // Not one normal request waited for a dripper's deadline (1 s); almost all took a moment.
    EXPECT_GE(latencies.size(), 20u);
    EXPECT_LT(percentile(latencies, 0.5), 50) << latencies.size() << " requests";
    EXPECT_LT(percentile(latencies, 1.0), 500) << latencies.size() << " requests";
}

TEST(Abuse, cuts_a_started_request_at_its_deadline_but_never_an_idle_kept_alive_connection) {
    constexpr int timeout_ms = 500;
    Running origin(small_site("none", 0, 2), header_timeout(timeout_ms));
    std::vector<std::unique_ptr<Client>> kept;
    for (int i = 0; i < 200; ++i) {
        kept.push_back(std::make_unique<Client>(origin.server.port()));
        ASSERT_EQ(kept.back()->get("/p/" + std::to_string(i % 50)).status, 200);
    }
    Client silent = origin.client();  // connected, never sends a byte
    Client trailing = origin.client();
    trailing.send(get_request("/p/4") + "\r\n");  // a stray CRLF after its request
    ASSERT_EQ(trailing.read_response().status, 200);

    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms * 5 / 2));
    // A request started after a long idle gets the whole timeout from its first byte, not
    // from the end of the connection's last response.
    Client& late = *kept.front();
    late.send("GET /p/1 HT");
    auto start = TestClock::now();
    EXPECT_TRUE(late.silent_for(std::chrono::milliseconds(timeout_ms / 2)));
    EXPECT_TRUE(late.closed_within(2000ms));
    EXPECT_GE(elapsed_ms(start), timeout_ms * 0.9);

    // The idle ones are all still there.
    EXPECT_EQ(origin.stats()["header_timeouts"], 1);
    for (std::size_t i = 1; i < kept.size(); ++i)
        ASSERT_EQ(kept[i]->get("/p/1").end, End::complete) << i;
    EXPECT_EQ(trailing.get("/p/5").status, 200);
    EXPECT_TRUE(silent.silent_for(10ms));  // still open: no EOF
    EXPECT_EQ(origin.stats()["header_timeouts"], 1);
}

TEST(Abuse, serves_a_slow_client_that_finishes_its_request_within_the_deadline) {
    Running origin(small_site(), header_timeout(1000));
    Client client = origin.client();
    const std::string request = get_request("/p/6");
    for (std::size_t at = 0; at < request.size(); at += 10) {
        client.send(request.substr(at, 10));
        std::this_thread::sleep_for(400ms / (request.size() / 10 + 1));
    }
    Response r = client.read_response();
    ASSERT_EQ(r.end, End::complete);
    EXPECT_EQ(r.body, origin.site.page_html(6));
    // The next request on the connection starts a deadline of its own, not the first one's.
    std::this_thread::sleep_for(700ms);
    client.send(request.substr(0, 10));
    std::this_thread::sleep_for(400ms);
    client.send(request.substr(10));
    EXPECT_EQ(client.read_response().status, 200);
    EXPECT_EQ(origin.stats()["header_timeouts"], 0);
}

TEST(Abuse, answers_garbage_and_overlong_request_lines_with_400_or_a_close_and_keeps_serving) {
    Running origin(small_site());
    std::mt19937 rng(13);
    std::string noise(4096, '\0');
    for (char& c : noise) c = static_cast<char>(rng() & 0xff);
    const std::vector<std::string> garbage = {
        noise,
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + noise.substr(0, 500),
        "GET /" + std::string(20'000, 'a'),                       // no line end at all
        "GET /" + std::string(9'000, 'a') + " HTTP/1.1\r\n\r\n",  // a whole but long line
        "GET /p/1 HTTP/1.1\r\n" +
            [] {
                std::string headers;
                for (int i = 0; i < 200; ++i) headers += "X-" + std::to_string(i) + ": " + "v\r\n";
                return headers + std::string(8'000, 'h');
            }(),
        std::string("GET /p/\0 HTTP/1.1\r\n\r\n", 21),
        "GET /p/1 HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
        "GET /p/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        std::string(1 << 20, 'x'),  // a megabyte in one write
    };
    int answered = 0;
    for (const std::string& bytes : garbage) {
        Client bad = origin.client();
        bad.try_send(bytes);  // the origin may close before taking all of it
        Response r = bad.read_response();
        const std::string what = bytes.substr(0, 24);
        if (r.end == End::complete) {
            EXPECT_EQ(r.status, 400) << what;
            EXPECT_EQ(r.connection, "close") << what;
            EXPECT_TRUE(bad.closed_within(1s)) << what;
            ++answered;
        } else {
            EXPECT_TRUE(r.end == End::eof || r.end == End::reset)
                << what << ": " << to_string(r.end);
        }
        EXPECT_EQ(origin.client().get("/p/1").status, 200) << "after " << what;
    }
    EXPECT_GE(answered, static_cast<int>(garbage.size()) - 1);  // the megabyte may only see RST
    nlohmann::json s = origin.stats();
    EXPECT_EQ(s["bad_requests"], garbage.size());
    EXPECT_EQ(s["requests"], garbage.size());  // the GETs between them only
}

TEST(Abuse, forgets_empty_lines_sent_between_requests_however_many) {
    Running origin(small_site(), header_timeout(300));
    Client client = origin.client();
    // A megabyte of CRLF: the parser skips empty lines before a request line, and they
    // neither accumulate nor start the header timeout.
    std::string lines;
    for (int i = 0; i < (1 << 19); ++i) lines += "\r\n";
    client.send(lines);
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(client.get("/p/1").status, 200);
    EXPECT_EQ(origin.stats()["header_timeouts"], 0);
}

TEST(Abuse, answers_a_half_closed_client_and_closes_after_a_partial_request) {
    for (int latency_ms : {0, 50}) {
        Running origin(small_site("none", latency_ms));
        Client whole = origin.client();
        whole.send(get_request("/p/1"));
        whole.shutdown_write();
        Response r = whole.read_response();
        ASSERT_EQ(r.end, End::complete) << latency_ms;
        EXPECT_EQ(r.body, origin.site.page_html(1));
        EXPECT_TRUE(whole.closed_within(1s)) << latency_ms;

        Client two = origin.client();
        two.send(get_request("/p/2") + get_request("/p/3"));
        two.shutdown_write();
        EXPECT_EQ(two.read_response().body, origin.site.page_html(2)) << latency_ms;
        EXPECT_EQ(two.read_response().body, origin.site.page_html(3)) << latency_ms;
        EXPECT_TRUE(two.closed_within(1s)) << latency_ms;

        for (std::string partial :
             {std::string("GET /p/1 HTTP/1.1\r\nHost: x\r\n"), std::string()}) {
            Client cut = origin.client();
            cut.send(partial);
            cut.shutdown_write();
            EXPECT_TRUE(cut.closed_within(1s)) << "after '" << partial << "', " << latency_ms;
        }
        nlohmann::json s = origin.stats_when([](const nlohmann::json& j) {
            return j["connections"] == 1;  // the probe
        });
        EXPECT_EQ(s["connections"], 1);
        EXPECT_EQ(s["requests"], 3);
    }
}

TEST(Abuse, answers_pipelined_requests_in_order_however_they_are_split) {
    for (int latency_ms : {0, 30}) {
        Running origin(small_site("none", latency_ms));
        Client client = origin.client();
        client.send(get_request("/p/3") + get_request("/p/4"));  // two in one write
        EXPECT_EQ(client.read_response().body, origin.site.page_html(3)) << latency_ms;
        EXPECT_EQ(client.read_response().body, origin.site.page_html(4)) << latency_ms;

        // A whole request and the start of the next, then the rest of it; a HEAD between.
        const std::string head = "HEAD /p/5 HTTP/1.1\r\nHost: x\r\n\r\n",
                          next = get_request("/p/6");
        client.send(get_request("/p/7") + head + next.substr(0, 7));
        std::this_thread::sleep_for(50ms);
        client.send(next.substr(7));
        EXPECT_EQ(client.read_response().body, origin.site.page_html(7)) << latency_ms;
        Response h = client.read_response(2000ms, true);
        EXPECT_EQ(h.status, 200);
        EXPECT_TRUE(h.body.empty());
        EXPECT_EQ(client.read_response().body, origin.site.page_html(6)) << latency_ms;

        // Nothing after a request that closes the connection is answered.
        client.send(get_request("/p/8", "Connection: close\r\n") + get_request("/p/9"));
        EXPECT_EQ(client.read_response().body, origin.site.page_html(8)) << latency_ms;
        EXPECT_TRUE(client.closed_within(1s)) << latency_ms;
        EXPECT_EQ(origin.stats()["paths"].count("/p/9"), 0u);
    }
}

TEST(Abuse, answers_head_post_and_http_1_0_as_an_http_1_1_server_should) {
    Running origin(small_site());
    Client client = origin.client();
    client.send("HEAD /p/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    Response head = client.read_response(2000ms, true);
    ASSERT_EQ(head.end, End::complete);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.content_length, 16384u);
    EXPECT_EQ(head.connection, "keep-alive");
    EXPECT_TRUE(head.body.empty());
    client.send("HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    Response missing = client.read_response(2000ms, true);
    EXPECT_EQ(missing.status, 404);
    EXPECT_TRUE(missing.body.empty());
    EXPECT_TRUE(client.silent_for(50ms)) << "a HEAD answer carried a body";
    EXPECT_EQ(client.get("/p/2").body, origin.site.page_html(2));

    for (std::string method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
        Client other = origin.client();
        other.send(method + " /p/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        Response r = other.read_response();
        ASSERT_EQ(r.end, End::complete) << method;
        EXPECT_EQ(r.status, 405) << method;
        EXPECT_EQ(r.allow, "GET, HEAD") << method;
        EXPECT_EQ(r.connection, "close") << method;
        EXPECT_TRUE(other.closed_within(1s)) << method;
    }

    Client old = origin.client();
    old.send(get_request("/p/3", "", "HTTP/1.0"));
    Response r = old.read_response();
    EXPECT_EQ(r.body, origin.site.page_html(3));
    EXPECT_EQ(r.connection, "close");
    EXPECT_TRUE(old.closed_within(1s));

    Client old_kept = origin.client();
    old_kept.send("HEAD /p/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(old_kept.read_response(2000ms, true).connection, "keep-alive");
    old_kept.send(get_request("/p/3", "", "HTTP/1.0"));
    EXPECT_EQ(old_kept.read_response().status, 200);
    EXPECT_TRUE(old_kept.closed_within(1s));
    // Requests of the site: five of pages, one of /nothing; a 405 is none.
    nlohmann::json s = origin.stats();
    EXPECT_EQ(s["requests"], 6);
    EXPECT_EQ(s["other_paths"], 1);
}

TEST(Abuse, keeps_its_stats_bounded_whatever_paths_clients_invent) {
    Running origin(small_site());
    Client client = origin.client();
    constexpr int batches = 10, per_batch = 500;
    for (int b = 0; b < batches; ++b) {
        std::string requests;
        for (int i = 0; i < per_batch; ++i)
            requests += get_request("/junk/" + std::to_string(b * per_batch + i));
        client.send(requests);
        for (int i = 0; i < per_batch; ++i) ASSERT_EQ(client.read_response().status, 404);
    }
    for (std::string path : {"/p/1", "/p/1", "/", "/p/50", "/p/01"}) client.get(path);
    Client probe = origin.client();
    Response r = probe.get("/__stats");
    ASSERT_EQ(r.end, End::complete);
    nlohmann::json s = nlohmann::json::parse(r.body);
    EXPECT_EQ(s["paths"], nlohmann::json({{"/p/1", 2}, {"/", 1}}));
    EXPECT_EQ(s["other_paths"], batches * per_batch + 2);
    EXPECT_EQ(s["requests"], batches * per_batch + 5);
    EXPECT_LT(r.body.size(), 1024u);
}

TEST(Abuse, gives_every_descriptor_back_once_its_clients_leave) {
    Running origin(small_site("stall=0.3", 0, 2), header_timeout(5000));
    // The probe's own connection is closed on both sides once stats() returns.
    auto settled = [] {
        int n = open_descriptors();
        for (auto deadline = TestClock::now() + 3s; TestClock::now() < deadline;) {
            std::this_thread::sleep_for(20ms);
            int now = open_descriptors();
            if (now == n) break;
            n = now;
        }
        return n;
    };
    const int baseline = settled();
    {
        std::vector<std::unique_ptr<Client>> clients;
        auto add = [&] {
            clients.push_back(std::make_unique<Client>(origin.server.port()));
            return clients.back().get();
        };
        for (int i = 0; i < 50; ++i) add()->send(get_request("/p/" + std::to_string(i)));
        for (int i = 0; i < 50; ++i) add()->send("GET /p/1 HTTP/1.1\r\nHo");  // mid-request
        for (int i = 0; i < 50; ++i) add();                                   // never sends
        for (int i = 0; i < 20; ++i) add()->send("\x01\x02 garbage\r\n\r\n");
        for (int i = 0; i < 20; ++i) {
            Client* c = add();
            c->send(get_request("/p/7"));
            c->shutdown_write();
        }
        nlohmann::json s = origin.stats_when(
            [](const nlohmann::json& j) { return j["connections_accepted"] >= 191; });
        EXPECT_GE(s["connections_accepted"], 191);
        EXPECT_GT(open_descriptors(), baseline + 190);
    }  // every client closes, some with unread responses (RST), some stalled
    int now = open_descriptors();
    for (auto deadline = TestClock::now() + 3s; now != baseline && TestClock::now() < deadline;) {
        std::this_thread::sleep_for(20ms);
        now = open_descriptors();
    }
    EXPECT_EQ(now, baseline);
    nlohmann::json s =
        origin.stats_when([](const nlohmann::json& j) { return j["connections"] == 1; });
    EXPECT_EQ(s["connections"], 1);  // the probe
    EXPECT_EQ(s["inflight"], 0);
}

}  // namespace
}  // namespace rosetta
