// The proactor: an io_uring on the coroutine loop (models/stackless-coroutines, linked). The
// reactor says "you may now read" and the coroutine then calls recv(); the proactor is asked
// to read and says "here are the bytes": the coroutine suspends on the operation itself.
//
//     Ring ring(loop, origin);
//     Fd fd = ring.open_socket();
//     int err = co_await ring.connect(fd.get());          // 0 or an errno
//     int sent = co_await ring.send(fd.get(), bytes);     // bytes sent, or -errno
//     Received got = co_await ring.recv(fd.get());        // got.bytes(): a buffer of the ring's
//     Received reply = co_await ring.request(fd.get(), bytes);  // send, and the recv linked to it
//
// Where the waiting happens. Each operation is one submission queue entry (SQE) prepared in
// await_suspend. The loop is stackless-coroutines' (its Tasks, TaskGroup, Semaphore, timers and
// timeout_at, linked), told to sleep in the ring instead of epoll_wait (reactor::Sleeper): one
// io_uring_enter per iteration submits every entry queued since the last and waits for at least
// one completion (CQE) or the next timer; dispatch() then resumes the coroutine of each
// completion. No descriptor is in the epoll set: the kernel polls the sockets itself.
//
// Buffers. A proactor's read needs its buffer when it is submitted, not when bytes arrive: a
// buffer per pending recv would be 10,000 of them at C=10,000. The kernel's answer is a ring
// of provided buffers (IORING_OP_RECV with IOSQE_BUFFER_SELECT): it picks one when bytes
// arrive and names it in the completion; the coroutine feeds it to its parser and gives it back
// (Received's destructor). When all are taken the recv completes with ENOBUFS and is submitted
// again, without the coroutine seeing it.
//
// Deadlines. Not a linked timeout per operation (IORING_OP_LINK_TIMEOUT: an extra entry and a
// kernel timer for every send and recv, and a budget per operation where the attempt has one
// for connect + full response). The attempt's one deadline is the loop's timer, the same
// timeout_at as the coroutine model's; when it passes, the pending operation is cancelled
// (IORING_OP_ASYNC_CANCEL). The coroutine resumes only when the kernel's completion for it
// arrives (cancelled or done): until then the kernel may still write into a buffer or read the
// request, so the frame that owns them must stay.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "models/io-uring/buffers.hpp"
#include "models/stackless-coroutines/runtime.hpp"
#include "scenarios/net.hpp"

namespace rosetta::uring {

class Ring;

// One operation in the kernel, awaited. Its result: what the completion says (bytes, 0, or
// -errno); cancelled (a deadline, the strand), it throws coro::Cancelled once the kernel let go.
class Operation : public coro::Awaitable<Operation> {
public:
    enum class Kind : std::uint8_t { connect, send, recv, request };
    Operation(Ring& ring, Kind kind, int fd, std::string_view bytes = {})
        : ring_(ring), kind_(kind), fd_(fd), bytes_(bytes) {}
    ~Operation();
    bool await_ready() noexcept { return false; }
    int await_resume() {
        end_waiting();
        return result_;
    }
    void cancel() override;

protected:
    friend class Ring;
    friend Awaitable;
    bool suspend(coro::Strand& strand, std::coroutine_handle<> awaiting);
    // A completion for it: resumes the coroutine, or (ENOBUFS) submits it again.
    void complete(int result, std::uint32_t flags);

    Ring& ring_;
    Kind kind_;
    int fd_;
    std::string_view bytes_;
    std::uint32_t slot_ = 0;  // its place in the ring's table while the kernel has it; 0: none
    int sent_ = -1;           // a request: what its send completed with; -1: not yet
    int result_ = 0;
    std::uint32_t flags_ = 0;
};

class Receive final : public Operation {
public:
    Receive(Ring& ring, int fd) : Operation(ring, Kind::recv, fd) {}
    Receive(Ring& ring, int fd, std::string_view request)
        : Operation(ring, Kind::request, fd, request) {}
    Received await_resume();
};

class Ring final : public reactor::Sleeper {
public:
    // entries: the submission queue's size (completions: four times that). Throws
    // std::runtime_error naming io_uring_setup's errno when the kernel refuses.
    Ring(coro::Loop& loop, const Endpoint& origin, unsigned entries = 4096);
    // Cancels what is still in the kernel and waits (at most a second) for it to let go.
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // A TCP socket for the origin: blocking (the ring does the waiting; a non-blocking socket
    // would only make the kernel try, fail with EAGAIN and arm its own poll anyway),
    // close-on-exec, TCP_NODELAY. Empty with errno set when refused.
    Fd open_socket() const;
    Operation connect(int fd) { return {*this, Operation::Kind::connect, fd}; }
    Operation send(int fd, std::string_view bytes) {
        return {*this, Operation::Kind::send, fd, bytes};
    }
    Receive recv(int fd) { return {*this, fd}; }
    // The send of `bytes` and the recv of the reply, linked (IOSQE_IO_LINK): submitted in one
    // go, the recv started by the kernel when the send completes; the coroutine is resumed
    // once, with the reply's first bytes. A reactor needs a wait for each.
    Receive request(int fd, std::string_view bytes) { return {*this, fd, bytes}; }

    // Counted since the ring was made (the README's figures).
    struct Counts {
        std::uint64_t submitted = 0;  // entries
        std::uint64_t enters = 0;     // io_uring_enter calls that submitted them
        std::uint64_t completed = 0;
        std::uint64_t no_buffer = 0;  // recvs that found every provided buffer taken
        std::uint64_t cancelled = 0;  // cancel requests (deadlines)
    };
    const Counts& counts() const { return counts_; }

    // The loop's iteration (reactor::Sleeper): submit and wait; then resume what completed.
    void sleep(int timeout_ms) override;
    void dispatch() override;

private:
    friend class Operation;
    friend class Receive;
    io_uring_sqe* next_entry();
    void prepare(Operation& op);
    std::uint32_t take_slot(Operation& op);
    void submit_cancel(int fd);
    void submit();
    void in_flight(int change);

    coro::Loop& loop_;
    const Endpoint& origin_;
    io_uring ring_{};
    // The operations the kernel has, by slot (user_data); nullptr: its frame is gone, the
    // completion is only reaped. Slot 0 is never used: user_data 0 marks a cancel request.
    std::vector<Operation*> slots_;
    std::vector<std::uint32_t> free_slots_;
    int in_flight_ = 0;  // operations prepared and not completed (the loop is held while > 0)
    std::optional<Buffers> buffers_;  // made once the ring is; gone before it
    Counts counts_;
};

}  // namespace rosetta::uring
