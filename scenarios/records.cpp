#include "scenarios/records.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_map>

#include "scenarios/output.hpp"

namespace rosetta {

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

TaskId TaskId::this_thread() {
    // Not cached in a thread_local: a child forked by process-per-task would inherit the cache
    // and report its parent's id. gettid() costs a system call, ~0.1 us next to a round trip.
    auto tid = static_cast<std::uint64_t>(::gettid());
    return {tid, tid};
}

namespace {

// JSON string escaping for the free-text fields (url, error, links): quotes, backslashes and
// control characters; everything else is copied as is (UTF-8 passes through).
void append_escaped(std::string& out, std::string_view text) {
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    fmt::format_to(std::back_inserter(out), "\\u{:04x}",
                                   static_cast<unsigned char>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

// The record as one JSON object, no newline.
void append_record(std::string& line, const Record& r) {
    // Written by hand rather than through nlohmann::json: building and destroying a json object
    // per attempt was 60% of the blocking model's instructions. The checksum travels as 16 hex
    // digits: JSON numbers above 2^53 lose bits in most readers.
    line += "{\"url\":";
    append_escaped(line, r.url);
    auto out = std::back_inserter(line);
    fmt::format_to(
        out,
        ",\"attempt\":{},\"outcome\":\"{}\",\"status\":{},\"bytes\":{},\"checksum\":\"{:016x}\","
        "\"start_ns\":{}",
        r.attempt, to_string(r.outcome), r.status, r.bytes, r.checksum, r.start_ns);
    if (r.connected_ns != 0) fmt::format_to(out, ",\"connected_ns\":{}", r.connected_ns);
    if (r.first_byte_ns != 0) {
        fmt::format_to(out, ",\"first_byte_ns\":{}", r.first_byte_ns);
    } else {
        line += ",\"first_byte_ns\":null";
    }
    fmt::format_to(out, ",\"end_ns\":{},\"lane\":{},\"task\":{}", r.end_ns, r.lane, r.task);
    if (!r.error.empty()) {
        line += ",\"error\":";
        append_escaped(line, r.error);
    }
    line += '}';
}

std::int64_t optional_ns(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? 0 : it->get<std::int64_t>();
}

}  // namespace

std::string to_json_line(const Record& record) {
    std::string line;
    line.reserve(320);
    append_record(line, record);
    line += '\n';
    return line;
}

Record record_from_json(const nlohmann::json& j) {
    Record r;
    try {
        r.url = j.at("url").get<std::string>();
        r.attempt = j.at("attempt").get<int>();
        auto outcome = outcome_from_string(j.at("outcome").get<std::string>());
        if (!outcome) throw std::invalid_argument("unknown outcome");
        r.outcome = *outcome;
        r.status = j.at("status").get<int>();
        r.bytes = j.at("bytes").get<std::uint64_t>();
        r.checksum = std::stoull(j.at("checksum").get<std::string>(), nullptr, 16);
        r.start_ns = j.at("start_ns").get<std::int64_t>();
        r.connected_ns = optional_ns(j, "connected_ns");
        r.first_byte_ns = optional_ns(j, "first_byte_ns");
        r.end_ns = j.at("end_ns").get<std::int64_t>();
        r.lane = j.at("lane").get<std::uint64_t>();
        r.task = j.at("task").get<std::uint64_t>();
        if (j.contains("error")) r.error = j.at("error").get<std::string>();
    } catch (const std::exception& e) {
        throw std::invalid_argument(fmt::format("bad record {}: {}", j.dump(), e.what()));
    }
    return r;
}

std::string to_json_line(const Fetched& fetched) {
    std::string line = "{\"last\":";
    append_record(line, fetched.last);
    line += ",\"links\":[";
    for (std::size_t i = 0; i < fetched.links.size(); ++i) {
        if (i) line += ',';
        append_escaped(line, fetched.links[i]);
    }
    line += "]}\n";
    return line;
}

Fetched fetched_from_json(const nlohmann::json& j) {
    Fetched fetched;
    try {
        fetched.last = record_from_json(j.at("last"));
        fetched.links = j.at("links").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(fmt::format("bad fetch result {}: {}", j.dump(), e.what()));
    }
    return fetched;
}

void RunTotals::add_attempt(const Record& record) {
    ++requests;
    bytes += record.bytes;
    std::int64_t us = (record.end_ns - record.start_ns) / 1000;
    latency_us.record(us > 0 ? static_cast<std::uint64_t>(us) : 0);
}

void RunTotals::add_final(const Record& record) {
    ++urls;
    ++outcomes[record.outcome];
}

nlohmann::json RunTotals::outcomes_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (Outcome o : all_outcomes) {
        auto it = outcomes.find(o);
        j[std::string(to_string(o))] = it == outcomes.end() ? 0 : it->second;
    }
    return j;
}

RunTotals totals_of(const std::vector<Record>& records) {
    RunTotals totals;
    std::unordered_map<std::string_view, const Record*> last;
    for (const Record& record : records) {
        totals.add_attempt(record);
        const Record*& seen = last[record.url];
        if (!seen || record.attempt > seen->attempt) seen = &record;
    }
    for (const auto& [url, record] : last) totals.add_final(*record);
    return totals;
}

Rates rates_of(const RunTotals& totals, double wall_s) {
    if (wall_s <= 0) return {};
    return {static_cast<double>(totals.requests) / wall_s,
            static_cast<double>(totals.urls) / wall_s};
}

Recorder::Recorder(const std::string& path) : path_(path), owner_(::getpid()) {
    if (path.empty()) return;
    file_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file_)
        throw std::runtime_error(fmt::format("--records {}: {}", path, std::strerror(errno)));
    buffer_.reserve(std::size_t{64} * 1024);
}

Recorder::~Recorder() { close(); }

void Recorder::record(const Record& attempt, bool final) {
    std::string line;
    if (file_) line = to_json_line(attempt);
    std::lock_guard lock(mutex_);
    totals_.add_attempt(attempt);
    if (final) totals_.add_final(attempt);
    if (!file_ || !write_error_.empty()) return;
    buffer_ += line;
    // Buffered up to 64 KiB but flushed at least every 100 ms: a write per attempt would show
    // in the numbers of the cheapest models, and a crash loses at most 100 ms of records.
    if (buffer_.size() >= std::size_t{64} * 1024 || attempt.end_ns - last_flush_ns_ > 100'000'000) {
        last_flush_ns_ = attempt.end_ns;
        flush_locked();
    }
}

bool Recorder::flush_locked() {
    if (::getpid() != owner_)
        return write_error_.empty();  // a forked child: the buffer is not its own
    std::string_view pending = buffer_;
    while (file_ && write_error_.empty() && !pending.empty()) {
        ssize_t n = ::write(file_.get(), pending.data(), pending.size());
        if (n > 0) {
            pending.remove_prefix(static_cast<std::size_t>(n));
        } else if (n < 0 && errno != EINTR) {
            write_error_ = fmt::format("--records {}: {}", path_, std::strerror(errno));
        }
    }
    buffer_.clear();
    return write_error_.empty();
}

bool Recorder::flush() {
    std::lock_guard lock(mutex_);
    return flush_locked();
}

bool Recorder::close() {
    std::lock_guard lock(mutex_);
    if (::getpid() != owner_) return write_error_.empty();
    flush_locked();
    if (file_ && ::close(file_.release()) != 0 && write_error_.empty())
        write_error_ = fmt::format("--records {}: {}", path_, std::strerror(errno));
    return write_error_.empty();
}

bool Recorder::ok() const {
    std::lock_guard lock(mutex_);
    return write_error_.empty();
}

std::string Recorder::write_error() const {
    std::lock_guard lock(mutex_);
    return write_error_;
}

RunTotals Recorder::totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
}

std::vector<Record> read_records(const std::string& path) {
    if (auto why = check_regular_if_present("records", path)) throw std::runtime_error(*why);
    std::ifstream in(path);
    if (!in) throw std::runtime_error(fmt::format("cannot read records {}", path));
    std::vector<Record> records;
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty()) continue;
        try {
            records.push_back(record_from_json(nlohmann::json::parse(line)));
        } catch (const std::exception& e) {
            throw std::runtime_error(fmt::format("{} line {}: {}", path, number, e.what()));
        }
    }
    return records;
}

}  // namespace rosetta
