#include "models/stackful-fibers/stacks.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <system_error>

namespace rosetta::fibers {

StackPool::~StackPool() {
    for (void* base : mapped_) ::munmap(base, guard_bytes + bytes_);
}

boost::context::stack_context StackPool::take() {
    if (!idle_.empty()) {
        boost::context::stack_context stack = idle_.back();
        idle_.pop_back();
        return stack;
    }
    mapped_.reserve(mapped_.size() + 1);  // nothing can throw between the map and its record
    void* base = ::mmap(nullptr, guard_bytes + bytes_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        throw std::system_error(errno, std::generic_category(), "fiber stack: mmap");
    if (::mprotect(base, guard_bytes, PROT_NONE) != 0) {  // the lowest page: stacks grow down
        const int err = errno;
        ::munmap(base, guard_bytes + bytes_);
        throw std::system_error(err, std::generic_category(),
                                "fiber stack: guard page (vm.max_map_count)");
    }
    mapped_.push_back(base);
    idle_.reserve(mapped_.size());  // so give(), called as a fiber ends, never allocates
    boost::context::stack_context stack;
    stack.size = bytes_;
    stack.sp = static_cast<char*>(base) + guard_bytes + bytes_;  // the top: it grows down
    return stack;
}

void StackPool::give(boost::context::stack_context& stack) { idle_.push_back(stack); }

}  // namespace rosetta::fibers
