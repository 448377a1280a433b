// Records: one per attempt, the evidence a run leaves behind. Every model produces them the
// same way, the harness verifies them against the site truth, and the report reads them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
// Declared only: the full JSON header costs seconds of compile time in each of the many files
// that include this one; the files that build or read JSON include <nlohmann/json.hpp>.
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "scenarios/histogram.hpp"
#include "scenarios/net.hpp"
#include "scenarios/outcome.hpp"

namespace rosetta {

// Who waited for an attempt. `lane` is what the OS schedules: a thread id (gettid), which in a
// single-threaded child process is its pid. `task` is what the model schedules on that lane: a
// fiber, a coroutine, a callback chain; where the OS schedules the tasks itself (threads,
// processes) it equals the lane. A timeline draws one row per lane, and per task inside it.
struct TaskId {
    std::uint64_t lane = 0;
    std::uint64_t task = 0;

    // The calling thread as both lane and task: the models whose tasks are OS threads.
    static TaskId this_thread();
};

struct Record {
    std::string url;  // absolute, normalised
    int attempt = 1;  // 1 for the first try of this URL
    Outcome outcome = Outcome::ok;
    int status = 0;              // HTTP status, 0 when no status line arrived
    std::uint64_t bytes = 0;     // body bytes received
    std::uint64_t checksum = 0;  // of the body, when ok
    // The phases of the attempt, CLOCK_MONOTONIC, comparable across the processes of a run:
    // start (before any connect) -> connected -> first response byte -> end.
    std::int64_t start_ns = 0;
    std::int64_t connected_ns =
        0;  // 0: no new connection (a kept-alive one was reused, or none opened)
    std::int64_t first_byte_ns = 0;  // 0: no byte of a response arrived
    std::int64_t end_ns = 0;
    std::uint64_t lane = 0;  // see TaskId
    std::uint64_t task = 0;
    std::string error;  // a short reason when not ok (e.g. "connect: ECONNREFUSED")
};

// One JSON object on one line, newline included: what Recorder writes and read_records reads.
// connected_ns is left out when 0; first_byte_ns is null when no byte arrived.
std::string to_json_line(const Record& record);
// Throws std::invalid_argument naming the bad field.
Record record_from_json(const nlohmann::json& json);

// What fetching one URL ends with: its final attempt and, for a crawl, the links of the page
// (resolved, same-origin or not; the frontier decides). A value, so it can cross a process
// boundary: process-per-task's child sends it to the parent as one JSON line.
struct Fetched {
    Record last;
    std::vector<std::string> links;
};
std::string to_json_line(const Fetched& fetched);
// Throws std::invalid_argument naming the bad field.
Fetched fetched_from_json(const nlohmann::json& json);

std::int64_t monotonic_ns();

// How many attempts a URL gets: the first, then up to `retries` more while the outcome is
// retryable (see is_retryable).
struct RetryPolicy {
    int retries = 2;
    bool should_retry(const Record& attempt) const {
        return attempt.attempt <= retries && is_retryable(attempt.outcome, attempt.status);
    }
};

// Where a model's attempts go, each with whether it is its URL's last. In a model's process
// that is the Recorder; process-per-task's children write theirs to a pipe, and the parent
// hands them on to its Recorder.
class AttemptSink {
public:
    virtual void record(const Record& attempt, bool final) = 0;

protected:
    ~AttemptSink() = default;
};

// The totals of a run, from the inside (the Recorder) or from a records file (the harness).
struct RunTotals {
    std::uint64_t requests = 0;                 // attempts
    std::uint64_t urls = 0;                     // URLs with a final outcome
    std::uint64_t bytes = 0;                    // body bytes of all attempts
    std::map<Outcome, std::uint64_t> outcomes;  // final outcome per URL
    LatencyHistogram latency_us;                // per attempt

    void add_attempt(const Record& record);
    void add_final(const Record& record);
    nlohmann::json outcomes_json() const;
};

// The totals of the records in a file, as a Recorder would have counted them: every line an
// attempt, the highest attempt of each URL its final one. For a run stopped before it ended,
// that last attempt stands for the URL's outcome so far.
RunTotals totals_of(const std::vector<Record>& records);

// The two rates of a run, defined here once. throughput_rps: attempts (requests) per second;
// urls_per_s: URLs with a final outcome per second. `rosetta run` divides by the wall time it
// measures from outside the model; a model executable run by hand by its own.
struct Rates {
    double throughput_rps = 0;
    double urls_per_s = 0;
};
Rates rates_of(const RunTotals& totals, double wall_s);

// Collects the records of a run: each is written to the --records file (buffered, flushed at
// least every 100 ms, so a crash loses at most that much) and counted in the totals.
// Thread-safe: one mutex, held for the few microseconds of an append, which is cheap next to
// a network round trip.
//
// Only the process that made it ever writes: a child forked while records sit in the buffer
// holds a copy of them, and the buffer is ours (no stdio), so no exit() of the child can
// flush it. Every write checks the pid first. Still, flush() before fork() so the parent's
// records reach the file in time order.
class Recorder final : public AttemptSink {
public:
    // path empty: keep totals only. Throws std::runtime_error "--records PATH: reason".
    explicit Recorder(const std::string& path);
    ~Recorder();  // close()
    Recorder(const Recorder&) = delete;
    Recorder& operator=(const Recorder&) = delete;

    void record(const Record& attempt, bool final) override;
    RunTotals totals() const;
    // Writes what is buffered; false when a write failed (see write_error).
    bool flush();
    // Flushes and closes the file; false when any write failed.
    bool close();
    bool ok() const;
    std::string write_error() const;

private:
    bool flush_locked();

    mutable std::mutex mutex_;
    std::string path_;
    Fd file_;
    pid_t owner_;
    std::string buffer_;
    RunTotals totals_;
    std::string write_error_;
    std::int64_t last_flush_ns_ = 0;
};

// Reads a records file written by Recorder. Throws std::runtime_error on a bad line, and on a
// path that is not a regular file (a device or a pipe may never end).
std::vector<Record> read_records(const std::string& path);

}  // namespace rosetta
