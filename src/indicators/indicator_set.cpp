#include <cassert>
#include <memory>
#include <stdexcept>

#include <tradingd/indicators/indicator_set.hpp>

#include "atr.hpp"
#include "bollinger.hpp"
#include "ema.hpp"
#include "extremum.hpp"
#include "indicator_base.hpp"
#include "macd.hpp"
#include "rsi.hpp"
#include "sma.hpp"
#include "stddev.hpp"

namespace tradingd::indicators {

struct indicator_set::item {
    indicator_spec spec;
    std::unique_ptr<detail::indicator_base> impl;
};

namespace {

std::unique_ptr<detail::indicator_base> make_indicator(const indicator_spec& s) {
    const auto n = static_cast<std::size_t>(s.n1);
    switch (s.kind) {
        case indicator_kind::sma:
            return std::make_unique<detail::sma>(n);
        case indicator_kind::ema:
            return std::make_unique<detail::ema>(s.n1);
        case indicator_kind::rsi:
            return std::make_unique<detail::rsi>(s.n1);
        case indicator_kind::macd:
            return std::make_unique<detail::macd>(s.n1, s.n2, s.n3);
        case indicator_kind::bollinger:
            return std::make_unique<detail::bollinger>(n, s.k);
        case indicator_kind::atr:
            return std::make_unique<detail::atr>(s.n1);
        case indicator_kind::highest:
            return std::make_unique<detail::extremum>(n, detail::extremum::side::highest);
        case indicator_kind::lowest:
            return std::make_unique<detail::extremum>(n, detail::extremum::side::lowest);
        case indicator_kind::stddev:
            return std::make_unique<detail::stddev>(n);
    }
    throw std::invalid_argument("indicator_set: unknown indicator kind");
}

}  // namespace

indicator_set::indicator_set(const market::market_data_window& window) : window_(window) {}

indicator_set::~indicator_set() = default;

std::size_t indicator_set::get_or_create(const indicator_spec& spec) {
    if (auto h = find(spec)) return *h;
    // Re-validate: a hand-built spec with a zero period would otherwise index an empty ring.
    auto checked = make_spec(spec.kind, spec.n1, spec.n2, spec.n3, spec.k);
    if (!checked) throw std::invalid_argument(checked.error_message());
    if (!(checked.value() == spec)) {
        throw std::invalid_argument(
            std::string(kind_name(spec.kind)) +
            ": spec has non-zero unused parameters (build it with make_spec)");
    }
    auto impl = make_indicator(spec);
    window_.for_each_oldest_first(window_.size(), [&](const candle& c) { impl->update(c); });
    specs_.reserve(items_.size() + 1);  // so the push_back below cannot throw after items_ grew
    items_.push_back(std::make_unique<item>(item{spec, std::move(impl)}));
    specs_.push_back(spec);
    return items_.size() - 1;
}

std::optional<std::size_t> indicator_set::find(const indicator_spec& spec) const noexcept {
    // Scans the contiguous copy of the specs: this runs on every ind.* call from Lua.
    for (std::size_t i = 0; i < specs_.size(); ++i) {
        if (specs_[i] == spec) return i;
    }
    return std::nullopt;
}

const indicator_value& indicator_set::value(std::size_t handle) const noexcept {
    assert(handle < items_.size());
    return items_[handle]->impl->value();
}

void indicator_set::on_closed(const candle& c) noexcept {
    for (const auto& it : items_)
        it->impl->update(c);
}

}  // namespace tradingd::indicators
