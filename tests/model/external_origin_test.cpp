// --origin against a real HTTP/1.1 server: nginx serving tests/fixtures/handwritten-site, whose
// EXPECTED file lists what a careful reading of the HTML says a crawl must fetch. verified is
// null there (no site truth), so the records are checked against that list instead.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "scenarios/records.hpp"
#include "support.hpp"

using namespace rosetta;
namespace fs = std::filesystem;

namespace {

const fs::path site_dir = fs::path(ROSETTA_FIXTURES_DIR) / "handwritten-site";
const char* const nginx_binary = "/usr/sbin/nginx";

// nginx in the foreground on a free 127.0.0.1 port, all its files in a temporary folder.
class Nginx {
public:
    Nginx() : dir_(fs::temp_directory_path() / fmt::format("nginx-test-{}", ::getpid())) {
        fs::create_directories(dir_);
        port_ = test::closed_port();
        std::ofstream(dir_ / "nginx.conf") << fmt::format(R"(
daemon off;
master_process off;
worker_processes 1;
pid {0}/nginx.pid;
error_log {0}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {0}/access.log;
    default_type text/html;
    client_body_temp_path {0}; proxy_temp_path {0}; fastcgi_temp_path {0};
    uwsgi_temp_path {0}; scgi_temp_path {0};
    server {{
        listen 127.0.0.1:{1};
        root {2};
        index index.html;
    }}
}}
)",
                                                          dir_.string(), port_, site_dir.string());
        child_ = std::make_unique<Child>(
            nginx_binary,
            std::vector<std::string>{"-c", (dir_ / "nginx.conf").string(), "-p", dir_.string(),
                                     "-e", (dir_ / "error.log").string()},
            true);
        // Ready when it accepts a connection (at most 5 s).
        for (int i = 0; i < 100 && !accepting(); ++i) ::usleep(50'000);
    }
    ~Nginx() {
        child_.reset();  // SIGTERM, then SIGKILL after a grace period; reaped
        fs::remove_all(dir_);
    }
    std::string authority() const { return fmt::format("127.0.0.1:{}", port_); }
    bool accepting() const {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    }
    int access_log_lines() const {
        std::ifstream in(dir_ / "access.log");
        std::string line;
        int n = 0;
        while (std::getline(in, line)) ++n;
        return n;
    }
    const fs::path& dir() const { return dir_; }

private:
    fs::path dir_;
    int port_ = 0;
    std::unique_ptr<Child> child_;
};

class EveryModelOnNginx : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryModelOnNginx, crawls_exactly_the_pages_a_careful_reading_of_the_html_finds) {
    if (!fs::exists(nginx_binary))
        GTEST_SKIP() << "nginx is not installed (scripts/bootstrap installs nginx-light)";
    std::map<std::string, std::string> expected;  // path -> final outcome
    std::ifstream list(site_dir / "EXPECTED");
    for (std::string path, outcome; list >> path;) {
        if (path.front() == '#') {
            std::getline(list, path);
            continue;
        }
        list >> outcome;
        expected[path] = outcome;
    }
    ASSERT_EQ(expected.size(), 11u);

    Nginx nginx;
    ASSERT_TRUE(nginx.accepting()) << "nginx did not start; see " << (nginx.dir() / "error.log");
    std::string records = (nginx.dir() / "records.jsonl").string();
    test::Ran ran = test::run_binary(
        "rosetta", {"run", "--model", GetParam(), "--scenario", "crawl", "--origin",
                    nginx.authority(), "--records", records, "--json", "--concurrency", "4"});
    ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
    nlohmann::json r = ran.json();
    EXPECT_TRUE(r["verified"].is_null());
    EXPECT_TRUE(r["peak_inflight"].is_null());

    std::map<std::string, std::string> fetched;
    const std::string prefix = "http://" + nginx.authority();
    for (const Record& record : read_records(records)) {
        ASSERT_EQ(record.url.rfind(prefix, 0), 0u) << record.url;
        std::string path = record.url.substr(prefix.size());
        EXPECT_EQ(record.attempt, 1) << path << " was tried more than once";
        EXPECT_TRUE(fetched.emplace(path, std::string(to_string(record.outcome))).second)
            << path << " fetched twice";
    }
    EXPECT_EQ(fetched, expected);
    EXPECT_EQ(nginx.access_log_lines(), 11) << "nginx saw a different number of requests";
}

INSTANTIATE_TEST_SUITE_P(Models, EveryModelOnNginx, ::testing::ValuesIn(test::models_under_test),
                         test::test_name_of);

}  // namespace
