#include "models/process-per-task/children.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>

#include "models/blocking/fetch.hpp"

namespace rosetta::process_per_task {

namespace {

// Writes all of text; gives up only when the parent has gone, and then the child dies anyway.
void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n > 0) {
            text.remove_prefix(static_cast<std::size_t>(n));
        } else if (errno != EINTR) {
            return;
        }
    }
}

// A child's attempts go down its pipe. The URL's last attempt is not sent alone: it travels in
// the Fetched line that ends the child's report.
class PipeSink final : public AttemptSink {
public:
    explicit PipeSink(int fd) : fd_(fd) {}
    void record(const Record& attempt, bool final) override {
        if (!final) write_all(fd_, to_json_line(attempt));
    }

private:
    int fd_;
};

// The child's whole life: fetch url, report, _exit. Keeps only its pipe (and stdin, stdout,
// stderr) of what it inherited, so it can never write the parent's records file, and the
// other children's pipes do not stay open in it.
[[noreturn]] void be_the_child(const ModelRun& run, const std::string& url, int pipe,
                               pid_t parent) {
    // Dies with its parent; the parent may have died before prctl(), and then getppid() no
    // longer names it.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(1);
    if (pipe > 3) ::close_range(3, static_cast<unsigned>(pipe) - 1, 0);
    ::close_range(static_cast<unsigned>(pipe) + 1, ~0U, 0);
    PipeSink sink(pipe);
    int status = 0;
    try {
        Fd connection;  // no connection outlives the child: no keep-alive across tasks
        Fetched fetched = blocking::fetch_url(run.with_sink(sink), connection, url);
        write_all(pipe, to_json_line(fetched));
    } catch (const std::exception& e) {  // LimitReached: the run must stop
        write_all(pipe, nlohmann::json{{"failure", e.what()}}.dump() + "\n");
        status = 1;
    }
    ::_exit(status);
}

}  // namespace

Children::Children(const ModelRun& run, int limit)
    : run_(run),
      limit_(static_cast<std::size_t>(limit)),
      budget_ns_((std::int64_t{run.spec().timeout_ms} * (run.spec().retries + 1) + 1000) *
                 1'000'000),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) throw LimitReached(describe_error("epoll_create1", errno));
}

Children::~Children() {
    for (auto& [pid, child] : alive_) ::kill(pid, SIGKILL);
    for (auto& [pid, child] : alive_)
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
}

Failure Children::spawn(const std::string& url) {
    // Children that ended are reaped now, so a slot is never held by a zombie for long.
    while (std::optional<Fetched> ended = handle_events(0)) ended_.push_back(std::move(*ended));
    if (full()) throw std::logic_error("Children::spawn with C children alive");
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) return describe_error("pipe", errno);
    Fd read_end(ends[0]), write_end(ends[1]);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return describe_error("fork", errno);
    if (pid == 0) be_the_child(run_, url, write_end.get(), parent);

    write_end.reset();  // the child's: EOF on the read end now means the child has gone
    ::fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
    epoll_event event{};
    event.events = EPOLLIN;  // level-triggered: an EOF not handled now is reported again
    event.data.u64 = static_cast<std::uint64_t>(pid);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, read_end.get(), &event) != 0) {
        int err = errno;
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return describe_error("epoll_ctl", err);
    }
    Child child;
    child.pid = pid;
    child.url = url;
    child.pipe = std::move(read_end);
    child.start_ns = monotonic_ns();
    deadlines_.emplace_back(child.start_ns + budget_ns_, pid);
    alive_.emplace(pid, std::move(child));
    return std::nullopt;
}

Fetched Children::wait_one() {
    if (!ended_.empty()) {
        Fetched ended = std::move(ended_.front());
        ended_.pop_front();
        return ended;
    }
    for (;;) {
        // The budget is the same for every child, so spawn order is deadline order: the oldest
        // child still alive bounds the wait.
        while (!deadlines_.empty() && !alive_.count(deadlines_.front().second))
            deadlines_.pop_front();
        int timeout_ms = -1;
        if (!deadlines_.empty()) {
            std::int64_t left = deadlines_.front().first - monotonic_ns();
            if (left <= 0) {
                // Overdue, unless it has ended and its EOF is only waiting to be read.
                pid_t oldest = deadlines_.front().second;
                return reap(oldest, !read_from(alive_.at(oldest)));
            }
            timeout_ms = static_cast<int>((left + 999'999) / 1'000'000);
        }
        if (std::optional<Fetched> ended = handle_events(timeout_ms)) return *std::move(ended);
    }
}

std::optional<Fetched> Children::handle_events(int timeout_ms) {
    epoll_event events[64];
    int n = ::epoll_wait(epoll_.get(), events, 64, timeout_ms);
    if (n < 0 && errno != EINTR)
        throw std::system_error(errno, std::generic_category(), "epoll_wait");
    for (int i = 0; i < n; ++i) {
        // An ended child's EOF not handled in this batch is reported again: level-triggered.
        auto pid = static_cast<pid_t>(events[i].data.u64);
        if (read_from(alive_.at(pid))) return reap(pid, false);
    }
    return std::nullopt;
}

bool Children::read_from(Child& child) {
    char buffer[16384];
    for (;;) {
        ssize_t n = ::read(child.pipe.get(), buffer, sizeof buffer);
        if (n == 0) return true;
        if (n < 0) return errno != EAGAIN && errno != EINTR;
        child.pending.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t end; (end = child.pending.find('\n')) != std::string::npos;) {
            handle_line(child, child.pending.substr(0, end));
            child.pending.erase(0, end + 1);
        }
    }
}

void Children::handle_line(Child& child, const std::string& line) {
    try {
        nlohmann::json j = nlohmann::json::parse(line);
        if (j.contains("failure")) {
            if (!failure_) failure_ = j["failure"].get<std::string>();
        } else if (j.contains("last")) {
            Fetched fetched = fetched_from_json(j);
            child.last_attempt = fetched.last.attempt;
            run_.record(fetched.last);  // the child's policy said final; so does ours
            child.fetched = std::move(fetched);
        } else {
            Record attempt = record_from_json(j);
            child.last_attempt = attempt.attempt;
            run_.record(attempt);
        }
    } catch (const std::exception& e) {
        if (!failure_)
            failure_ = fmt::format("the child for {} sent a bad line: {}", child.url, e.what());
    }
}

Fetched Children::reap(pid_t pid, bool killed) {
    auto it = alive_.find(pid);
    Child child = std::move(it->second);
    alive_.erase(it);
    // Removed by hand: children forked later hold copies of this pipe's read end, which keep
    // its registration alive after the parent closes its own.
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, child.pipe.get(), nullptr);
    if (killed) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (child.fetched) return *std::move(child.fetched);

    Fetched ended;
    ended.last.url = child.url;
    if (killed) {
        // It outlived every attempt's deadline plus a second: whatever it was doing, its URL
        // ends here, as a timeout.
        Record& r = ended.last;
        r.attempt = child.last_attempt + 1;
        r.outcome = Outcome::timeout;
        r.start_ns = child.start_ns;
        r.end_ns = monotonic_ns();
        r.lane = r.task = static_cast<std::uint64_t>(pid);
        r.error = fmt::format("the child outlived its attempt budget of {} ms and was killed",
                              budget_ns_ / 1'000'000);
        run_.give_up(r);
    } else if (!failure_) {
        failure_ = fmt::format("the child for {} ended without a result ({})", child.url,
                               WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                                   : fmt::format("exit {}", WEXITSTATUS(status)));
    }
    return ended;
}

}  // namespace rosetta::process_per_task
