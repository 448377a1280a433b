#include "scenarios/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>

namespace rosetta {

namespace {
constexpr std::size_t bucket_count =
    LatencyHistogram::sub_buckets +
    (LatencyHistogram::max_magnitude - LatencyHistogram::sub_bucket_bits) *
        LatencyHistogram::sub_buckets;
}

LatencyHistogram::LatencyHistogram() : counts_(bucket_count, 0) {}

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) {
    value = std::min(value, max_value);
    if (value < sub_buckets) return static_cast<std::size_t>(value);
    int magnitude = std::bit_width(value) - 1;  // >= sub_bucket_bits
    int shift = magnitude - sub_bucket_bits;
    std::uint64_t offset = (value >> shift) - sub_buckets;  // in [0, sub_buckets)
    return static_cast<std::size_t>(sub_buckets + static_cast<std::uint64_t>(shift) * sub_buckets +
                                    offset);
}

std::uint64_t LatencyHistogram::bucket_low(std::size_t bucket) {
    if (bucket < sub_buckets) return bucket;
    std::uint64_t shift = (bucket - sub_buckets) / sub_buckets;
    std::uint64_t offset = (bucket - sub_buckets) % sub_buckets;
    return (sub_buckets + offset) << shift;
}

std::uint64_t LatencyHistogram::bucket_width(std::size_t bucket) {
    if (bucket < sub_buckets) return 1;
    return std::uint64_t{1} << ((bucket - sub_buckets) / sub_buckets);
}

void LatencyHistogram::record(std::uint64_t value) {
    value = std::min(value, max_value);
    ++counts_[bucket_of(value)];
    if (count_ == 0 || value < min_) min_ = value;
    max_ = std::max(max_, value);
    ++count_;
    sum_ += value;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    sum_ += other.sum_;
}

std::uint64_t LatencyHistogram::percentile(double q) const {
    if (count_ == 0) return 0;
    q = std::clamp(q, 0.0, 100.0);
    auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            // The midpoint of the bucket, but never outside what was actually recorded.
            std::uint64_t mid = bucket_low(i) + (bucket_width(i) - 1) / 2;
            return std::clamp(mid, min_, max_);
        }
    }
    return max_;
}

nlohmann::json LatencyHistogram::summary_json() const {
    return {{"p50", percentile(50)},
            {"p90", percentile(90)},
            {"p99", percentile(99)},
            {"p999", percentile(99.9)},
            {"max", max()}};
}

}  // namespace rosetta
