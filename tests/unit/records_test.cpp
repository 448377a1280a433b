#include "scenarios/records.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace rosetta;

namespace {
Record sample(int i) {
    Record r;
    r.url = "http://127.0.0.1:1/p/" + std::to_string(i);
    r.attempt = 1 + i % 3;
    r.outcome = i % 2 ? Outcome::ok : Outcome::timeout;
    r.status = i % 2 ? 200 : 0;
    r.bytes = 16384;
    r.checksum = 0xfedcba9876543210ull + static_cast<std::uint64_t>(i);
    r.start_ns = 1000 * i;
    r.end_ns = 1000 * i + 2'500'000;
    r.lane = 77;
    if (i % 2 == 0) r.error = "no response within 300 ms";
    return r;
}
}  // namespace

TEST(Record, round_trips_through_json_with_a_full_64_bit_checksum) {
    Record r = sample(3);
    Record back = record_from_json(nlohmann::json::parse(to_json_line(r)));
    EXPECT_EQ(back.url, r.url);
    EXPECT_EQ(back.attempt, r.attempt);
    EXPECT_EQ(back.outcome, r.outcome);
    EXPECT_EQ(back.status, r.status);
    EXPECT_EQ(back.bytes, r.bytes);
    EXPECT_EQ(back.checksum, r.checksum);
    EXPECT_EQ(back.start_ns, r.start_ns);
    EXPECT_EQ(back.end_ns, r.end_ns);
    EXPECT_EQ(back.lane, r.lane);
    EXPECT_THROW(record_from_json(nlohmann::json{{"url", "x"}}), std::invalid_argument);
}

TEST(Record, writes_one_json_line_with_every_field_even_with_characters_to_escape) {
    Record r = sample(4);
    r.url = "http://127.0.0.1:1/p/\"quoted\"\\back\tslash\x01";
    r.error = "line\nbreak";
    std::string line = to_json_line(r);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
    const nlohmann::json expected = {{"url", r.url},
                                     {"attempt", r.attempt},
                                     {"outcome", "timeout"},
                                     {"status", 0},
                                     {"bytes", 16384},
                                     {"checksum", "fedcba9876543214"},
                                     {"start_ns", 4000},
                                     {"end_ns", 2'504'000},
                                     {"lane", 77},
                                     {"error", "line\nbreak"}};
    EXPECT_EQ(nlohmann::json::parse(line), expected);
    EXPECT_FALSE(nlohmann::json::parse(to_json_line(sample(3))).contains("error")) << "no error, no field";
}

TEST(RetryPolicy, retries_retryable_outcomes_until_the_budget_is_spent) {
    RetryPolicy policy{2};
    Record r;
    r.outcome = Outcome::timeout;
    r.attempt = 1;
    EXPECT_TRUE(policy.should_retry(r));
    r.attempt = 2;
    EXPECT_TRUE(policy.should_retry(r));
    r.attempt = 3;
    EXPECT_FALSE(policy.should_retry(r));
    r.attempt = 1;
    r.outcome = Outcome::http_error;
    r.status = 503;
    EXPECT_TRUE(policy.should_retry(r));
    r.status = 404;
    EXPECT_FALSE(policy.should_retry(r));
    r.outcome = Outcome::ok;
    r.status = 200;
    EXPECT_FALSE(policy.should_retry(r));
}

TEST(Recorder, streams_every_record_from_many_threads_and_counts_final_outcomes) {
    auto path = std::filesystem::temp_directory_path() / ("records-test-" + std::to_string(getpid()) + ".jsonl");
    {
        Recorder recorder(path.string());
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&recorder, t] {
                for (int i = 0; i < 250; ++i) recorder.record(sample(t * 1000 + i), i % 5 == 0);
            });
        for (auto& t : threads) t.join();
        ASSERT_TRUE(recorder.close());
        RunTotals totals = recorder.totals();
        EXPECT_EQ(totals.requests, 1000u);
        EXPECT_EQ(totals.urls, 200u);
        EXPECT_EQ(totals.bytes, 1000u * 16384);
        EXPECT_EQ(totals.latency_us.count(), 1000u);
        EXPECT_EQ(totals.latency_us.max(), 2500u);
        EXPECT_EQ(totals.outcomes_json()["ok"].get<int>() + totals.outcomes_json()["timeout"].get<int>(), 200);
    }
    std::vector<Record> back = read_records(path.string());
    EXPECT_EQ(back.size(), 1000u);
    std::filesystem::remove(path);
}

TEST(Recorder, refuses_a_records_file_it_cannot_create) {
    EXPECT_THROW(Recorder("/nonexistent-dir/records.jsonl"), std::runtime_error);
}
