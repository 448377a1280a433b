// process-per-task's mechanism: one forked child per URL, at most C alive, each sending its
// attempts and its page's links back over a pipe; the parent records them, reaps every child
// and kills one that outlives its attempt budget.
//
//     Children children(run, C);
//     for (const std::string& url : urls) {
//         while (children.full()) children.wait_one();  // a child ends: its final record, links
//         if (children.spawn(url)) break;               // the OS refused a fork or a pipe
//     }
//     children.wait_all();
//
// The parent is one thread with one epoll set over the children's pipes; a child is a copy
// of the parent (fork shares its pages copy-on-write but copies its page tables), runs the
// blocking fetch, writes its lines and _exits. Nothing crosses back but what it writes:
//   an attempt that was not the URL's last   one Record as a JSON line (to_json_line)
//   the end of the URL                       one Fetched as a JSON line (last attempt, links)
//   a limit the child hit                    {"failure": "socket: EMFILE (...)"}
// A child never touches the parent's Recorder (its buffer is the parent's, see records.hpp)
// and never returns into the parent's code: _exit, no destructors, no stdio flush.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>

#include "scenarios/model.hpp"
#include "scenarios/net.hpp"

namespace rosetta::process_per_task {

class Children {
public:
    Children(const ModelRun& run, int limit);
    ~Children();  // kills and reaps any child still alive
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;

    // C children alive: spawn must wait. A child that ended but was not reaped yet counts.
    bool full() const { return alive_.size() >= limit_; }
    // Children spawned whose end wait_one() has not returned yet.
    std::size_t unfinished() const { return alive_.size() + ended_.size(); }

    // Forks a child that fetches url (every attempt, with retries) and reports back. First
    // reaps, without waiting, the children that have ended (wait_one returns them later).
    // Returns the limit the OS hit when it refuses the pipe or the fork. Precondition: !full()
    // (throws std::logic_error otherwise).
    Failure spawn(const std::string& url);
    // Waits for the next child to end, recording the attempts every child sends meanwhile, and
    // reaps it. Returns what its URL ended with: the final record (recorded too) and the links.
    // A child still alive past its budget (--timeout-ms x attempts + 1 s) is killed and its URL
    // ends as a timeout. Precondition: unfinished() > 0.
    Fetched wait_one();
    void wait_all() {
        while (unfinished() > 0) wait_one();
    }
    // The first limit a child hit, or a child that died without a word.
    Failure failure() const { return failure_; }

private:
    struct Child {
        pid_t pid = -1;
        std::string url;
        Fd pipe;
        std::string pending;  // bytes of a line not complete yet
        std::int64_t start_ns = 0;
        int last_attempt = 0;  // the highest attempt it reported
        std::optional<Fetched> fetched;
    };
    // Handles what the children's pipes have ready within timeout_ms (0: only what is there);
    // the first child found ended is reaped and returned.
    std::optional<Fetched> handle_events(int timeout_ms);
    // Reads what child sent; true when its pipe reached EOF (it exited or is exiting).
    bool read_from(Child& child);
    void handle_line(Child& child, const std::string& line);
    Fetched reap(pid_t pid, bool killed);

    const ModelRun& run_;
    const std::size_t limit_;
    const std::int64_t budget_ns_;
    Fd epoll_;
    std::unordered_map<pid_t, Child> alive_;
    std::deque<std::pair<std::int64_t, pid_t>> deadlines_;  // in spawn order = deadline order
    std::deque<Fetched> ended_;  // reaped by spawn(), not yet returned by wait_one()
    Failure failure_;
};

}  // namespace rosetta::process_per_task
