#include "models/io-uring/buffers.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace rosetta::uring {

namespace {

constexpr std::size_t entries_size = Buffers::count * sizeof(io_uring_buf);
constexpr std::size_t memory_size = std::size_t{Buffers::count} * Buffers::bytes_each;

}  // namespace

Buffers::Buffers(io_uring& ring) : ring_(ring) {
    void* entries =
        ::mmap(nullptr, entries_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* memory =
        ::mmap(nullptr, memory_size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(entries);
    registration.ring_entries = count;
    registration.bgid = group;
    const int rc = entries == MAP_FAILED || memory == MAP_FAILED
                       ? -ENOMEM
                       : io_uring_register_buf_ring(&ring_, &registration, 0);
    if (rc < 0) {
        if (entries != MAP_FAILED) ::munmap(entries, entries_size);
        if (memory != MAP_FAILED) ::munmap(memory, memory_size);
        throw std::system_error(-rc, std::generic_category(), "io_uring_register_buf_ring");
    }
    ring_entries_ = static_cast<io_uring_buf_ring*>(entries);
    memory_ = static_cast<char*>(memory);
    io_uring_buf_ring_init(ring_entries_);
    for (unsigned id = 0; id < count; ++id)
        io_uring_buf_ring_add(ring_entries_, memory_ + std::size_t{id} * bytes_each, bytes_each,
                              static_cast<unsigned short>(id), io_uring_buf_ring_mask(count),
                              static_cast<int>(id));
    io_uring_buf_ring_advance(ring_entries_, count);
}

Buffers::~Buffers() {
    io_uring_unregister_buf_ring(&ring_, group);
    ::munmap(ring_entries_, entries_size);
    ::munmap(memory_, memory_size);
}

std::string_view Buffers::bytes(int id, std::size_t length) const {
    return {memory_ + static_cast<std::size_t>(id) * bytes_each, length};
}

void Buffers::give_back(int id) {
    io_uring_buf_ring_add(ring_entries_, memory_ + static_cast<std::size_t>(id) * bytes_each,
                          bytes_each, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(ring_entries_, 1);
}

// ---- Received ------------------------------------------------------------------------------

Received::Received(Buffers& buffers, int result, std::uint32_t flags, int sent)
    : buffers_(&buffers), sent_(sent) {
    if (result < 0) {
        error_ = -result;
    } else if (flags & IORING_CQE_F_BUFFER) {
        buffer_ = static_cast<int>(flags >> IORING_CQE_BUFFER_SHIFT);
        bytes_ = buffers.bytes(buffer_, static_cast<std::size_t>(result));
    }
}

Received::Received(Received&& other) noexcept
    : buffers_(other.buffers_),
      bytes_(other.bytes_),
      buffer_(std::exchange(other.buffer_, -1)),
      error_(other.error_),
      sent_(other.sent_) {}

Received::~Received() {
    if (buffer_ >= 0) buffers_->give_back(buffer_);
}

}  // namespace rosetta::uring
