// Faults beyond the origin's seven classes, one shared test each for every model: the origin
// killed in the middle of a run, a server that accepts and never reads, a body that never
// ends, and a body larger than a page could ever be. Whatever the server does, the model ends
// (no hang), every URL has exactly one final outcome, attempts are numbered without a gap, and
// nothing is left behind (the harness fails a run whose process group outlives it).
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <thread>

#include "bench/origin/origin.hpp"
#include "support.hpp"

using namespace rosetta;

namespace {

// A server that answers badly, on 127.0.0.1, from a thread of its own (joined by the
// destructor). Each connection is held until its client leaves or the server stops.
class HostileServer {
public:
    enum class Mode {
        deaf,      // accepts and never reads a byte nor sends one
        endless,   // a 200 with a chunked body that never ends: a byte every 10 ms
        oversize,  // a 200 announcing a terabyte, then bytes as fast as the client takes them
    };

    explicit HostileServer(Mode mode)
        : mode_(mode), listener_(test::LoopbackPort::Mode::listening, 128) {
        ::fcntl(listener_.fd(), F_SETFL, O_NONBLOCK);  // accepted until EAGAIN
        thread_ = std::thread([this] { serve(); });
    }
    ~HostileServer() {
        stop_ = true;
        thread_.join();
    }
    HostileServer(const HostileServer&) = delete;
    HostileServer& operator=(const HostileServer&) = delete;

    std::string authority() const { return fmt::format("127.0.0.1:{}", listener_.port()); }
    int accepted() const { return accepted_; }

private:
    struct Connection {
        Fd fd;
        std::string head;        // what came of the request, until its blank line
        bool answering = false;  // the response's head is sent; the body follows
    };

    void serve() {
        std::vector<Connection> connections;
        const std::string zeros(64 * 1024, '0');
        while (!stop_) {
            std::vector<pollfd> polled{{listener_.fd(), POLLIN, 0}};
            for (const Connection& c : connections) {
                short events = mode_ == Mode::deaf ? 0 : POLLIN;
                if (c.answering && mode_ == Mode::oversize) events |= POLLOUT;
                polled.push_back({c.fd.get(), events, 0});
            }
            ::poll(polled.data(), polled.size(), 10);
            if (polled[0].revents & POLLIN) {
                for (Fd fd; (fd = Fd(::accept4(listener_.fd(), nullptr, nullptr,
                                               SOCK_NONBLOCK | SOCK_CLOEXEC)));) {
                    connections.push_back({std::move(fd), {}, false});
                    ++accepted_;
                }
            }
            std::vector<bool> gone(connections.size());
            for (std::size_t i = 0; i < connections.size(); ++i) {
                Connection& c = connections[i];
                const short revents = i + 1 < polled.size() ? polled[i + 1].revents : 0;
                if (revents & (POLLHUP | POLLERR)) {  // the client left: let it go
                    gone[i] = true;
                    continue;
                }
                if (revents & POLLIN) {
                    char buffer[4096];
                    const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
                    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                        gone[i] = true;
                        continue;
                    }
                    if (n > 0 && !c.answering) {
                        c.head.append(buffer, static_cast<std::size_t>(n));
                        if (c.head.find("\r\n\r\n") != std::string::npos) {
                            c.answering = true;
                            const char* head =
                                mode_ == Mode::endless
                                    ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    : "HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n";
                            (void)::send(c.fd.get(), head, std::strlen(head), MSG_NOSIGNAL);
                        }
                    }
                }
                if (c.answering && mode_ == Mode::endless)
                    (void)::send(c.fd.get(), "1\r\nx\r\n", 6, MSG_NOSIGNAL);
                if (c.answering && mode_ == Mode::oversize && (revents & POLLOUT))
                    (void)::send(c.fd.get(), zeros.data(), zeros.size(), MSG_NOSIGNAL);
            }
            std::erase_if(connections, [&gone, first = connections.data()](const Connection& c) {
                return gone[static_cast<std::size_t>(&c - first)];
            });
        }
    }

    const Mode mode_;
    test::LoopbackPort listener_;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

class EveryModel : public ::testing::TestWithParam<std::string> {
public:
    // `rosetta run` of this model against `authority`, with its records read back.
    nlohmann::json run_against(const std::string& authority, std::vector<std::string> args,
                               std::vector<Record>& records, int deadline_s = 60) {
        test::ScratchDir dir("hostile-test");
        const std::string path = dir / "records.jsonl";
        std::vector<std::string> full = {"run",      "--model", GetParam(),  "--json",
                                         "--origin", authority, "--records", path};
        full.insert(full.end(), args.begin(), args.end());
        test::Ran ran = test::run_binary("rosetta", full, deadline_s);
        records = read_records(path);
        return ran.json();
    }

    // Every URL once (`urls` of them, when known), with attempts 1..k and nothing after its
    // final one; returns each URL's final outcome.
    static std::map<std::string, Outcome> check_accounted(const std::vector<Record>& records,
                                                          std::optional<int> urls, int retries) {
        std::map<std::string, int> attempts;
        std::map<std::string, Outcome> last;
        for (const Record& r : records) {
            EXPECT_EQ(r.attempt, ++attempts[r.url]) << r.url << ": attempts out of order";
            last[r.url] = r.outcome;
        }
        if (urls) {
            EXPECT_EQ(static_cast<int>(last.size()), *urls) << "every URL, once";
        }
        for (const auto& [url, n] : attempts) EXPECT_LE(n, retries + 1) << url;
        return last;
    }
};

// The server misbehaves in three ways; each attempt ends at its deadline (or, for a body over
// the limit, at once), is retried once, and the run ends, every URL with that outcome: the
// download's eight, or the crawl's one (its start page, which never came).
void expect_every_url_ends_as(EveryModel& test, HostileServer::Mode mode, Outcome outcome,
                              const char* timeout_ms) {
    for (const std::string scenario : {"download", "crawl"}) {
        SCOPED_TRACE(scenario);
        HostileServer server(mode);
        std::vector<Record> records;
        nlohmann::json r =
            test.run_against(server.authority(),
                             {"--scenario", scenario, "--pages", "8", "--concurrency", "4",
                              "--timeout-ms", timeout_ms, "--retries", "1"},
                             records);
        const int urls = scenario == "download" ? 8 : 1;
        EXPECT_EQ(r["failure"], nullptr) << r.dump(2);
        EXPECT_EQ(r["requests"], 2 * urls) << r.dump(2);
        for (const auto& [url, last] : EveryModel::check_accounted(records, urls, 1))
            EXPECT_EQ(last, outcome) << url;
        if (mode == HostileServer::Mode::endless) {
            for (const Record& record : records) EXPECT_GT(record.bytes, 0) << "bytes kept coming";
        }
        if (mode == HostileServer::Mode::oversize) {
            EXPECT_LT(r["wall_s"].get<double>(), 15) << "refused at its header, not read";
            EXPECT_LT(r["peak_rss_kib"].get<int>(), 512 * 1024) << r.dump(2);
        }
    }
}

TEST_P(EveryModel, ends_every_attempt_on_a_server_that_accepts_and_never_reads) {
    expect_every_url_ends_as(*this, HostileServer::Mode::deaf, Outcome::timeout, "200");
}

TEST_P(EveryModel, ends_a_body_that_never_ends_at_the_attempts_deadline) {
    expect_every_url_ends_as(*this, HostileServer::Mode::endless, Outcome::timeout, "200");
}

// A terabyte announced: refused as malformed from its header, never read (the deadline of 30 s
// is never needed), so memory stays that of a few pages.
TEST_P(EveryModel, refuses_a_body_larger_than_any_page_at_once_in_bounded_memory) {
    expect_every_url_ends_as(*this, HostileServer::Mode::oversize, Outcome::malformed, "30000");
}

// The origin stops 300 ms into a run of 2 s: what was in flight ends as a reset or truncated
// (or a timeout), what comes after as a connect error, retried within its budget; the run
// ends at once, and every URL has one final outcome (the crawl's: every URL it found).
TEST_P(EveryModel, accounts_for_every_url_when_the_origin_is_killed_mid_run) {
    for (const std::string scenario : {"download", "crawl"}) {
        SCOPED_TRACE(scenario);
        Spec spec;
        spec.pages = 80;
        spec.latency_ms = 100;
        auto origin = std::make_unique<OriginServer>(spec);
        origin->start();
        const std::string authority = origin->authority();
        std::thread killer([&origin] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            origin->stop();
        });
        std::vector<Record> records;
        const auto t0 = std::chrono::steady_clock::now();
        nlohmann::json r = run_against(authority,
                                       {"--scenario", scenario, "--pages", "80", "--concurrency",
                                        "4", "--timeout-ms", "1000", "--retries", "2"},
                                       records);
        killer.join();
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        EXPECT_EQ(r["failure"], nullptr) << r.dump(2);
        EXPECT_LT(seconds, 20) << "no hang once the origin is gone";
        std::map<Outcome, int> finals;
        const auto urls = scenario == "download" ? std::optional<int>(80) : std::nullopt;
        const std::map<std::string, Outcome> final_of = check_accounted(records, urls, 2);
        for (const auto& [url, last] : final_of) ++finals[last];
        EXPECT_EQ(r["urls"].get<std::size_t>(), final_of.size())
            << "the result counts each URL once";
        EXPECT_GT(finals[Outcome::ok], 0) << "some pages came before the origin went";
        EXPECT_GT(finals[Outcome::connect_error], 0) << "the rest could not connect";
        for (const auto& [outcome, n] : finals)
            EXPECT_TRUE(outcome == Outcome::ok || outcome == Outcome::connect_error ||
                        outcome == Outcome::reset || outcome == Outcome::truncated ||
                        outcome == Outcome::timeout)
                << to_string(outcome) << " x" << n;
    }
}

INSTANTIATE_TEST_SUITE_P(Models, EveryModel, ::testing::ValuesIn(test::models_under_test),
                         test::test_name_of);

}  // namespace
