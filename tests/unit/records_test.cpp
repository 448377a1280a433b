#include "scenarios/records.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
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
    r.connected_ns = i % 3 ? 1000 * i + 100 : 0;
    r.first_byte_ns = i % 2 ? 1000 * i + 900 : 0;
    r.end_ns = 1000 * i + 2'500'000;
    r.lane = 77;
    r.task = 78;
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
    EXPECT_EQ(back.connected_ns, r.connected_ns);
    EXPECT_EQ(back.first_byte_ns, r.first_byte_ns);
    EXPECT_EQ(back.end_ns, r.end_ns);
    EXPECT_EQ(back.lane, r.lane);
    EXPECT_EQ(back.task, r.task);
    EXPECT_THROW(record_from_json(nlohmann::json{{"url", "x"}}), std::invalid_argument);
}

TEST(Record, writes_one_json_line_with_every_field_even_with_characters_to_escape) {
    Record r = sample(4);
    r.url = "http://127.0.0.1:1/p/\"quoted\"\\back\tslash\x01";
    r.error = "line\nbreak";
    std::string line = to_json_line(r);
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
    const nlohmann::json expected = {
        {"url", r.url},          {"attempt", r.attempt}, {"outcome", "timeout"},
        {"status", 0},           {"bytes", 16384},       {"checksum", "fedcba9876543214"},
        {"start_ns", 4000},      {"connected_ns", 4100}, {"first_byte_ns", nullptr},
        {"end_ns", 2'504'000},   {"lane", 77},           {"task", 78},
        {"error", "line\nbreak"}};
    EXPECT_EQ(nlohmann::json::parse(line), expected);
    nlohmann::json reused = nlohmann::json::parse(to_json_line(sample(3)));
    EXPECT_FALSE(reused.contains("error")) << "no error, no field";
    EXPECT_FALSE(reused.contains("connected_ns")) << "a reused connection has no connect phase";
    EXPECT_EQ(reused["first_byte_ns"], 3900);
}

TEST(Fetched, crosses_a_process_boundary_as_one_json_line_with_its_links) {
    Fetched fetched{sample(5), {"http://127.0.0.1:1/p/2", "http://127.0.0.1:1/p/\"quote\""}};
    std::string line = to_json_line(fetched);
    ASSERT_EQ(line.find('\n'), line.size() - 1);
    Fetched back = fetched_from_json(nlohmann::json::parse(line));
    EXPECT_EQ(nlohmann::json::parse(to_json_line(back.last)),
              nlohmann::json::parse(to_json_line(fetched.last)));
    EXPECT_EQ(back.links, fetched.links);
    EXPECT_TRUE(fetched_from_json(nlohmann::json::parse(to_json_line(Fetched{sample(1), {}})))
                    .links.empty());
    EXPECT_THROW(fetched_from_json(nlohmann::json{{"links", nlohmann::json::array()}}),
                 std::invalid_argument);
}

TEST(RunTotals, counts_a_records_file_as_the_recorder_counted_it) {
    std::vector<Record> records = {sample(1), sample(2), sample(3)};
    records[0].url = records[1].url = records[2].url = "http://127.0.0.1:1/p/7";
    records[0].attempt = 2;
    records[0].outcome = Outcome::ok;
    records[1].attempt = 1;
    records[1].outcome = Outcome::timeout;
    records[2].url = "http://127.0.0.1:1/p/8";
    records[2].outcome = Outcome::reset;
    RunTotals totals = totals_of(records);
    EXPECT_EQ(totals.requests, 3u);
    EXPECT_EQ(totals.urls, 2u);
    EXPECT_EQ(totals.outcomes_json()["ok"], 1) << "the highest attempt of /p/7 is its final";
    EXPECT_EQ(totals.outcomes_json()["reset"], 1);
    EXPECT_EQ(totals.outcomes_json()["timeout"], 0);

    Rates rates = rates_of(totals, 0.5);
    EXPECT_DOUBLE_EQ(rates.throughput_rps, 6.0) << "attempts per second";
    EXPECT_DOUBLE_EQ(rates.urls_per_s, 4.0);
    EXPECT_DOUBLE_EQ(rates_of(totals, 0).throughput_rps, 0.0);
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
    auto path = std::filesystem::temp_directory_path() /
                ("records-test-" + std::to_string(getpid()) + ".jsonl");
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
        EXPECT_EQ(
            totals.outcomes_json()["ok"].get<int>() + totals.outcomes_json()["timeout"].get<int>(),
            200);
    }
    std::vector<Record> back = read_records(path.string());
    EXPECT_EQ(back.size(), 1000u);
    std::filesystem::remove(path);
}

TEST(Recorder, refuses_a_records_file_it_cannot_create) {
    EXPECT_THROW(Recorder("/nonexistent-dir/records.jsonl"), std::runtime_error);
}

TEST(Recorder, never_writes_its_buffer_twice_when_a_forked_child_flushes_closes_or_exits) {
    auto path = std::filesystem::temp_directory_path() /
                ("fork-test-" + std::to_string(getpid()) + ".jsonl");
    {
        Recorder recorder(path.string());
        // All three stay in the buffer (they end within 100 ms of each other), which the
        // child inherits.
        for (int i = 1; i <= 3; ++i) recorder.record(sample(i), true);
        pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            recorder.record(sample(9), true);
            recorder.flush();
            recorder.close();
            std::exit(0);  // exit(), not _exit(): static destructors and stdio flushes run too
        }
        int status = 0;
        ASSERT_EQ(::waitpid(child, &status, 0), child);
        ASSERT_TRUE(WIFEXITED(status));
        EXPECT_EQ(WEXITSTATUS(status), 0);
        ASSERT_TRUE(recorder.close());
    }
    std::vector<Record> back = read_records(path.string());
    ASSERT_EQ(back.size(), 3u) << "each record once, nothing from the child";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(back[static_cast<std::size_t>(i)].url, sample(i + 1).url);
    std::filesystem::remove(path);
}

TEST(Recorder, names_a_failed_write_as_a_records_failure) {
    if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
    Recorder recorder("/dev/full");
    recorder.record(sample(1), true);
    EXPECT_FALSE(recorder.close());
    EXPECT_NE(recorder.write_error().find("--records /dev/full"), std::string::npos)
        << recorder.write_error();
}
