#include "scenarios/lanes.hpp"

#include <gtest/gtest.h>

namespace rosetta {
namespace {

TEST(Lanes, uses_the_threads_asked_but_never_more_than_c_nor_fewer_than_one) {
    EXPECT_EQ(lanes_for(1, 100), 1);
    EXPECT_EQ(lanes_for(4, 100), 4);
    EXPECT_EQ(lanes_for(4, 3), 3);
    EXPECT_EQ(lanes_for(0, 3), 1);
}

TEST(Lanes, share_c_so_the_shares_differ_by_at_most_one_and_sum_to_c) {
    for (int c : {1, 2, 7, 100, 10'000, 19'001})
        for (int lanes = 1; lanes <= std::min(c, 5); ++lanes) {
            int sum = 0, least = c, most = 0;
            for (int i = 0; i < lanes; ++i) {
                const int share = concurrency_share(c, lanes, i);
                sum += share;
                least = std::min(least, share);
                most = std::max(most, share);
            }
            EXPECT_EQ(sum, c) << c << " over " << lanes;
            EXPECT_LE(most - least, 1) << c << " over " << lanes;
        }
}

TEST(Lanes, deal_every_url_once_in_order_in_proportion_to_each_lanes_share) {
    for (std::size_t urls : {0u, 1u, 5u, 1000u, 100'000u})
        for (int c : {1, 3, 8, 10'000})
            for (int lanes = 1; lanes <= std::min(c, 4); ++lanes) {
                std::size_t next = 0;
                for (int i = 0; i < lanes; ++i) {
                    const Slice slice = url_slice(urls, c, lanes, i);
                    EXPECT_EQ(slice.begin, next) << urls << " urls, C=" << c << ", lane " << i;
                    EXPECT_LE(slice.begin, slice.end);
                    // In proportion: the slice's length is within one URL of urls*share/C.
                    const double fair = static_cast<double>(urls) * concurrency_share(c, lanes, i) /
                                        static_cast<double>(c);
                    EXPECT_NEAR(static_cast<double>(slice.end - slice.begin), fair, 1.0);
                    next = slice.end;
                }
                EXPECT_EQ(next, urls) << urls << " urls, C=" << c << " over " << lanes;
            }
}

}  // namespace
}  // namespace rosetta
