// The proactor's ring on its own (models/io-uring/ring.hpp), on socket pairs: a recv completes
// with the bytes in a buffer of the ring's and gives it back; a deadline cancels a recv the
// kernel still has, and the coroutine resumes only once the kernel let go; more recvs complete
// at once than there are buffers (the ones that found none are submitted again); and after
// every run the loop ends on its own, no operation in flight, no frame alive.
#include "models/io-uring/ring.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "scenarios/records.hpp"
#include "socket_pair.hpp"

using namespace rosetta;
using namespace rosetta::coro;

namespace {

constexpr std::int64_t ms = 1'000'000;

// Blocking, as the ring's own sockets are (Ring::open_socket).
struct Pair : test::SocketPair {
    Pair() : SocketPair(Mode::blocking) {}
};

const Endpoint unused_origin{};

Task<std::string> receive_once(uring::Ring& ring, const Fd& fd) {
    uring::Received got = co_await ring.recv(fd.get());
    co_return std::string(got.bytes());
}

Task<int> send_text(uring::Ring& ring, const Fd& fd, std::string text) {
    co_return co_await ring.send(fd.get(), text);
}

Task<std::string> exchange(uring::Ring& ring, Pair& pair) {
    int sent = co_await send_text(ring, pair.b, "hello");
    if (sent != 5) throw std::runtime_error("short send");
    co_return co_await receive_once(ring, pair.a);
}

TEST(Ring, sends_and_receives_through_the_kernel_and_counts_one_submission_each) {
    long frames_before = frames::counts().alive;
    Loop loop;
    uring::Ring ring(loop, unused_origin);
    Pair pair;
    EXPECT_EQ(loop.run(exchange(ring, pair)), "hello");
    EXPECT_EQ(ring.counts().completed, 2u);
    EXPECT_EQ(ring.counts().submitted, 2u);
    EXPECT_EQ(frames::counts().alive, frames_before);
}

TEST(Ring, reports_the_peers_close_as_an_empty_receive) {
    Loop loop;
    uring::Ring ring(loop, unused_origin);
    Pair pair;
    pair.b.reset();
    EXPECT_EQ(loop.run(receive_once(ring, pair.a)), "");
}

Task<std::pair<int, std::string>> request(uring::Ring& ring, const Fd& fd, std::string text) {
    uring::Received reply = co_await ring.request(fd.get(), text);
    co_return std::pair{reply.sent(), std::string(reply.bytes())};
}

TEST(Ring, sends_a_request_and_receives_its_reply_in_one_wait_the_two_linked) {
    Loop loop;
    uring::Ring ring(loop, unused_origin);
    Pair pair;
    ASSERT_EQ(::write(pair.b.get(), "reply", 5), 5);  // already there when the recv starts
    auto [sent, reply] = loop.run(request(ring, pair.a, "hello"));
    EXPECT_EQ(sent, 5);
    EXPECT_EQ(reply, "reply");
    char got[8] = {};
    ASSERT_EQ(::read(pair.b.get(), got, sizeof got), 5);
    EXPECT_EQ(std::string(got), "hello");
    EXPECT_EQ(ring.counts().completed, 2u) << "the send and the recv";
    EXPECT_EQ(ring.counts().enters, 1u) << "both submitted, and waited for, in one system call";
}

Task<bool> receive_before(uring::Ring& ring, const Fd& fd, std::int64_t deadline) {
    std::optional<std::string> got = co_await timeout_at(deadline, receive_once(ring, fd));
    co_return got.has_value();
}

TEST(Ring, cancels_a_receive_at_its_deadline_and_resumes_once_the_kernel_let_go) {
    long frames_before = frames::counts().alive;
    Loop loop;
    uring::Ring ring(loop, unused_origin);
    Pair pair;  // nothing is ever sent
    std::int64_t start = monotonic_ns();
    EXPECT_FALSE(loop.run(receive_before(ring, pair.a, loop.now() + 50 * ms)));
    std::int64_t took = monotonic_ns() - start;
    EXPECT_GE(took, 45 * ms);
    EXPECT_LT(took, 2'000 * ms);
    EXPECT_EQ(ring.counts().cancelled, 1u);
    // The recv's own completion (cancelled) was reaped before the loop could end.
    EXPECT_EQ(ring.counts().completed, 2u) << "the recv and the cancel request";
    EXPECT_EQ(frames::counts().alive, frames_before);
}

Task<void> receive_into(uring::Ring& ring, const Fd& fd, std::string& into) {
    into = co_await receive_once(ring, fd);
}

Task<void> receive_all(Loop& loop, uring::Ring& ring, std::vector<Pair>& pairs,
                       std::vector<std::string>& got) {
    TaskGroup group(loop);
    for (std::size_t i = 0; i < pairs.size(); ++i)
        group.spawn(receive_into(ring, pairs[i].a, got[i]));
    co_await group.join();
}

TEST(Ring, completes_more_receives_at_once_than_it_has_buffers) {
    constexpr std::size_t n = 700;  // the ring has 512 buffers
    Loop loop;
    uring::Ring ring(loop, unused_origin);
    std::vector<Pair> pairs(n);
    std::vector<std::string> got(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::string text = "page " + std::to_string(i);
        ASSERT_EQ(::write(pairs[i].b.get(), text.data(), text.size()),
                  static_cast<ssize_t>(text.size()));
    }
    loop.run(receive_all(loop, ring, pairs, got));
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(got[i], "page " + std::to_string(i));
    EXPECT_GE(ring.counts().completed, n);
    EXPECT_EQ(ring.counts().completed, n + ring.counts().no_buffer);
    EXPECT_GT(ring.counts().no_buffer, 0u) << "all 700 were ready at once: 188 found no buffer";
}

}  // namespace
