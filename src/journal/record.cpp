#include <cstring>
#include <string>

#include <tradingd/journal/record.hpp>

#include "byte_io.hpp"

namespace tradingd::journal {

const char* type_name(record_type t) noexcept {
    switch (t) {
        case record_type::script:
            return "script";
        case record_type::analysis_begun:
            return "analysis_begun";
        case record_type::analysis_cancelled:
            return "analysis_cancelled";
        case record_type::entry:
            return "entry";
        case record_type::exit:
            return "exit";
        case record_type::fill:
            return "fill";
        case record_type::stop_loss:
            return "stop_loss";
        case record_type::take_profit:
            return "take_profit";
        case record_type::ctx_set:
            return "ctx_set";
        case record_type::ctx_erase:
            return "ctx_erase";
        case record_type::ctx_replace:
            return "ctx_replace";
        case record_type::suspended:
            return "suspended";
        case record_type::resumed:
            return "resumed";
        case record_type::account_opened:
            return "account_opened";
    }
    return "unknown";
}

void encode(const record& r, std::string& out) {
    detail::byte_writer w(out);
    w.u8(record_format_version);
    w.u8(static_cast<std::uint8_t>(r.type));
    w.str(r.symbol);
    w.i64(r.ts);
    switch (r.type) {
        case record_type::script:
            w.str(r.text);
            w.str(r.name);
            break;
        case record_type::analysis_begun:
        case record_type::analysis_cancelled:
        case record_type::suspended:
        case record_type::ctx_erase:
            w.str(r.text);
            break;
        case record_type::entry:
            w.u8(static_cast<std::uint8_t>(r.direction));
            w.fill(r.order_fill);
            w.opt(r.stop_loss);
            w.opt(r.take_profit);
            w.str(r.text);
            break;
        case record_type::exit:
            w.fill(r.order_fill);
            w.str(r.text);
            break;
        case record_type::fill:
            w.fill(r.order_fill);
            break;
        case record_type::stop_loss:
            w.opt(r.stop_loss);
            break;
        case record_type::take_profit:
            w.opt(r.take_profit);
            break;
        case record_type::ctx_set:
            w.str(r.text);
            w.value(r.value != nullptr ? *r.value : scalar(false));
            break;
        case record_type::ctx_replace:
            w.entries(r.entries != nullptr ? *r.entries : ctx_entries{});
            break;
        case record_type::account_opened:
            w.f64(r.amount);
            break;
        case record_type::resumed:
            break;
    }
}

result<bool> decode(std::string_view payload, decoded_record& out) {
    detail::byte_reader in(payload);
    out.r = record{};
    if (const std::uint8_t version = in.u8(); version != record_format_version) {
        return error{"record format version " + std::to_string(version) + " (this tradingd reads " +
                     std::to_string(record_format_version) + ")"};
    }
    const std::uint8_t type = in.u8();
    out.r.type = static_cast<record_type>(type);
    out.r.symbol = in.str();
    out.r.ts = in.i64();
    switch (out.r.type) {
        case record_type::script:
            out.r.text = in.str();
            out.r.name = in.str();
            break;
        case record_type::analysis_begun:
        case record_type::analysis_cancelled:
        case record_type::suspended:
        case record_type::ctx_erase:
            out.r.text = in.str();
            break;
        case record_type::entry: {
            const std::uint8_t dir = in.u8();
            if (dir > 1) return error{"bad position side " + std::to_string(dir)};
            out.r.direction = static_cast<strategy::side>(dir);
            out.r.order_fill = in.fill();
            out.r.stop_loss = in.opt();
            out.r.take_profit = in.opt();
            out.r.text = in.str();
            break;
        }
        case record_type::exit:
            out.r.order_fill = in.fill();
            out.r.text = in.str();
            break;
        case record_type::fill:
            out.r.order_fill = in.fill();
            break;
        case record_type::stop_loss:
            out.r.stop_loss = in.opt();
            break;
        case record_type::take_profit:
            out.r.take_profit = in.opt();
            break;
        case record_type::ctx_set:
            out.r.text = in.str();
            out.value = in.value();
            out.r.value = &out.value;
            break;
        case record_type::ctx_replace:
            out.entries = in.entries();
            out.r.entries = &out.entries;
            break;
        case record_type::account_opened:
            out.r.amount = in.f64();
            break;
        case record_type::resumed:
            break;
        default:
            return error{"unknown record type " + std::to_string(type)};
    }
    if (!in.ok()) return error{"record shorter than its fields (" + in.problem() + ")"};
    if (!in.at_end()) {
        return error{std::to_string(in.remaining()) + " unexpected bytes after a " +
                     type_name(out.r.type) + " record"};
    }
    return true;
}

}  // namespace tradingd::journal
