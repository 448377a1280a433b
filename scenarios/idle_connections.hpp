// Kept-alive connections waiting for the next task of one thread (no lock: the event-driven
// models' tasks share a thread). The last one given back is the first taken: it was used most
// recently, so it is the likeliest to be still open. At most `capacity` are kept; one given
// back beyond that, or empty, is dropped (closed by its destructor).
#pragma once

#include <cstddef>
#include <vector>

namespace rosetta {

template <class Connection>  // a std::unique_ptr to a socket, or an Fd: empty means none
class IdleConnections {
public:
    explicit IdleConnections(std::size_t capacity) : capacity_(capacity) {}

    Connection take() {
        if (idle_.empty()) return Connection();
        Connection connection = std::move(idle_.back());
        idle_.pop_back();
        return connection;
    }
    void give(Connection connection) {
        if (connection && idle_.size() < capacity_) idle_.push_back(std::move(connection));
    }
    std::size_t size() const { return idle_.size(); }

private:
    std::vector<Connection> idle_;
    std::size_t capacity_;
};

}  // namespace rosetta
