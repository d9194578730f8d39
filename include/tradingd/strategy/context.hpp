#pragma once
// context: a runner's persistent key/value store, visible to Lua as `ctx`.
//
// Holds only Lua-compatible scalars (boolean, integer, float, string). Values survive strategy
// calls, script reloads and (with the journal) restarts. Keys are strings.
//
// Thread-safety: must only be used by its runner thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tradingd/core/scalar.hpp>

namespace tradingd::strategy {

class context {
public:
    /// Inserts or replaces a value.
    void set(std::string_view key, scalar value);
    /// Removes a key (Lua `ctx.k = nil`). Returns whether it existed.
    bool erase(std::string_view key);
    const scalar* get(std::string_view key) const noexcept;
    std::size_t size() const noexcept { return entries_.size(); }
    void clear() noexcept { entries_.clear(); }
    /// Entries in insertion order.
    const std::vector<std::pair<std::string, scalar>>& entries() const noexcept { return entries_; }

private:
    std::vector<std::pair<std::string, scalar>> entries_;
};

}  // namespace tradingd::strategy
