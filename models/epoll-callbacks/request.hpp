// epoll-callbacks' fetch: one URL as a state machine driven by the reactor's callbacks.
//
//   idle --fetch(url)--> [take a kept-alive connection]
//        no connection:  connecting --writable, connected--> sending
//        kept alive:     sending
//   sending   --request sent-->            receiving
//   receiving --response complete or EOF-> the attempt ends
//   any state --deadline timer, error-->   the attempt ends (failure named by its step)
//   the attempt ends: stale keep-alive?  --> connecting again (same attempt, same deadline)
//                     run.record(): retry -> a new attempt (connecting or sending)
//                                   done  -> idle, on_fetched(Fetched) is called
//
// What would be one function in the blocking model (models/blocking/fetch.cpp) is split here
// at every place it would wait: each arrow above is a return to the reactor and a callback
// later. The Exchange (scenarios/exchange.hpp) does all the deciding, as in every model.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "models/epoll-callbacks/reactor.hpp"
#include "scenarios/exchange.hpp"
#include "scenarios/idle_connections.hpp"

namespace rosetta::epoll_callbacks {

// What the requests of one reactor share: the reactor, the run, the connections left open,
// one read buffer (one thread: only one request reads at a time), and the first limit hit.
// With --threads every reactor has its own: only limit_hit is the run's, read once per URL.
struct Shared {
    Shared(reactor::Reactor& reactor_, const ModelRun& run_, int capacity,
           std::atomic<bool>& limit_hit_)
        : reactor(reactor_),
          run(run_),
          idle(static_cast<std::size_t>(capacity)),
          limit_hit(limit_hit_) {}
    reactor::Reactor& reactor;
    const ModelRun& run;
    IdleConnections<Fd> idle;  // kept-alive connections, at most C
    std::vector<char> buffer = std::vector<char>(std::size_t{64} * 1024);
    Failure limit;                   // LimitReached's words: no new URL starts here
    std::atomic<bool>& limit_hit;    // in any reactor of the run: no new URL starts anywhere
    std::function<void()> on_limit;  // called (if set) once a request here hit a limit
};

class Request final : public reactor::IoHandler {
public:
    enum class State { idle, connecting, sending, receiving };
    // The Fetched is the request's own, reused for its next URL: valid until fetch() is called
    // again on this request (which on_fetched may do, once it has read what it needs).
    using OnFetched = std::function<void(Request&, const Fetched&)>;

    // on_fetched runs each time a URL is done, and may call fetch() again on this request.
    Request(Shared& shared, std::uint64_t task, OnFetched on_fetched);
    ~Request();
    Request(const Request&) = delete;
    Request& operator=(const Request&) = delete;

    State state() const { return state_; }
    // Starts fetching url (every attempt, with retries). Precondition: idle.
    void fetch(std::string_view url);
    // Ends it without a record (the run is stopping): closes its connection, state idle.
    void abandon();

    void on_events(std::uint32_t events) override;

private:
    void start_attempt();
    void open_connection();
    void on_connected();
    void send_some();
    void receive_some();
    void on_deadline();
    // The try is over (failure empty: the response ended). Decides what comes next.
    void end_try(IoFailure failure);
    void want(std::uint32_t events);  // the events to wait for, registering as needed
    void unwatch();                   // no longer registered (connection_ stays open)
    void close_connection();
    // Back to the shared pool, unregistered: a connection this request did not reuse.
    void park_connection();

    Shared& shared_;
    TaskId who_;
    State state_ = State::idle;
    std::string url_;
    OnFetched on_fetched_;
    int attempt_ = 0;
    // Made for the first attempt, restarted for every later one: one per request, not per
    // attempt, so that an attempt allocates nothing (its URL, request bytes and parser reuse
    // the previous attempt's).
    std::optional<Exchange> exchange_;
    Fetched fetched_;  // the last URL's, reused likewise
    Fd connection_;
    reactor::Interest interest_;  // what connection_ is registered for
    std::size_t sent_ = 0;
    reactor::Timer deadline_;
    // Attempts that fail at once (a refused connect) end inside the call that started them;
    // past this depth the next start waits for the reactor's next turn instead of recursing.
    int depth_ = 0;
};

}  // namespace rosetta::epoll_callbacks
