// The words a refused run ends with: the errno's name and the limit behind it, with its value
// on this machine, in one line a reader can act on.
#include "scenarios/net.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cerrno>
#include <regex>

using namespace rosetta;

TEST(DescribeError, names_the_descriptor_limit_with_its_value) {
    rlimit limit{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
    EXPECT_EQ(describe_error("socket", EMFILE),
              "socket: EMFILE (RLIMIT_NOFILE " + std::to_string(limit.rlim_cur) + ")");
}

TEST(DescribeError, names_the_ephemeral_port_range_as_one_line) {
    std::string text = describe_error("connect", EADDRNOTAVAIL);
    EXPECT_TRUE(std::regex_match(
        text, std::regex(R"(connect: EADDRNOTAVAIL \(ephemeral ports \d+-\d+ in use\))")))
        << text;
}

TEST(DescribeError, names_the_limits_a_thread_or_a_fork_may_have_met) {
    for (int err : {EAGAIN, ENOMEM}) {
        std::string text = describe_error("thread", err);
        EXPECT_TRUE(text.starts_with("thread: E")) << text;
        EXPECT_NE(text.find("pid_max"), std::string::npos) << text;
        EXPECT_EQ(text.find('\n'), std::string::npos) << text;
    }
}
