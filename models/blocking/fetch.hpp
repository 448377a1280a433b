// The blocking model's connection and fetch. See README.md for its place in the story.
#pragma once

#include "scenarios/model.hpp"

#include <string>
#include <vector>

namespace rosetta::blocking {

// The one connection the model keeps (keep-alive), closed on destruction.
class Connection {
public:
    Connection() = default;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { close(); }

    bool is_open() const { return fd_ >= 0; }
    void close();

    int fd_ = -1;
    bool reused_ = false;  // has carried an earlier request: a failure before any byte may be staleness
};

// One attempt at url: reuse or open the connection, send the request, read the response,
// blocking in the kernel until it completes or the attempt's deadline passes.
Record fetch(const ModelRun& run, Connection& connection, const std::string& url, int attempt,
             std::vector<std::string>* links);

// Every attempt url needs: fetch, record, and retry while the outcome is retryable and the
// budget lasts. Returns the final attempt; links (crawl) are filled from an ok page.
Record fetch_url(const ModelRun& run, Connection& connection, const std::string& url,
                 std::vector<std::string>* links);

}  // namespace rosetta::blocking
