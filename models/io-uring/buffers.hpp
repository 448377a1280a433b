// The ring's provided buffers (IORING_OP_RECV with IOSQE_BUFFER_SELECT): the kernel picks one
// when a recv's bytes arrive and names it in the completion; whoever holds the bytes gives it
// back (Received's destructor) and the kernel may pick it again. See ring.hpp, "Buffers".
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rosetta::uring {

class Buffers {
public:
    // A page and its headers (16 KiB and ~150 bytes by default) in one recv. How many: enough
    // for the completions of one busy iteration; a recv that finds none left is submitted again
    // (Ring::Counts::no_buffer), so the count is a speed, not a limit. 512 of them: 16 MiB of
    // address space, resident as the kernel cycles through them.
    static constexpr unsigned bytes_each = 32 * 1024;
    static constexpr unsigned count = 512;  // a power of two, as the kernel requires
    static constexpr unsigned short group = 0;

    // Maps them and registers them with `ring`, all given to the kernel. Throws
    // std::system_error naming the call the kernel refused.
    explicit Buffers(io_uring& ring);
    ~Buffers();  // unregisters and unmaps (before the ring itself goes)
    Buffers(const Buffers&) = delete;
    Buffers& operator=(const Buffers&) = delete;

    // The first `length` bytes of buffer `id`, as a completion named it.
    std::string_view bytes(int id, std::size_t length) const;
    // Buffer `id` is the kernel's again.
    void give_back(int id);

private:
    io_uring& ring_;
    io_uring_buf_ring* ring_entries_ = nullptr;  // the ring of buffer addresses the kernel reads
    char* memory_ = nullptr;                     // count × bytes_each, one mapping
};

// What a recv brought: a buffer of the ring's, given back when this is destroyed. Empty at
// end of stream (the peer closed); error() is the errno of a failed recv. After a request,
// sent() is what its send completed with (bytes, or -errno); a send that failed or took fewer
// bytes than asked ends the link, and the recv did not run (error() ECANCELED).
class Received {
public:
    Received(Buffers& buffers, int result, std::uint32_t flags, int sent = 0);
    ~Received();
    Received(Received&& other) noexcept;
    Received(const Received&) = delete;
    Received& operator=(const Received&) = delete;
    Received& operator=(Received&&) = delete;
    std::string_view bytes() const { return bytes_; }
    int error() const { return error_; }
    int sent() const { return sent_; }

private:
    Buffers* buffers_;
    std::string_view bytes_;
    int buffer_ = -1;
    int error_ = 0;
    int sent_ = 0;
};

}  // namespace rosetta::uring
