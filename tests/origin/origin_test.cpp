#include "bench/origin/origin.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "loopback_port.hpp"
#include "origin/client.hpp"
#include "origin/running.hpp"
#include "scenarios/checksum.hpp"
#include "scenarios/site.hpp"

namespace rosetta {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::End;
using test::Response;

using test::elapsed_ms;
using test::open_descriptors;
using test::Running;
using test::small_site;

TEST(Origin, serves_every_page_exactly_as_the_site_truth_says) {
    Running origin(small_site());
    Client client = origin.client();
    for (int id = -1; id < 50; ++id) {
        std::string path = id < 0 ? "/" : "/p/" + std::to_string(id);
        int page = id < 0 ? 0 : id;
        Response r = client.get(path);
        ASSERT_EQ(r.end, End::complete) << path;
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.content_type, "text/html");
        EXPECT_EQ(r.content_length, 16384u);
        EXPECT_EQ(r.body, origin.site.page_html(page)) << path;
        EXPECT_EQ(Checksum::of(r.body), origin.site.page_checksum(page));
    }
}

TEST(Origin, names_its_own_authority_in_absolute_links) {
    Running origin(small_site());
    EXPECT_EQ(origin.server.authority(), "127.0.0.1:" + std::to_string(origin.server.port()));
    std::string all;
    Client client = origin.client();
    for (int id = 0; id < 50; ++id) all += client.get("/p/" + std::to_string(id)).body;
    EXPECT_NE(all.find("href=\"http://" + origin.server.authority() + "/p/"), std::string::npos);
}

TEST(Origin, generates_pages_per_request_when_the_site_is_too_big_to_cache) {
    Spec spec = small_site();
    spec.pages = 300'000;  // 300 MB of pages: over the 256 MiB cache budget
    spec.page_bytes = 1024;
    spec.links = 0;
    Running origin(spec);
    Client client = origin.client();
    for (int id : {0, 123'456, 299'999}) {
        Response r = client.get("/p/" + std::to_string(id));
        ASSERT_EQ(r.end, End::complete);
        EXPECT_EQ(r.body, origin.site.page_html(id));
    }
}

TEST(Origin, keeps_a_connection_alive_across_requests) {
    Running origin(small_site());
    Client client = origin.client();
    for (int i = 0; i < 5; ++i) {
        Response r = client.get("/p/" + std::to_string(i));
        ASSERT_EQ(r.end, End::complete);
        EXPECT_EQ(r.connection, "keep-alive");
    }
    nlohmann::json s = origin.stats();
    EXPECT_EQ(s["requests"], 5);
    EXPECT_EQ(s["peak_connections"], 2);  // this client and the stats probe
}

TEST(Origin, closes_after_a_response_to_connection_close) {
    Running origin(small_site());
    Client client = origin.client();
    client.send(test::get_request("/p/1", "Connection: close\r\n"));
    Response r = client.read_response();
    ASSERT_EQ(r.end, End::complete);
    EXPECT_EQ(r.connection, "close");
    EXPECT_EQ(r.body, origin.site.page_html(1));
    EXPECT_TRUE(client.closed_within(1s));
}

TEST(Origin, closes_after_an_http_1_0_response_unless_asked_to_keep_alive) {
    Running origin(small_site());
    Client once = origin.client();
    once.send(test::get_request("/p/2", "", "HTTP/1.0"));
    ASSERT_EQ(once.read_response().status, 200);
    EXPECT_TRUE(once.closed_within(1s));

    Client kept = origin.client();
    for (int i = 0; i < 2; ++i) {
        kept.send(test::get_request("/p/2", "Connection: keep-alive\r\n", "HTTP/1.0"));
        Response r = kept.read_response();
        ASSERT_EQ(r.end, End::complete);
        EXPECT_EQ(r.connection, "keep-alive");
    }
}

TEST(Origin, answers_pipelined_requests_in_order) {
    Running origin(small_site());
    Client client = origin.client();
    client.send(test::get_request("/p/7") + test::get_request("/nothing") +
                test::get_request("/p/8"));
    Response a = client.read_response(), b = client.read_response(), c = client.read_response();
    EXPECT_EQ(a.body, origin.site.page_html(7));
    EXPECT_EQ(b.status, 404);
    EXPECT_EQ(c.body, origin.site.page_html(8));
}

TEST(Origin, answers_paths_that_are_not_pages_with_404) {
    Running origin(small_site());
    Client client = origin.client();
    for (std::string_view path : {"/p/50", "/p/01", "/nothing", "/p/1?x=1"}) {
        Response r = client.get(path);
        ASSERT_EQ(r.end, End::complete) << path;
        EXPECT_EQ(r.status, 404) << path;
    }
}

TEST(Origin, answers_head_without_a_body_and_other_methods_with_405) {
    Running origin(small_site());
    Client client = origin.client();
    client.send("HEAD /p/1 HTTP/1.1\r\nHost: x\r\n\r\n" + test::get_request("/p/2"));
    Response head = client.read_response(2000ms, true);
    ASSERT_EQ(head.end, End::complete);
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.content_length, 16384u);
    EXPECT_TRUE(head.body.empty());
    EXPECT_EQ(client.read_response().body, origin.site.page_html(2));

    Client post = origin.client();
    post.send("POST /p/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    Response r = post.read_response();
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.allow, "GET, HEAD");
    EXPECT_TRUE(post.closed_within(1s));
}

TEST(Origin, delays_every_response_by_the_latency) {
    Running origin(small_site("none", 50));
    Client client = origin.client();
    for (std::string_view path : {"/p/1", "/nothing"}) {
        auto start = test::TestClock::now();
        Response r = client.get(path);
        double ms = elapsed_ms(start);
        ASSERT_EQ(r.end, End::complete);
        EXPECT_GE(ms, 45) << path;
        EXPECT_LE(ms, 150) << path;
    }
}

TEST(Origin, runs_the_latency_of_concurrent_requests_at_the_same_time) {
    Running origin(small_site("none", 100));
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(std::make_unique<Client>(origin.server.port()));
    auto start = test::TestClock::now();
    for (auto& c : clients) c->send(test::get_request("/p/3"));
    for (auto& c : clients) EXPECT_EQ(c->read_response().status, 200);
    double ms = elapsed_ms(start);
    EXPECT_GE(ms, 95);
    EXPECT_LE(ms, 250);  // twenty requests, one think time
}

TEST(Origin, resets_mid_body_on_a_reset_fault) {
    Running origin(small_site("reset=1"));
    Client client = origin.client();
    Response r = client.get("/p/1");
    EXPECT_EQ(r.end, End::reset) << to_string(r.end) << " after " << r.raw.size() << " bytes";
}

TEST(Origin, never_answers_a_stalled_request) {
    Running origin(small_site("stall=1"));
    Client client = origin.client();
    client.send(test::get_request("/p/1"));
    EXPECT_TRUE(client.silent_for(300ms));
}

TEST(Origin, answers_503_on_a_status_fault_and_keeps_the_connection) {
    Running origin(small_site("status=1"));
    Client client = origin.client();
    for (int i = 0; i < 3; ++i) {
        Response r = client.get("/p/1");
        ASSERT_EQ(r.end, End::complete);
        EXPECT_EQ(r.status, 503);
    }
}

TEST(Origin, answers_404_on_a_notfound_fault) {
    Running origin(small_site("notfound=1"));
    Client client = origin.client();
    Response r = client.get("/p/1");
    ASSERT_EQ(r.end, End::complete);
    EXPECT_EQ(r.status, 404);
}

TEST(Origin, closes_short_of_the_content_length_on_a_truncate_fault) {
    Running origin(small_site("truncate=1"));
    for (std::string_view path : {"/p/1", "/nothing"}) {
        Client client = origin.client();
        Response r = client.get(path);
        EXPECT_EQ(r.end, End::eof) << path << ": " << to_string(r.end);
        EXPECT_GT(r.body.size(), 0u);
        EXPECT_LT(r.body.size(), r.content_length);
        EXPECT_EQ(r.status, path == "/p/1" ? 200 : 404);
    }
}

TEST(Origin, sends_a_garbage_status_line_on_a_malformed_fault) {
    Running origin(small_site("malformed=1"));
    Client client = origin.client();
    Response r = client.get("/p/1");
    EXPECT_EQ(r.end, End::malformed);
    EXPECT_TRUE(r.raw.starts_with("HTTX/1.1 2x0")) << r.raw;
    EXPECT_TRUE(client.closed_within(1s));
}

TEST(Origin, drips_a_complete_body_on_a_slow_fault) {
    Running origin(small_site("slow=1"));
    Client client = origin.client();
    auto start = test::TestClock::now();
    Response r = client.get("/p/4");
    double ms = elapsed_ms(start);
    ASSERT_EQ(r.end, End::complete);
    EXPECT_EQ(r.body, origin.site.page_html(4));
    EXPECT_GE(ms, 60);
    EXPECT_LE(ms, 190);
}

TEST(Origin, draws_each_attempt_from_a_counter_shared_by_all_loops) {
    Running origin(small_site("status=0.5", 0, 2));
    // Fresh connections spread over both loops; the statuses must follow the attempt numbers.
    for (std::string path : {"/p/1", "/p/2", "/nothing"}) {
        for (int attempt = 1; attempt <= 8; ++attempt) {
            Client client = origin.client();
            Response r = client.get(path);
            Fault expected = origin.site.fault(path, attempt);
            int status = expected == Fault::status ? 503 : path == "/nothing" ? 404 : 200;
            EXPECT_EQ(r.status, status) << path << " attempt " << attempt;
        }
    }
}

TEST(Origin, counts_requests_per_path_but_not_its_stats_probe) {
    Running origin(small_site());
    Client client = origin.client();
    for (std::string_view path : {"/p/1", "/p/1", "/p/2", "/", "/zzz", "/p/50"}) client.get(path);
    origin.stats();
    nlohmann::json s = origin.stats();
    EXPECT_EQ(s["requests"], 6);
    EXPECT_EQ(s["paths"], nlohmann::json({{"/p/1", 2}, {"/p/2", 1}, {"/", 1}}));
    EXPECT_EQ(s["other_paths"], 2);
    EXPECT_EQ(s["threads"], 1);
    EXPECT_EQ(origin.server.stats()["paths"], s["paths"]);
}

TEST(Origin, counts_each_accepted_connection_once_however_many_requests_it_carries) {
    Running origin(small_site("none", 0, 2));
    std::uint64_t before = origin.stats()["connections_accepted"];
    constexpr int connections = 7;
    std::vector<std::unique_ptr<Client>> clients;
    clients.reserve(connections);
    for (int i = 0; i < connections; ++i)
        clients.push_back(std::make_unique<Client>(origin.server.port()));
    for (int request = 0; request < 3; ++request)
        for (auto& client : clients) ASSERT_EQ(client->get("/p/1").status, 200);
    std::uint64_t after = origin.stats()["connections_accepted"];
    // Connections on either loop, each counted once for its three requests, and the second
    // probe's own connection (the first one's is in before).
    EXPECT_EQ(after - before, connections + 1u);
}

TEST(Origin, counts_stalled_requests_in_flight_until_their_clients_leave) {
    Running origin(small_site("stall=1"));
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(std::make_unique<Client>(origin.server.port()));
        clients.back()->send(test::get_request("/p/" + std::to_string(i)));
    }
    nlohmann::json s =
        origin.stats_when([](const nlohmann::json& j) { return j["inflight"] == 5; });
    EXPECT_EQ(s["inflight"], 5);
    EXPECT_EQ(s["peak_inflight"], 5);
    clients.clear();
    s = origin.stats_when([](const nlohmann::json& j) { return j["inflight"] == 0; });
    EXPECT_EQ(s["inflight"], 0);
    EXPECT_EQ(s["peak_inflight"], 5);
    EXPECT_EQ(s["connections"], 1);  // the probe itself
}

TEST(Origin, answers_garbage_with_400_and_closes_but_serves_others) {
    Running origin(small_site());
    for (std::string garbage :
         {std::string("BLAH\r\n\r\n"), std::string("GET /p/1 HTTP/9.9\r\n\r\n"),
          std::string("GET /p/1 HTTP/1.1\r\nNo colon\r\n\r\n"),
          "GET /p/1 HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n"}) {
        Client bad = origin.client();
        bad.send(garbage);
        Response r = bad.read_response();
        EXPECT_EQ(r.status, 400) << garbage.substr(0, 40);
        EXPECT_TRUE(bad.closed_within(1s));
    }
    Client good = origin.client();
    EXPECT_EQ(good.get("/p/1").status, 200);
    EXPECT_EQ(origin.stats()["bad_requests"], 4);
}

TEST(Origin, is_not_held_up_by_a_client_that_goes_silent_mid_request) {
    Running origin(small_site());
    Client silent = origin.client();
    silent.send("GET /p/1 HTTP/1.1\r\nHo");
    Client idle = origin.client();  // connected, sends nothing at all
    Client other = origin.client();
    auto start = test::TestClock::now();
    EXPECT_EQ(other.get("/p/2").status, 200);
    EXPECT_LT(elapsed_ms(start), 100);
    EXPECT_TRUE(silent.silent_for(100ms));
}

TEST(Origin, holds_two_thousand_connections_at_once) {
    Running origin(small_site("none", 300, 2));
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 2000; ++i) {
        clients.push_back(std::make_unique<Client>(origin.server.port()));
        clients.back()->send(test::get_request("/p/" + std::to_string(i % 50)));
    }
    for (auto& c : clients) ASSERT_EQ(c->read_response(5s).status, 200);
    nlohmann::json s = origin.stats();
    EXPECT_GE(s["peak_connections"], 2000);
    EXPECT_GE(s["peak_inflight"], 1000);
    EXPECT_EQ(s["requests"], 2000);
}

TEST(Origin, closes_every_connection_and_descriptor_when_stopped) {
    int before = open_descriptors();
    {
        auto server = std::make_unique<OriginServer>(small_site("stall=0.5", 20, 2));
        server->start();
        Client busy(server->port()), stalled(server->port()), idle(server->port());
        busy.send(test::get_request("/p/1"));
        for (int i = 0; i < 20; ++i) stalled.send(test::get_request("/p/" + std::to_string(i)));
        std::this_thread::sleep_for(50ms);
        server->stop();
        EXPECT_TRUE(idle.closed_within(1s));
        server->stop();  // idempotent
        server.reset();
    }
    EXPECT_EQ(open_descriptors(), before);
}

TEST(Origin, refuses_a_port_in_use_with_a_clear_error) {
    test::LoopbackPort taken(test::LoopbackPort::Mode::listening);
    Spec spec = small_site();
    spec.port = taken.port();
    try {
        OriginServer server(spec);
        ADD_FAILURE() << "bound a port already in use";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
        EXPECT_NE(std::string(e.what()).find("bind 127.0.0.1:" + std::to_string(spec.port)),
                  std::string::npos)
            << e.what();
    }
}

TEST(Origin, refuses_a_port_another_origin_already_serves) {
    Running first(small_site("none", 0, 2));
    Spec spec = small_site();
    spec.port = first.server.port();
    try {
        OriginServer second(spec);
        ADD_FAILURE() << "a second origin joined port " << spec.port;
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use) << e.what();
    }
    EXPECT_EQ(first.client().get("/p/1").status, 200);
}

TEST(Origin, serves_again_on_a_port_its_last_connections_left_in_time_wait) {
    Spec spec = small_site();
    {
        Running first(spec);
        spec.port = first.server.port();
        Client client = first.client();
        client.send(test::get_request("/p/1", "Connection: close\r\n"));
        EXPECT_EQ(client.read_response().status, 200);
        // The origin closed first: its side of the connection now waits in TIME_WAIT.
        EXPECT_TRUE(client.closed_within(1s));
    }
    Running again(spec);
    EXPECT_EQ(again.client().get("/p/1").status, 200);
}

}  // namespace
}  // namespace rosetta
