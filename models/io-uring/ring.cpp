#include "models/io-uring/ring.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "scenarios/records.hpp"

namespace rosetta::uring {

namespace {

// Completions handed out in one iteration at most; the rest wait for the next, which does not
// sleep. Without a bound, 10,000 responses that arrive together would each start a request
// that is submitted only once the last was handled (p99 1.17–1.26 s at C=10,000, against
// 1.10–1.16 s with 256). The reactor fetches at most 1,024 events a wait.
constexpr unsigned completions_per_iteration = 256;
// io_uring_get_events calls at most after a wait, to run the kernel's deferred completions.
constexpr int deferred_rounds = 1024;

// Cancel requests carry user_data 0: their own completions are only reaped.
constexpr std::uint64_t cancel_request = 0;
// The send half of a request carries its operation's slot with this bit: its completion is
// noted (Operation::sent_), and the operation resumed by its recv half's.
constexpr std::uint64_t send_half = std::uint64_t{1} << 63;

[[noreturn]] void fail(const char* what, int err) {
    throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

// ---- Operation ------------------------------------------------------------------------------

Operation::~Operation() {
    // Its frame is going while the kernel still has it (the strand was destroyed where it
    // waited, not cancelled): the ring forgets it and cancels it.
    if (slot_ != 0) {
        ring_.slots_[slot_] = nullptr;
        ring_.submit_cancel(fd_);
    }
}

bool Operation::suspend(coro::Strand& strand, std::coroutine_handle<> awaiting) {
    if (!start_waiting(strand, awaiting)) return false;
    ring_.prepare(*this);
    return true;
}

void Operation::cancel() {
    if (cancelled) return;
    cancelled = true;
    ++ring_.counts_.cancelled;
    // Resumed by the completion, not now: until it arrives the kernel may use our memory.
    if (slot_ != 0) ring_.submit_cancel(fd_);
}

void Operation::complete(int result, std::uint32_t flags) {
    if (result == -ENOBUFS && (kind_ == Kind::recv || kind_ == Kind::request) && !cancelled) {
        ++ring_.counts_.no_buffer;
        ring_.prepare(*this);
        return;
    }
    result_ = result;
    flags_ = flags;
    if (cancelled && (flags & IORING_CQE_F_BUFFER)) {  // bytes of a wait that ended: dropped
        ring_.buffers_->give_back(static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT));
        flags_ = 0;
    }
    handle.resume();  // it may destroy this operation: nothing after
}

Received Receive::await_resume() {
    end_waiting();
    return {*ring_.buffers_, result_, flags_, kind_ == Kind::request ? sent_ : 0};
}

// ---- Ring -----------------------------------------------------------------------------------

Ring::Ring(coro::Loop& loop, const Endpoint& origin, unsigned entries)
    : loop_(loop), origin_(origin), slots_(1, nullptr) {
    io_uring_params params{};
    // Room for a completion of every operation C=19,000 can have in flight, and more. The
    // kernel's part of a completion runs when this thread next enters io_uring_enter (which it
    // does once an iteration) rather than interrupting it: DEFER_TASKRUN, for a ring used by
    // one thread only (SINGLE_ISSUER). Kernels before 6.1 refuse them: then without.
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                   IORING_SETUP_TASKRUN_FLAG;
    params.cq_entries = entries * 8;
    int rc = io_uring_queue_init_params(entries, &ring_, &params);
    if (rc == -EINVAL) {
        params = {};
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = entries * 8;
        rc = io_uring_queue_init_params(entries, &ring_, &params);
    }
    if (rc < 0) fail("io_uring_setup", -rc);
    try {
        buffers_.emplace(ring_);
    } catch (...) {
        io_uring_queue_exit(&ring_);
        throw;
    }
    loop_.reactor().sleep_in(this);
}

Ring::~Ring() {
    // Normally nothing is left: every operation completed before its coroutine could end. What
    // is (a run stopped by an exception) is cancelled, and waited for, so that no completion
    // names memory that is gone.
    const bool held = in_flight_ > 0;
    for (std::uint32_t slot = 1; slot < slots_.size(); ++slot) {
        if (Operation* op = slots_[slot]) op->slot_ = 0;
        slots_[slot] = nullptr;
    }
    if (in_flight_ > 0) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (!sqe) {
            io_uring_submit(&ring_);
            sqe = io_uring_get_sqe(&ring_);
        }
        if (sqe) {
            io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data64(sqe, cancel_request);
        }
        io_uring_submit(&ring_);
        const std::int64_t deadline = monotonic_ns() + 1'000'000'000;
        while (in_flight_ > 0 && monotonic_ns() < deadline) {
            __kernel_timespec wait{0, 10'000'000};
            io_uring_cqe* cqe = nullptr;
            if (io_uring_wait_cqe_timeout(&ring_, &cqe, &wait) != 0 || !cqe) continue;
            if (cqe->user_data != cancel_request) --in_flight_;
            io_uring_cqe_seen(&ring_, cqe);
        }
    }
    loop_.reactor().sleep_in(nullptr);
    if (held) loop_.reactor().release();
    buffers_.reset();
    io_uring_queue_exit(&ring_);
}

Fd Ring::open_socket() const {
    Fd fd(::socket(origin_.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// The next free entry of the submission queue. The queue full (thousands of connects started
// in one iteration), what is in it is submitted now.
io_uring_sqe* Ring::next_entry() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
        submit();
        sqe = io_uring_get_sqe(&ring_);
        if (!sqe) throw std::runtime_error("io_uring: the submission queue stays full");
    }
    return sqe;
}

void Ring::prepare(Operation& op) {
    if (op.kind_ == Operation::Kind::request && op.sent_ < 0) {  // the send half, first
        if (op.slot_ == 0) op.slot_ = take_slot(op);
        io_uring_sqe* sqe = next_entry();
        io_uring_prep_send(sqe, op.fd_, op.bytes_.data(), op.bytes_.size(), MSG_NOSIGNAL);
        sqe->flags |= IOSQE_IO_LINK;
        io_uring_sqe_set_data64(sqe, op.slot_ | send_half);
        in_flight(+1);
    }
    io_uring_sqe* sqe = next_entry();
    switch (op.kind_) {
        case Operation::Kind::connect:
            io_uring_prep_connect(sqe, op.fd_, reinterpret_cast<const sockaddr*>(&origin_.address),
                                  origin_.length);
            break;
        case Operation::Kind::send:
            io_uring_prep_send(sqe, op.fd_, op.bytes_.data(), op.bytes_.size(), MSG_NOSIGNAL);
            break;
        case Operation::Kind::recv:
        case Operation::Kind::request:
            io_uring_prep_recv(sqe, op.fd_, nullptr, Buffers::bytes_each, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = Buffers::group;
            break;
    }
    if (op.slot_ == 0) op.slot_ = take_slot(op);
    io_uring_sqe_set_data64(sqe, op.slot_);
    in_flight(+1);
}

std::uint32_t Ring::take_slot(Operation& op) {
    std::uint32_t slot;
    if (free_slots_.empty()) {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.push_back(nullptr);
    } else {
        slot = free_slots_.back();
        free_slots_.pop_back();
    }
    slots_[slot] = &op;
    return slot;
}

// Everything of ours on the descriptor (each has one operation, or one request's two halves,
// at a time): cancelling a request's send cancels the recv linked to it as well.
void Ring::submit_cancel(int fd) {
    io_uring_sqe* sqe = next_entry();
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, cancel_request);
}

// Only when the submission queue is full; otherwise sleep() submits.
void Ring::submit() {
    int rc = io_uring_submit(&ring_);
    ++counts_.enters;
    if (rc >= 0) {
        counts_.submitted += static_cast<unsigned>(rc);
    } else if (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
        fail("io_uring_enter", -rc);
    }  // else the kernel is short of room for completions: the next sleep() submits them
}

void Ring::sleep(int timeout_ms) {
    if (io_uring_cq_ready(&ring_) > 0) timeout_ms = 0;  // completions left from the last one
    __kernel_timespec timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
    io_uring_cqe* cqe = nullptr;
    int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ms < 0 ? nullptr : &timeout,
                                              nullptr);
    ++counts_.enters;
    if (rc >= 0) {
        counts_.submitted += static_cast<unsigned>(rc);
    } else if (rc != -ETIME && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) {
        fail("io_uring_enter", -rc);
    }
    // With DEFER_TASKRUN the kernel finishes an operation (a connect whose handshake is done,
    // a recv whose bytes arrived) only when this thread enters io_uring_enter, and one wait
    // finishes a few dozen: the rest stayed deferred, and at C=10,000 a connect took 100 ms
    // from its submission to its completion instead of 2.5 ms. IORING_SQ_TASKRUN says some
    // are still waiting; they are finished here, without sleeping.
    for (int round = 0;
         round < deferred_rounds && (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN);
         ++round) {
        io_uring_get_events(&ring_);
        ++counts_.enters;
    }
}

// The loop is kept running (reactor hold) while the kernel has operations of ours.
void Ring::in_flight(int change) {
    const bool had = in_flight_ > 0;
    in_flight_ += change;
    if (!had && in_flight_ > 0) loop_.reactor().hold();
    if (had && in_flight_ == 0) loop_.reactor().release();
}

// The completions that are there now, each resuming its coroutine right here (the reactor
// resumes a socket's coroutine the same way); what they ask for is submitted by the next
// sleep. (Submitting every 32 entries instead, so that a batch of 10,000 completions does not
// hold the requests they start until the last is handled, was slower: 8,300 against 9,000
// req/s at C=10,000, p99 1.23 against 1.14 s.)
void Ring::dispatch() {
    for (unsigned ready = std::min(io_uring_cq_ready(&ring_), completions_per_iteration); ready > 0;
         --ready) {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_peek_cqe(&ring_, &cqe) != 0 || !cqe) break;
        const std::uint64_t slot = cqe->user_data;
        const int result = cqe->res;
        const std::uint32_t flags = cqe->flags;
        io_uring_cqe_seen(&ring_, cqe);
        ++counts_.completed;
        if (slot == cancel_request) continue;
        if (slot & send_half) {  // its recv half completes next (or is cancelled by the link)
            in_flight(-1);
            if (Operation* op = slots_[slot & ~send_half]) op->sent_ = result;
            continue;
        }
        Operation* op = slots_[slot];
        slots_[slot] = nullptr;
        free_slots_.push_back(static_cast<std::uint32_t>(slot));
        in_flight(-1);
        if (!op) {  // its frame is gone: only a buffer to give back
            if (flags & IORING_CQE_F_BUFFER)
                buffers_->give_back(static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT));
            continue;
        }
        op->slot_ = 0;
        op->complete(result, flags);
    }
}

}  // namespace rosetta::uring
