// Fiber stacks: mapped once, a guard page below each, handed out again when a fiber ends.
//
// A fiber runs on a stack of its own, like a thread, but nothing in the kernel knows of it:
// the memory is ours to choose. 64 KiB of address space a fiber, of which a fetch touches a
// few pages (the read buffer is the hub's, not the stack's; see README.md); a PROT_NONE page
// below it, so running off the end faults at once instead of writing over the neighbour's
// stack. An ended fiber's stack goes back to a free list and stays resident: the next fiber
// finds its pages already faulted in (on this VM a page fault costs ~50 us; thread-per-task
// learned the same). Every stack is unmapped when the pool goes.
//
// Each stack is two mappings for the kernel (the guard and the stack), so a process holds at
// most vm.max_map_count / 2 of them (65,530 here: 32,000 fibers, more than the descriptor limit
// lets a model use). A refused map is a std::system_error naming the limit.
#pragma once

#include <boost/context/stack_context.hpp>
#include <cstddef>
#include <vector>

namespace rosetta::fibers {

class StackPool {
public:
    // 64 KiB; ThreadSanitizer's instrumentation needs more room on each.
#if defined(__SANITIZE_THREAD__)
    static constexpr std::size_t default_bytes = std::size_t{256} * 1024;
#else
    static constexpr std::size_t default_bytes = std::size_t{64} * 1024;
#endif
    static constexpr std::size_t guard_bytes = 4096;

    explicit StackPool(std::size_t bytes = default_bytes) : bytes_(bytes) {}
    ~StackPool();
    StackPool(const StackPool&) = delete;
    StackPool& operator=(const StackPool&) = delete;

    boost::context::stack_context take();
    void give(boost::context::stack_context& stack);

    std::size_t stack_bytes() const { return bytes_; }
    std::size_t mapped() const { return mapped_.size(); }  // stacks made so far
    std::size_t idle() const { return idle_.size(); }      // of those, waiting for a fiber

    // Boost.Context's StackAllocator, drawing on a pool that outlives every fiber using it.
    class Allocator {
    public:
        explicit Allocator(StackPool& pool) : pool_(&pool) {}
        boost::context::stack_context allocate() { return pool_->take(); }
        void deallocate(boost::context::stack_context& stack) { pool_->give(stack); }

    private:
        StackPool* pool_;
    };
    Allocator allocator() { return Allocator(*this); }

private:
    std::size_t bytes_;
    std::vector<void*> mapped_;  // the base of each mapping (its guard page)
    std::vector<boost::context::stack_context> idle_;
};

}  // namespace rosetta::fibers
