#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include <tradingd/binance/decimal.hpp>
#include <tradingd/binance/stream_parser.hpp>

#include "kline_checks.hpp"

namespace tradingd::binance {

namespace od = simdjson::ondemand;

const char* message_kind_name(message_kind k) noexcept {
    switch (k) {
        case message_kind::kline:
            return "kline";
        case message_kind::book_ticker:
            return "book_ticker";
        case message_kind::server_shutdown:
            return "server_shutdown";
        case message_kind::subscription_result:
            return "subscription_result";
        case message_kind::subscription_error:
            return "subscription_error";
        case message_kind::ignored:
            return "ignored";
        case message_kind::invalid:
            return "invalid";
        case message_kind::malformed:
            return "malformed";
    }
    return "unknown";
}

namespace {

// One pass over each object collects the fields into slots; what the payload is (and so which
// slots matter) is only known at the end, because a field such as "b" is a string in bookTicker
// but an array in depthUpdate. A wrong type is therefore recorded, not fatal.
enum class slot_state : std::uint8_t { absent, ok, wrong_type };

template <class T>
struct slot {
    T v{};
    slot_state st = slot_state::absent;
    bool ok() const noexcept { return st == slot_state::ok; }
    bool present() const noexcept { return st != slot_state::absent; }
};

struct kline_fields {
    slot<std::int64_t> t, T;
    slot<std::string_view> s, i, o, c, h, l, v;
    slot<bool> x;
};

struct payload_fields {
    slot<std::string_view> e, s, msg;
    slot<std::int64_t> E, code, id;
    slot<std::uint64_t> u;
    slot<std::string_view> b, B, a, A;
    slot<char> k;  // presence / type of "k"; its fields are in `kline`
    kline_fields kline;
    bool has_result = false;
    bool has_last_update_id = false;
};

// Errors that describe the value rather than the document: the iterator is still usable.
bool is_value_error(simdjson::error_code e) noexcept {
    return e == simdjson::INCORRECT_TYPE || e == simdjson::NUMBER_ERROR ||
           e == simdjson::NUMBER_OUT_OF_RANGE;
}

template <class T>
simdjson::error_code store(simdjson::simdjson_result<T>&& r, slot<T>& out) noexcept {
    T value{};
    const simdjson::error_code err = std::move(r).get(value);
    if (err == simdjson::SUCCESS) {
        out.v = value;
        out.st = slot_state::ok;
        return simdjson::SUCCESS;
    }
    if (is_value_error(err)) {
        out.st = slot_state::wrong_type;
        return simdjson::SUCCESS;
    }
    return err;
}

simdjson::error_code read_string(od::value& v, slot<std::string_view>& out) noexcept {
    return store(v.get_string(), out);
}
simdjson::error_code read_int(od::value& v, slot<std::int64_t>& out) noexcept {
    return store(v.get_int64(), out);
}

// Keys are compared on the raw JSON text (no unescaping): `raw` points just past the opening
// quote, and the padded buffer makes reading a few bytes past a short key safe.
template <std::size_t N>
bool key_is(const char* raw, const char (&name)[N]) noexcept {
    return std::memcmp(raw, name, N - 1) == 0 && raw[N - 1] == '"';
}
bool one_char_key(const char* raw) noexcept {
    return raw[0] != '"' && raw[1] == '"';
}

simdjson::error_code read_kline_object(od::value& v, payload_fields& p) noexcept {
    od::object obj;
    const simdjson::error_code err = v.get_object().get(obj);
    if (is_value_error(err)) {
        p.k.st = slot_state::wrong_type;
        return simdjson::SUCCESS;
    }
    if (err) return err;
    p.k.st = slot_state::ok;
    kline_fields& k = p.kline;
    for (auto field_result : obj) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        const char* key = field.key().raw();
        if (!one_char_key(key)) continue;
        od::value& value = field.value();
        simdjson::error_code e = simdjson::SUCCESS;
        switch (key[0]) {
            case 't':
                e = read_int(value, k.t);
                break;
            case 'T':
                e = read_int(value, k.T);
                break;
            case 's':
                e = read_string(value, k.s);
                break;
            case 'i':
                e = read_string(value, k.i);
                break;
            case 'o':
                e = read_string(value, k.o);
                break;
            case 'c':
                e = read_string(value, k.c);
                break;
            case 'h':
                e = read_string(value, k.h);
                break;
            case 'l':
                e = read_string(value, k.l);
                break;
            case 'v':
                e = read_string(value, k.v);
                break;
            case 'x':
                e = store(value.get_bool(), k.x);
                break;
            default:
                break;  // f, L, n, q, V, Q, B: not used
        }
        if (e) return e;
    }
    return simdjson::SUCCESS;
}

// Reads one field of a payload object (raw shape: the frame's own fields; combined: "data").
simdjson::error_code read_payload_field(const char* key, od::value& value,
                                        payload_fields& p) noexcept {
    if (one_char_key(key)) {
        switch (key[0]) {
            case 'e':
                return read_string(value, p.e);
            case 'E':
                return read_int(value, p.E);
            case 's':
                return read_string(value, p.s);
            case 'k':
                return read_kline_object(value, p);
            case 'u':
                return store(value.get_uint64(), p.u);
            case 'b':
                return read_string(value, p.b);
            case 'B':
                return read_string(value, p.B);
            case 'a':
                return read_string(value, p.a);
            case 'A':
                return read_string(value, p.A);
            default:
                return simdjson::SUCCESS;
        }
    }
    if (key_is(key, "result")) {
        p.has_result = true;  // null, a list or a value: all mean success
    } else if (key_is(key, "id")) {
        return read_int(value, p.id);  // string and null ids are legal; id stays -1 for them
    } else if (key_is(key, "code")) {
        return read_int(value, p.code);
    } else if (key_is(key, "msg")) {
        return read_string(value, p.msg);
    } else if (key_is(key, "lastUpdateId")) {
        p.has_last_update_id = true;
    }
    return simdjson::SUCCESS;
}

}  // namespace

struct stream_parser::impl {
    od::parser parser;
    std::unique_ptr<char[]> buffer;
    std::size_t capacity = 0;  // bytes in `buffer`, padding included
    parsed_message msg;
    payload_fields top;   // the frame's own fields (the payload in the raw shape)
    payload_fields data;  // the combined shape's "data"
    char reason[200] = {};

    bool reserve(std::size_t size) noexcept;
    const parsed_message& fail(message_kind kind, const char* fmt, const char* a = "",
                               const char* b = "") noexcept;
    const parsed_message& malformed(simdjson::error_code e) noexcept {
        return fail(message_kind::malformed, "not a JSON object: %s", simdjson::error_message(e));
    }
    const parsed_message& parse(std::string_view frame) noexcept;
    bool at_end(od::document& doc, std::size_t size) noexcept;
    const parsed_message& classify(const payload_fields& p) noexcept;
    const parsed_message& kline(const payload_fields& p) noexcept;
    const parsed_message& book_ticker(const payload_fields& p) noexcept;
    bool decimal(const slot<std::string_view>& s, const char* what, const char* name,
                 double& out) noexcept;
};

bool stream_parser::impl::reserve(std::size_t size) noexcept {
    const std::size_t needed = size + simdjson::SIMDJSON_PADDING;
    if (needed <= capacity) return true;
    const std::size_t grown = needed < 2 * capacity ? 2 * capacity : needed;
    std::unique_ptr<char[]> fresh(new (std::nothrow) char[grown]);
    if (!fresh) return false;
    buffer = std::move(fresh);
    capacity = grown;
    return true;
}

// simdjson 3.0.1 has no document::at_end(), and it only checks that the last token is '}', so
// "{..}{..}" or "{..}}" would pass. Once the root object has been walked, raw_json() reports the
// span from the root to the next token: it reaches the end of the frame only when nothing follows.
bool stream_parser::impl::at_end(od::document& doc, std::size_t size) noexcept {
    std::string_view walked;
    if (doc.raw_json().get(walked)) return false;
    return walked.data() + walked.size() == buffer.get() + size;
}

const parsed_message& stream_parser::impl::fail(message_kind kind, const char* fmt, const char* a,
                                                const char* b) noexcept {
    msg.kind = kind;
    const int n = std::snprintf(reason, sizeof reason, fmt, a, b);
    msg.error = std::string_view(reason, n < 0 ? 0 : std::min<std::size_t>(n, sizeof reason - 1));
    return msg;
}

const parsed_message& stream_parser::impl::parse(std::string_view frame) noexcept {
    msg = parsed_message{};
    top = payload_fields{};
    data = payload_fields{};
    if (frame.empty()) return fail(message_kind::malformed, "empty frame");
    if (!reserve(frame.size()))
        return fail(message_kind::malformed, "frame too large to buffer (out of memory)");
    std::memcpy(buffer.get(), frame.data(), frame.size());
    std::memset(buffer.get() + frame.size(), 0, simdjson::SIMDJSON_PADDING);

    od::document doc;
    if (auto e = parser.iterate(buffer.get(), frame.size(), capacity).get(doc)) return malformed(e);
    od::object obj;
    if (auto e = doc.get_object().get(obj)) return malformed(e);

    bool has_stream = false;
    slot<char> data_slot;
    for (auto field_result : obj) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return malformed(e);
        const char* key = field.key().raw();
        od::value& value = field.value();
        if (key_is(key, "stream")) {
            has_stream = true;
            std::string_view name;
            if (value.get_string().get(name) == simdjson::SUCCESS) msg.stream = name;
        } else if (key_is(key, "data")) {
            od::object payload;
            const simdjson::error_code e = value.get_object().get(payload);
            if (is_value_error(e)) {
                data_slot.st = slot_state::wrong_type;
                continue;
            }
            if (e) return malformed(e);
            data_slot.st = slot_state::ok;
            for (auto inner_result : payload) {
                od::field inner;
                if (auto ie = std::move(inner_result).get(inner)) return malformed(ie);
                if (auto ie = read_payload_field(inner.key().raw(), inner.value(), data))
                    return malformed(ie);
            }
        } else if (auto e = read_payload_field(key, value, top)) {
            return malformed(e);
        }
    }
    if (!at_end(doc, frame.size()))
        return fail(message_kind::malformed, "trailing content after the object");

    if (data_slot.st == slot_state::wrong_type)
        return fail(message_kind::invalid, "combined frame's \"data\" is not an object");
    if (data_slot.ok()) return classify(data);
    if (has_stream) return fail(message_kind::invalid, "combined frame without \"data\"");
    return classify(top);
}

const parsed_message& stream_parser::impl::classify(const payload_fields& p) noexcept {
    if (p.e.present()) {
        if (!p.e.ok()) return fail(message_kind::invalid, "event type \"e\" is not a string");
        if (p.e.v == "kline") return kline(p);
        if (p.e.v == "serverShutdown") {
            if (!p.E.ok())
                return fail(message_kind::invalid, "serverShutdown without an integer \"E\"");
            msg.kind = message_kind::server_shutdown;
            msg.shutdown_time = p.E.v;
            return msg;
        }
        msg.kind = message_kind::ignored;  // depthUpdate, aggTrade, trade, ...: not subscribed
        return msg;
    }
    if (p.id.ok()) msg.id = p.id.v;
    if (p.has_result) {
        msg.kind = message_kind::subscription_result;
        return msg;
    }
    if (p.code.present()) {
        if (!p.code.ok())
            return fail(message_kind::invalid, "error reply's \"code\" is not an integer");
        msg.kind = message_kind::subscription_error;
        msg.error_code = p.code.v;
        if (p.msg.ok()) msg.error = p.msg.v;
        return msg;
    }
    if (p.u.present() || p.b.present() || p.a.present() || p.B.present() || p.A.present())
        return book_ticker(p);
    if (p.has_last_update_id) {
        msg.kind = message_kind::ignored;  // partial book depth: no "e", not subscribed
        return msg;
    }
    return fail(message_kind::invalid, "unrecognised payload (no event type, not a reply)");
}

bool stream_parser::impl::decimal(const slot<std::string_view>& s, const char* what,
                                  const char* name, double& out) noexcept {
    if (!s.present()) {
        fail(message_kind::invalid, "%s field \"%s\" is missing", what, name);
        return false;
    }
    if (!s.ok()) {
        fail(message_kind::invalid, "%s field \"%s\" is not a string", what, name);
        return false;
    }
    const auto value = parse_decimal(s.v);
    if (!value) {
        fail(message_kind::invalid, "%s field \"%s\" is not a finite decimal", what, name);
        return false;
    }
    out = *value;
    return true;
}

const parsed_message& stream_parser::impl::book_ticker(const payload_fields& p) noexcept {
    book_ticker_message& m = msg.book;
    if (!p.s.ok() || p.s.v.empty())
        return fail(message_kind::invalid, "bookTicker without a symbol \"s\"");
    if (!p.u.ok())
        return fail(message_kind::invalid, "bookTicker without an unsigned integer \"u\"");
    if (!decimal(p.b, "bookTicker", "b", m.bid) || !decimal(p.B, "bookTicker", "B", m.bid_qty) ||
        !decimal(p.a, "bookTicker", "a", m.ask) || !decimal(p.A, "bookTicker", "A", m.ask_qty))
        return msg;
    if (!(m.bid > 0)) return fail(message_kind::invalid, "bookTicker bid \"b\" must be > 0");
    if (!(m.ask > 0)) return fail(message_kind::invalid, "bookTicker ask \"a\" must be > 0");
    if (!(m.bid_qty >= 0) || !(m.ask_qty >= 0))
        return fail(message_kind::invalid, "bookTicker quantity \"B\"/\"A\" must be >= 0");
    if (m.bid > m.ask)
        return fail(message_kind::invalid, "bookTicker bid \"b\" is above ask \"a\"");
    m.symbol = p.s.v;
    m.update_id = p.u.v;
    msg.kind = message_kind::book_ticker;
    return msg;
}

const parsed_message& stream_parser::impl::kline(const payload_fields& p) noexcept {
    if (!p.k.present()) return fail(message_kind::invalid, "kline without \"k\"");
    if (!p.k.ok()) return fail(message_kind::invalid, "kline \"k\" is not an object");
    const kline_fields& k = p.kline;
    if (!p.E.ok()) return fail(message_kind::invalid, "kline without an integer event time \"E\"");
    if (!k.t.ok()) return fail(message_kind::invalid, "kline without an integer open time \"t\"");
    if (!k.T.ok()) return fail(message_kind::invalid, "kline without an integer close time \"T\"");
    if (!k.s.ok() || k.s.v.empty())
        return fail(message_kind::invalid, "kline without a symbol \"k.s\"");
    if (p.s.ok() && p.s.v != k.s.v)
        return fail(message_kind::invalid, "kline symbol \"s\" differs from \"k.s\"");
    if (!k.x.ok()) return fail(message_kind::invalid, "kline without a boolean \"x\"");
    if (!k.i.ok()) return fail(message_kind::invalid, "kline without an interval \"i\"");
    char interval_text[8] = {};  // interval_ms wants a C string; the longest known one is "12h"
    if (k.i.v.size() >= sizeof interval_text)
        return fail(message_kind::invalid, "kline interval \"i\" is not a known interval");
    std::memcpy(interval_text, k.i.v.data(), k.i.v.size());
    const std::int64_t interval = interval_ms(interval_text);
    if (interval == 0)
        return fail(message_kind::invalid, "kline interval \"i\" is not a known interval");

    candle& bar = msg.kline.bar;
    if (!decimal(k.o, "kline", "o", bar.open) || !decimal(k.h, "kline", "h", bar.high) ||
        !decimal(k.l, "kline", "l", bar.low) || !decimal(k.c, "kline", "c", bar.close) ||
        !decimal(k.v, "kline", "v", bar.volume))
        return msg;
    bar.open_time = k.t.v;
    bar.close_time = k.T.v;
    if (const auto fault = detail::check_candle(bar, interval); fault.field != nullptr)
        return fail(message_kind::invalid, "kline %s %s", fault.field, fault.rule);

    kline_message& m = msg.kline;
    m.symbol = k.s.v;
    m.interval = k.i.v;
    m.event_time = p.E.v;
    m.closed = k.x.v;
    m.zero_volume = bar.volume == 0;
    msg.kind = message_kind::kline;
    return msg;
}

stream_parser::stream_parser() : impl_(std::make_unique<impl>()) {}
stream_parser::~stream_parser() = default;

const parsed_message& stream_parser::parse(std::string_view frame) noexcept {
    return impl_->parse(frame);
}

}  // namespace tradingd::binance
