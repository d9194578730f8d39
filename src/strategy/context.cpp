#include <algorithm>

#include <tradingd/strategy/context.hpp>

namespace tradingd::strategy {

namespace {

// Contexts hold a handful of keys, so a linear scan over a contiguous vector beats a map and
// keeps insertion order for free.
template <class Entries>
auto find_key(Entries& entries, std::string_view key) noexcept {
    return std::find_if(entries.begin(), entries.end(),
                        [key](const auto& e) { return e.first == key; });
}

}  // namespace

void context::set(std::string_view key, scalar value) {
    const auto it = find_key(entries_, key);
    if (it != entries_.end()) {
        it->second = std::move(value);
        if (observer_ != nullptr) observer_->on_ctx_change(key, &it->second);
        return;
    }
    entries_.emplace_back(std::string(key), std::move(value));
    if (observer_ != nullptr) observer_->on_ctx_change(key, &entries_.back().second);
}

bool context::erase(std::string_view key) {
    const auto it = find_key(entries_, key);
    if (it == entries_.end()) return false;
    entries_.erase(it);  // not swap-and-pop: insertion order is part of the contract
    if (observer_ != nullptr) observer_->on_ctx_change(key, nullptr);
    return true;
}

const scalar* context::get(std::string_view key) const noexcept {
    const auto it = find_key(entries_, key);
    return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace tradingd::strategy
