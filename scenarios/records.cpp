#include "scenarios/records.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

namespace rosetta {

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

// JSON string escaping for the two free-text fields (url, error): quotes, backslashes and
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
                    fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned char>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

}  // namespace

std::string to_json_line(const Record& r) {
    // Written by hand rather than through nlohmann::json: building and destroying a json object
    // per attempt was 60% of the blocking model's instructions. The checksum travels as 16 hex
    // digits: JSON numbers above 2^53 lose bits in most readers.
    std::string line;
    line.reserve(256);
    line += "{\"url\":";
    append_escaped(line, r.url);
    fmt::format_to(std::back_inserter(line),
                   ",\"attempt\":{},\"outcome\":\"{}\",\"status\":{},\"bytes\":{},\"checksum\":\"{:016x}\","
                   "\"start_ns\":{},\"end_ns\":{},\"lane\":{}",
                   r.attempt, to_string(r.outcome), r.status, r.bytes, r.checksum, r.start_ns, r.end_ns, r.lane);
    if (!r.error.empty()) {
        line += ",\"error\":";
        append_escaped(line, r.error);
    }
    line += "}\n";
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
        r.end_ns = j.at("end_ns").get<std::int64_t>();
        r.lane = j.at("lane").get<std::uint64_t>();
        if (j.contains("error")) r.error = j.at("error").get<std::string>();
    } catch (const std::exception& e) {
        throw std::invalid_argument(fmt::format("bad record {}: {}", j.dump(), e.what()));
    }
    return r;
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

Recorder::Recorder(const std::string& path) {
    if (path.empty()) return;
    file_ = std::fopen(path.c_str(), "w");
    if (!file_) throw std::runtime_error(fmt::format("--records {}: {}", path, std::strerror(errno)));
    std::setvbuf(file_, nullptr, _IOFBF, std::size_t{64} * 1024);
}

Recorder::~Recorder() { close(); }

bool Recorder::close() {
    std::lock_guard lock(mutex_);
    if (file_) {
        if (std::fclose(file_) != 0 && write_error_.empty())
            write_error_ = fmt::format("writing records: {}", std::strerror(errno));
        file_ = nullptr;
    }
    return write_error_.empty();
}

void Recorder::record(const Record& record, bool final) {
    std::string line;
    if (file_) line = to_json_line(record);
    std::lock_guard lock(mutex_);
    totals_.add_attempt(record);
    if (final) totals_.add_final(record);
    if (file_ && write_error_.empty()) {
        // Buffered (64 KiB) but flushed at least every 100 ms: a write syscall per attempt would
        // show in the numbers of the cheapest models, and a crash loses at most 100 ms of records.
        bool failed = std::fwrite(line.data(), 1, line.size(), file_) != line.size();
        if (!failed && record.end_ns - last_flush_ns_ > 100'000'000) {
            failed = std::fflush(file_) != 0;
            last_flush_ns_ = record.end_ns;
        }
        if (failed) write_error_ = fmt::format("writing records: {}", std::strerror(errno));
    }
}

RunTotals Recorder::totals() const {
    std::lock_guard lock(mutex_);
    return totals_;
}

std::vector<Record> read_records(const std::string& path) {
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
