#include "scenarios/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

using rosetta::LatencyHistogram;

namespace {
// The exact percentile of a sorted sample, with the same rank rule as the histogram.
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, double q) {
    auto rank = static_cast<std::size_t>(std::ceil(q / 100.0 * static_cast<double>(sorted.size())));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}
}  // namespace

TEST(LatencyHistogram, keeps_small_values_exact) {
    LatencyHistogram h;
    for (std::uint64_t v = 0; v < 128; ++v) h.record(v);
    EXPECT_EQ(h.count(), 128u);
    EXPECT_EQ(h.min(), 0u);
    EXPECT_EQ(h.max(), 127u);
    EXPECT_EQ(h.percentile(50), 63u);
    EXPECT_EQ(h.percentile(100), 127u);
}

TEST(LatencyHistogram, buckets_are_contiguous_and_at_most_one_128th_of_their_value_wide) {
    for (std::size_t b = 0; b + 1 < LatencyHistogram::bucket_of(LatencyHistogram::max_value); ++b) {
        ASSERT_EQ(LatencyHistogram::bucket_low(b) + LatencyHistogram::bucket_width(b),
                  LatencyHistogram::bucket_low(b + 1))
            << "bucket " << b;
        if (LatencyHistogram::bucket_low(b) >= 128) {
            ASSERT_LE(LatencyHistogram::bucket_width(b) * 128, LatencyHistogram::bucket_low(b));
        }
    }
    for (std::uint64_t v :
         {0ull, 127ull, 128ull, 255ull, 256ull, 1000ull, 123456789ull, (1ull << 39) + 5}) {
        std::size_t b = LatencyHistogram::bucket_of(v);
        EXPECT_LE(LatencyHistogram::bucket_low(b), v);
        EXPECT_LT(v, LatencyHistogram::bucket_low(b) + LatencyHistogram::bucket_width(b));
    }
}

TEST(LatencyHistogram, reports_percentiles_within_one_percent_of_the_exact_values) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> latency(std::log(2000.0), 1.2);  // microseconds
    LatencyHistogram h;
    std::vector<std::uint64_t> values;
    for (int i = 0; i < 200'000; ++i) {
        auto v = static_cast<std::uint64_t>(latency(rng));
        values.push_back(v);
        h.record(v);
    }
    std::sort(values.begin(), values.end());
    for (double q : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
        double exact = static_cast<double>(exact_percentile(values, q));
        double got = static_cast<double>(h.percentile(q));
        EXPECT_LE(std::abs(got - exact), 0.01 * exact + 1) << "p" << q;
    }
    EXPECT_EQ(h.max(), values.back());
    EXPECT_EQ(h.min(), values.front());
}

TEST(LatencyHistogram, merging_two_halves_equals_recording_everything_in_one) {
    LatencyHistogram whole, left, right;
    std::mt19937_64 rng(11);
    for (int i = 0; i < 50'000; ++i) {
        std::uint64_t v = rng() % 5'000'000;
        whole.record(v);
        (i % 3 ? left : right).record(v);
    }
    left.merge(right);
    EXPECT_EQ(left.count(), whole.count());
    EXPECT_EQ(left.min(), whole.min());
    EXPECT_EQ(left.max(), whole.max());
    EXPECT_DOUBLE_EQ(left.mean(), whole.mean());
    for (double q : {50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(left.percentile(q), whole.percentile(q));
}

TEST(LatencyHistogram, clamps_huge_values_and_reports_zeros_when_empty) {
    LatencyHistogram h;
    EXPECT_EQ(h.percentile(99), 0u);
    EXPECT_EQ(h.summary_json()["max"], 0u);
    h.record(~0ull);
    EXPECT_EQ(h.count(), 1u);
    EXPECT_EQ(h.max(), LatencyHistogram::max_value);
    EXPECT_EQ(h.percentile(50), LatencyHistogram::max_value);
}
