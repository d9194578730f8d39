#pragma once
// result<T>: a value or an error message, for expected failures on paths that must not throw
// (the per-event hot path, Lua calls, feed parsing). Setup code throws instead.

#include <string>
#include <utility>
#include <variant>

namespace tradingd {

/// An expected failure, described for a human (names the file/field/symbol and the reason).
struct error {
    std::string message;
};

template <class T>
class [[nodiscard]] result {
public:
    result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    result(error e) : v_(std::move(e)) {}      // NOLINT: implicit by design
    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const std::string& error_message() const { return std::get<1>(v_).message; }

private:
    std::variant<T, error> v_;
};

}  // namespace tradingd
