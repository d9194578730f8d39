#pragma once
// context: a runner's persistent key/value store, visible to Lua as `ctx`.
//
// Holds only Lua-compatible scalars (boolean, integer, float, string). Values survive strategy
// calls, script reloads and (with the journal) restarts. Keys are strings.
//
// Thread-safety: must only be used by its runner thread.
//
// An observer (the runner's journal) is told of every set/erase/clear, before the call returns.
// Copying or moving a context copies its entries only: the destination keeps its own observer,
// so replacing a runner's ctx wholesale (a reload, a restore) notifies nobody; whoever does that
// records it.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tradingd/core/scalar.hpp>

namespace tradingd::strategy {

/// Told of each change to a context it observes.
class context_observer {
public:
    virtual ~context_observer() = default;
    /// `value` is null for an erase.
    virtual void on_ctx_change(std::string_view key, const scalar* value) noexcept = 0;
    virtual void on_ctx_clear() noexcept = 0;
};

class context {
public:
    context() = default;
    context(const context& o) : entries_(o.entries_) {}
    context(context&& o) noexcept : entries_(std::move(o.entries_)) {}
    context& operator=(const context& o) {
        if (this != &o) entries_ = o.entries_;
        return *this;
    }
    context& operator=(context&& o) noexcept {
        entries_ = std::move(o.entries_);
        return *this;
    }
    ~context() = default;

    /// Null detaches. The observer must outlive the context or be detached first.
    void set_observer(context_observer* o) noexcept { observer_ = o; }

    /// Inserts or replaces a value.
    void set(std::string_view key, scalar value);
    /// Removes a key (Lua `ctx.k = nil`). Returns whether it existed.
    bool erase(std::string_view key);
    const scalar* get(std::string_view key) const noexcept;
    std::size_t size() const noexcept { return entries_.size(); }
    void clear() noexcept {
        entries_.clear();
        if (observer_ != nullptr) observer_->on_ctx_clear();
    }
    /// Entries in insertion order.
    const std::vector<std::pair<std::string, scalar>>& entries() const noexcept { return entries_; }

    friend bool operator==(const context& a, const context& b) { return a.entries_ == b.entries_; }

private:
    std::vector<std::pair<std::string, scalar>> entries_;
    context_observer* observer_ = nullptr;
};

}  // namespace tradingd::strategy
