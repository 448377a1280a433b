// The crawl's frontier: what it hands out, what it admits, and when it says the crawl is over.
#include "scenarios/frontier.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using namespace rosetta;

namespace {

const std::string authority = "127.0.0.1:4242";
std::string at(const std::string& path) { return "http://" + authority + path; }

}  // namespace

TEST(Frontier, hands_out_the_start_then_each_new_link_once_in_the_order_found) {
    Frontier frontier(at("/"), authority, std::nullopt);
    EXPECT_EQ(frontier.next(), at("/"));
    EXPECT_EQ(frontier.next(), std::nullopt) << "nothing queued while the start is in flight";
    EXPECT_FALSE(frontier.finished()) << "the start may still find links";
    frontier.done({at("/p/1"), at("/p/2"), at("/p/1"), at("/")});
    EXPECT_EQ(frontier.queued(), 2u);
    EXPECT_EQ(frontier.next(), at("/p/1"));
    EXPECT_EQ(frontier.next(), at("/p/2"));
    EXPECT_EQ(frontier.in_flight(), 2u);
    frontier.done({at("/p/2"), at("/p/3")});
    frontier.done({});
    EXPECT_EQ(frontier.next(), at("/p/3"));
    EXPECT_EQ(frontier.next(), std::nullopt);
    frontier.done({at("/p/1")});
    EXPECT_TRUE(frontier.finished());
}

TEST(Frontier, follows_only_the_origins_own_host_and_port) {
    Frontier frontier(at("/"), authority, std::nullopt);
    frontier.next();
    frontier.done({"http://127.0.0.1:4243/p/1", "http://offsite.test/p/1",
                   "https://" + authority + "/p/1", at("/p/9")});
    EXPECT_EQ(frontier.next(), at("/p/9"));
    EXPECT_EQ(frontier.next(), std::nullopt);
}

TEST(Frontier, admits_no_more_urls_than_the_budget_and_finishes_when_they_are_done) {
    Frontier frontier(at("/"), authority, 3);
    frontier.next();
    frontier.done({at("/p/1"), at("/p/2"), at("/p/3"), at("/p/4")});
    EXPECT_EQ(frontier.queued(), 2u) << "the start and two links make the budget of three";
    frontier.next();
    frontier.next();
    frontier.done({at("/p/5")});
    frontier.done({});
    EXPECT_EQ(frontier.next(), std::nullopt);
    EXPECT_TRUE(frontier.finished());
}

TEST(Frontier, is_over_at_once_when_nothing_was_in_flight_and_refuses_a_done_without_a_next) {
    Frontier frontier(at("/"), authority, std::nullopt);
    EXPECT_FALSE(frontier.finished()) << "the start is queued";
    EXPECT_THROW(frontier.done({}), std::logic_error);
    frontier.next();
    frontier.done({});
    EXPECT_TRUE(frontier.finished());
}
