// `rosetta origin` as the harness runs it, but without exec: a forked child calls
// run_origin_command, the parent reads its first line, loads it, and stops it with SIGTERM.
// The child is a process of its own so each side has the whole descriptor budget: 19,000
// connections need 19,000 descriptors on each end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/origin/origin.hpp"
#include "loopback_port.hpp"
#include "origin/client.hpp"

namespace rosetta {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::End;

// A close-on-exec pipe: the child writes into one end, the test reads the other.
struct Pipe {
    Fd read_end, write_end;
};

Pipe open_pipe() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    return {Fd(ends[0]), Fd(ends[1])};
}

// A forked `rosetta origin`; killed with SIGKILL if a test leaves it running.
class OriginProcess {
public:
    // descriptor_limit: when set, the child's hard and soft RLIMIT_NOFILE.
    explicit OriginProcess(const Spec& spec, rlim_t descriptor_limit = 0,
                           const OriginOptions& options = {}) {
        Pipe out = open_pipe(), err = open_pipe();
        std::fflush(nullptr);  // or the child would inherit, and print, our buffered output
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            ::dup2(out.write_end.get(), STDOUT_FILENO);
            ::dup2(err.write_end.get(), STDERR_FILENO);
            if (descriptor_limit) {
                rlimit limit{descriptor_limit, descriptor_limit};
                ::setrlimit(RLIMIT_NOFILE, &limit);
            }
            ::_exit(run_origin_command(spec, options));
        }
        // Our write ends close as out and err go: with only the child's left, a read sees EOF
        // once the child exits.
        out_ = std::move(out.read_end);
        err_ = std::move(err.read_end);
    }
    ~OriginProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    // The first line of stdout, or "" if none came within the timeout.
    std::string first_line(std::chrono::milliseconds timeout = 5000ms) {
        return line_of(out_.get(), timeout);
    }
    std::string first_error_line(std::chrono::milliseconds timeout = 5000ms) {
        return line_of(err_.get(), timeout);
    }

    // Everything the child writes on stderr until it closes it (by exiting), at most timeout.
    std::string error_output(std::chrono::milliseconds timeout = 5000ms) {
        std::string output;
        auto deadline = test::TestClock::now() + timeout;
        while (test::TestClock::now() < deadline) {
            pollfd p{err_.get(), POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char chunk[256];
            ssize_t n = ::read(err_.get(), chunk, sizeof chunk);
            if (n <= 0) break;
            output.append(chunk, static_cast<std::size_t>(n));
        }
        return output;
    }

    // Sends signal and waits for the exit, at most timeout. The exit status, or -1.
    int stop(int signal, std::chrono::milliseconds timeout = 10000ms) {
        if (signal) ::kill(pid_, signal);
        return wait(timeout);
    }
    int wait(std::chrono::milliseconds timeout) {
        auto deadline = test::TestClock::now() + timeout;
        while (test::TestClock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(10ms);
        }
        return -1;
    }

private:
    static std::string line_of(int fd, std::chrono::milliseconds timeout) {
        std::string line;
        auto deadline = test::TestClock::now() + timeout;
        while (test::TestClock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char c;
            if (::read(fd, &c, 1) != 1) break;
            if (c == '\n') return line;
            line += c;
        }
        return line;
    }

public:
    // User + system CPU time of the child so far, in clock ticks.
    long cpu_ticks() const {
        std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string field;
        long utime = 0, stime = 0;
        for (int i = 3; fields >> field; ++i) {
            if (i == 14) utime = std::stol(field);
            if (i == 15) {
                stime = std::stol(field);
                break;
            }
        }
        return utime + stime;
    }

private:
    pid_t pid_ = -1;
    Fd out_, err_;
};

std::uint16_t port_of(const std::string& line) {
    const std::string prefix = "listening on 127.0.0.1:";
    EXPECT_TRUE(line.starts_with(prefix)) << line;
    return line.starts_with(prefix)
               ? static_cast<std::uint16_t>(std::stoi(line.substr(prefix.size())))
               : 0;
}

void raise_descriptor_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

TEST(OriginCommand, holds_19000_connections_times_out_only_started_requests_and_stops_on_sigterm) {
    raise_descriptor_limit();
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < 19'100) GTEST_SKIP() << "RLIMIT_NOFILE is " << limit.rlim_cur;

    Spec spec;
    spec.pages = 50;
    spec.threads = 2;
    spec.latency_ms = 1;
    OriginOptions options;
    options.header_timeout_ms = 1000;
    OriginProcess origin(spec, 0, options);
    std::uint16_t port = port_of(origin.first_line());
    ASSERT_NE(port, 0);

    std::vector<std::unique_ptr<Client>> clients;
    clients.reserve(19'000);
    for (int i = 0; i < 19'000; ++i) clients.push_back(std::make_unique<Client>(port));
    // Every hundredth asks for a page while all are open: the loops still serve under the load.
    for (std::size_t i = 0; i < clients.size(); i += 100)
        clients[i]->send(test::get_request("/p/1"));
    for (std::size_t i = 0; i < clients.size(); i += 100)
        ASSERT_EQ(clients[i]->read_response(5s).status, 200);

    auto deadline = test::TestClock::now() + 10s;
    nlohmann::json stats;
    do {
        test::Response r = clients.back()->get("/__stats");
        ASSERT_EQ(r.end, End::complete);
        stats = nlohmann::json::parse(r.body);
    } while (stats["connections"] < 19'000 && test::TestClock::now() < deadline);
    EXPECT_GE(stats["peak_connections"], 19'000);
    EXPECT_EQ(stats["requests"], 190);
    EXPECT_EQ(stats["threads"], 2);

    // Among 19,000 connections, mostly idle for longer than the header timeout, the 190 that
    // start a request and never finish it are the ones cut, on time.
    for (std::size_t i = 50; i < clients.size(); i += 100) clients[i]->send("GET /p/1 HT");
    auto sent = test::TestClock::now();
    deadline = sent + 5s;
    do {
        std::this_thread::sleep_for(100ms);
        test::Response r = clients.back()->get("/__stats");
        ASSERT_EQ(r.end, End::complete);
        stats = nlohmann::json::parse(r.body);
    } while (stats["header_timeouts"] < 190 && test::TestClock::now() < deadline);
    EXPECT_EQ(stats["header_timeouts"], 190);
    EXPECT_GE(test::TestClock::now() - sent, 900ms);
    EXPECT_EQ(stats["connections"], 19'000 - 190);
    EXPECT_TRUE(clients[50]->closed_within(1s));
    EXPECT_EQ(clients[0]->get("/p/2").status, 200);

    EXPECT_EQ(origin.stop(SIGTERM), 0);
    for (std::size_t i = 0; i < clients.size(); i += 1000)
        EXPECT_TRUE(clients[i]->closed_within(1s));
}

TEST(OriginCommand, waits_without_spinning_when_out_of_descriptors) {
    Spec spec;
    spec.pages = 10;
    OriginProcess origin(spec, 64);
    std::uint16_t port = port_of(origin.first_line());
    ASSERT_NE(port, 0);
    // More clients than the origin has descriptors: the rest wait in the listen backlog.
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < 100; ++i) {
        clients.push_back(std::make_unique<Client>(port));
        clients.back()->send(test::get_request("/p/1"));
    }
    std::size_t served = 0;
    while (served < clients.size() && clients[served]->read_response(300ms).status == 200) ++served;
    EXPECT_GT(served, 30u);
    EXPECT_LT(served, 64u);
    long before = origin.cpu_ticks();
    std::this_thread::sleep_for(500ms);
    EXPECT_LT(origin.cpu_ticks() - before, 10) << "ticks of CPU in 500 ms while out of descriptors";
    // Once connections close, the waiting clients are accepted and served.
    for (std::size_t i = 0; i < served; ++i) clients[i]->close();
    for (std::size_t i = served; i < clients.size(); ++i)
        EXPECT_EQ(clients[i]->read_response(3s).status, 200) << i;
    EXPECT_EQ(origin.stop(SIGTERM), 0);
}

TEST(OriginCommand, stops_cleanly_on_sigint) {
    Spec spec;
    spec.pages = 10;
    OriginProcess origin(spec);
    std::uint16_t port = port_of(origin.first_line());
    ASSERT_NE(port, 0);
    Client client(port);
    EXPECT_EQ(client.get("/p/3").status, 200);
    EXPECT_EQ(origin.stop(SIGINT), 0);
    EXPECT_TRUE(client.closed_within(1s));
}

TEST(OriginCommand, exits_1_with_a_one_line_reason_when_the_port_is_taken) {
    test::LoopbackPort taken(test::LoopbackPort::Mode::listening);
    Spec spec;
    spec.pages = 10;
    spec.port = taken.port();
    OriginProcess origin(spec);
    EXPECT_EQ(origin.wait(5000ms), 1);
    EXPECT_EQ(
        origin.first_error_line(),
        "rosetta origin: bind 127.0.0.1:" + std::to_string(spec.port) + ": Address already in use");
    EXPECT_EQ(origin.first_line(100ms), "");
}

TEST(OriginCommand, exits_1_with_a_one_line_reason_when_another_origin_serves_the_port) {
    Spec spec;
    spec.pages = 10;
    spec.threads = 2;
    OriginProcess first(spec);
    std::uint16_t port = port_of(first.first_line());
    ASSERT_NE(port, 0);

    // Both would set SO_REUSEPORT: the kernel would let the second in and split the clients
    // between two sites.
    spec.port = port;
    OriginProcess second(spec);
    EXPECT_EQ(second.wait(2000ms), 1);
    EXPECT_EQ(second.error_output(500ms), "rosetta origin: bind 127.0.0.1:" + std::to_string(port) +
                                              ": Address already in use\n");
    EXPECT_EQ(second.first_line(100ms), "");

    Client client(port);
    EXPECT_EQ(client.get("/p/3").status, 200);
    EXPECT_EQ(first.stop(SIGTERM), 0);
}

}  // namespace
}  // namespace rosetta
