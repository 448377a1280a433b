// Records: one per attempt, the evidence a run leaves behind. Every model produces them the
// same way, the harness verifies them against the site truth, and the report reads them.
#pragma once

#include "scenarios/histogram.hpp"
#include "scenarios/outcome.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace rosetta {

struct Record {
    std::string url;  // absolute, normalised
    int attempt = 1;  // 1 for the first try of this URL
    Outcome outcome = Outcome::ok;
    int status = 0;           // HTTP status, 0 when no status line arrived
    std::uint64_t bytes = 0;  // body bytes received
    std::uint64_t checksum = 0;  // of the body, when ok
    std::int64_t start_ns = 0;   // CLOCK_MONOTONIC, comparable across the processes of a run
    std::int64_t end_ns = 0;
    std::uint64_t lane = 0;  // who waited: OS thread id, process id or fiber id
    std::string error;       // a short reason when not ok (e.g. "connect: ECONNREFUSED")
};

// One JSON object on one line, newline included: what Recorder writes and read_records reads.
std::string to_json_line(const Record& record);
// Throws std::invalid_argument naming the bad field.
Record record_from_json(const nlohmann::json& json);

std::int64_t monotonic_ns();

// How many attempts a URL gets: the first, then up to `retries` more while the outcome is
// retryable (see is_retryable).
struct RetryPolicy {
    int retries = 2;
    bool should_retry(const Record& attempt) const {
        return attempt.attempt <= retries && is_retryable(attempt.outcome, attempt.status);
    }
};

// What a model reports about its run, from the inside. The harness adds what it measures
// from the outside (CPU, memory, context switches) and what it verifies.
struct RunTotals {
    std::uint64_t requests = 0;  // attempts
    std::uint64_t urls = 0;      // URLs with a final outcome
    std::uint64_t bytes = 0;     // body bytes of all attempts
    std::map<Outcome, std::uint64_t> outcomes;  // final outcome per URL
    LatencyHistogram latency_us;                // per attempt

    void add_attempt(const Record& record);
    void add_final(const Record& record);
    nlohmann::json outcomes_json() const;
};

// Collects the records of a run: streams each to the --records file as it is made (so a crash
// loses nothing already recorded) and keeps the totals. Thread-safe: one mutex, held for the
// few microseconds of a formatted write, which is cheap next to a network round trip.
class Recorder {
public:
    // path empty: keep totals only.
    explicit Recorder(const std::string& path);
    ~Recorder();
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    // One attempt. `final` says it is the URL's last attempt (ok, final error or retries spent).
    void record(const Record& record, bool final);
    RunTotals totals() const;
    // Flushes and closes the file; false when any write failed (see write_error).
    bool close();
    bool ok() const { return write_error_.empty(); }
    const std::string& write_error() const { return write_error_; }

private:
    mutable std::mutex mutex_;
    std::FILE* file_ = nullptr;
    RunTotals totals_;
    std::string write_error_;
    std::int64_t last_flush_ns_ = 0;
};

// Reads a records file written by Recorder. Throws std::runtime_error on a bad line.
std::vector<Record> read_records(const std::string& path);

}  // namespace rosetta
