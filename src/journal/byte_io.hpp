#pragma once
// Little-endian field writer/reader shared by records and snapshots. The reader never reads past
// its input: a short or malformed field sets a sticky failure, and every later read returns zero
// values, so a decoder checks ok() once at the end.

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <tradingd/core/scalar.hpp>
#include <tradingd/exec/paper_broker.hpp>
#include <tradingd/journal/record.hpp>

namespace tradingd::journal::detail {

static_assert(std::endian::native == std::endian::little, "the journal format is little-endian");

class byte_writer {
public:
    explicit byte_writer(std::string& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u32(std::uint32_t v) { raw(&v, sizeof v); }
    void u64(std::uint64_t v) { raw(&v, sizeof v); }
    void i64(std::int64_t v) { raw(&v, sizeof v); }
    void f64(double v) { raw(&v, sizeof v); }
    void str(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        out_.append(s.data(), s.size());
    }
    void opt(const std::optional<double>& v) {
        u8(v ? 1 : 0);
        if (v) f64(*v);
    }
    void value(const scalar& v) {
        u8(static_cast<std::uint8_t>(v.index()));
        if (const auto* b = std::get_if<bool>(&v)) {
            u8(*b ? 1 : 0);
        } else if (const auto* i = std::get_if<std::int64_t>(&v)) {
            i64(*i);
        } else if (const auto* d = std::get_if<double>(&v)) {
            f64(*d);
        } else {
            str(std::get<std::string>(v));
        }
    }
    void entries(const ctx_entries& e) {
        u32(static_cast<std::uint32_t>(e.size()));
        for (const auto& [k, v] : e) {
            str(k);
            value(v);
        }
    }
    void fill(const exec::fill& f) {
        u8(static_cast<std::uint8_t>(f.side));
        f64(f.quantity);
        f64(f.price);
        f64(f.fee);
        i64(f.ts);
    }

private:
    void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    std::string& out_;
};

class byte_reader {
public:
    explicit byte_reader(std::string_view in) : in_(in) {}

    bool ok() const noexcept { return problem_.empty(); }
    const std::string& problem() const noexcept { return problem_; }
    bool at_end() const noexcept { return pos_ == in_.size(); }
    std::size_t remaining() const noexcept { return in_.size() - pos_; }
    std::size_t position() const noexcept { return pos_; }

    std::uint8_t u8() {
        std::uint8_t v = 0;
        raw(&v, sizeof v, "u8");
        return v;
    }
    std::uint32_t u32() {
        std::uint32_t v = 0;
        raw(&v, sizeof v, "u32");
        return v;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        raw(&v, sizeof v, "u64");
        return v;
    }
    std::int64_t i64() {
        std::int64_t v = 0;
        raw(&v, sizeof v, "i64");
        return v;
    }
    double f64() {
        double v = 0;
        raw(&v, sizeof v, "f64");
        return v;
    }
    std::string_view str() {
        const std::uint32_t n = u32();
        if (!ok() || n > remaining()) {
            fail("string of " + std::to_string(n) + " bytes");
            return {};
        }
        const std::string_view s = in_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    std::optional<double> opt() {
        const std::uint8_t present = u8();
        if (present > 1) fail("optional flag " + std::to_string(present));
        if (present != 1) return std::nullopt;
        return f64();
    }
    scalar value() {
        switch (u8()) {
            case 0:
                return u8() != 0;
            case 1:
                return i64();
            case 2:
                return f64();
            case 3:
                return std::string(str());
            default:
                fail("scalar tag");
                return false;
        }
    }
    ctx_entries entries() {
        const std::uint32_t n = u32();
        ctx_entries e;
        // Each entry takes at least 6 bytes: a corrupt count cannot make us reserve gigabytes.
        if (!ok() || n > remaining() / 6) {
            fail("ctx entry count " + std::to_string(n));
            return e;
        }
        e.reserve(n);
        for (std::uint32_t i = 0; i < n && ok(); ++i) {
            std::string key(str());
            e.emplace_back(std::move(key), value());
        }
        return e;
    }
    exec::fill fill() {
        exec::fill f;
        const std::uint8_t side = u8();
        if (side > 1) fail("order side " + std::to_string(side));
        f.side = static_cast<exec::order_side>(side & 1);
        f.quantity = f64();
        f.price = f64();
        f.fee = f64();
        f.ts = i64();
        return f;
    }

private:
    void raw(void* p, std::size_t n, const char* what) {
        if (!ok()) return;
        if (n > remaining()) {
            fail(what);
            return;
        }
        std::memcpy(p, in_.data() + pos_, n);
        pos_ += n;
    }
    void fail(const std::string& what) {
        if (ok()) problem_ = what + " at byte " + std::to_string(pos_);
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    std::string problem_;
};

}  // namespace tradingd::journal::detail
