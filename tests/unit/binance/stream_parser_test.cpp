#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tradingd/binance/stream_parser.hpp>

using namespace tradingd::binance;

namespace {

// A kline payload with every value given as raw JSON, so tests can put a number where a string
// belongs. The defaults are a valid, open 1m candle.
struct kline_spec {
    std::string E = "1672515782136";
    std::string outer_s = R"("BNBBTC")";
    std::string t = "1672515780000";
    std::string T = "1672515839999";
    std::string s = R"("BNBBTC")";
    std::string i = R"("1m")";
    std::string o = R"("0.0010")";
    std::string c = R"("0.0020")";
    std::string h = R"("0.0025")";
    std::string l = R"("0.0009")";
    std::string v = R"("1000")";
    std::string x = "false";

    std::string json() const {
        return R"({"e":"kline","E":)" + E + R"(,"s":)" + outer_s + R"(,"k":{"t":)" + t +
               R"(,"T":)" + T + R"(,"s":)" + s + R"(,"i":)" + i + R"(,"f":100,"L":200,"o":)" + o +
               R"(,"c":)" + c + R"(,"h":)" + h + R"(,"l":)" + l + R"(,"v":)" + v +
               R"(,"n":100,"x":)" + x + R"(,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}})";
    }
};

struct book_spec {
    std::string u = "400900217";
    std::string s = R"("BNBUSDT")";
    std::string b = R"("25.35190000")";
    std::string B = R"("31.21000000")";
    std::string a = R"("25.36520000")";
    std::string A = R"("40.66000000")";

    std::string json() const {
        return R"({"u":)" + u + R"(,"s":)" + s + R"(,"b":)" + b + R"(,"B":)" + B + R"(,"a":)" + a +
               R"(,"A":)" + A + "}";
    }
};

std::string combined(const std::string& stream, const std::string& payload) {
    return R"({"stream":")" + stream + R"(","data":)" + payload + "}";
}

// Parses and requires `kind`, printing the parser's reason when it differs.
const parsed_message& expect(stream_parser& p, const std::string& frame, message_kind kind) {
    const parsed_message& m = p.parse(frame);
    INFO("frame: " << frame);
    INFO("got " << message_kind_name(m.kind) << ": " << std::string(m.error));
    REQUIRE(m.kind == kind);
    return m;
}

}  // namespace

TEST_CASE("binance: a kline payload is parsed field by field, raw and combined") {
    stream_parser p;
    kline_spec spec;
    for (const bool wrap : {false, true}) {
        const std::string frame = wrap ? combined("bnbbtc@kline_1m", spec.json()) : spec.json();
        const parsed_message& m = expect(p, frame, message_kind::kline);
        CHECK(m.stream == (wrap ? "bnbbtc@kline_1m" : ""));
        CHECK(m.kline.symbol == "BNBBTC");
        CHECK(m.kline.interval == "1m");
        CHECK(m.kline.event_time == 1672515782136);
        CHECK(m.kline.bar.open_time == 1672515780000);
        CHECK(m.kline.bar.close_time == 1672515839999);
        CHECK(m.kline.bar.open == 0.0010);
        CHECK(m.kline.bar.close == 0.0020);
        CHECK(m.kline.bar.high == 0.0025);
        CHECK(m.kline.bar.low == 0.0009);
        CHECK(m.kline.bar.volume == 1000.0);
        CHECK_FALSE(m.kline.closed);
        CHECK_FALSE(m.kline.zero_volume);
        CHECK(m.error.empty());
    }
    spec.x = "true";
    CHECK(expect(p, spec.json(), message_kind::kline).kline.closed);
}

TEST_CASE("binance: fields may come in any order and escaped strings are unescaped") {
    stream_parser p;
    const std::string frame =
        R"({"data":{"k":{"x":true,"v":"5","l":"1","h":"3","c":"2","o":"2","i":"5m","s":"A\u0042C",)"
        R"("T":1672515899999,"t":1672515600000},"s":"ABC","E":1,"e":"kline"},"stream":"abc@kline_5m"})";
    const parsed_message& m = expect(p, frame, message_kind::kline);
    CHECK(m.kline.symbol == "ABC");
    CHECK(m.kline.interval == "5m");
    CHECK(m.kline.closed);
    CHECK(m.kline.bar.high == 3.0);
    CHECK(m.stream == "abc@kline_5m");
}

TEST_CASE("binance: Binance's documented kline example is rejected: its low is above its open") {
    // web-socket-streams.md shows o=0.0010 and l=0.0015, which no real candle can have.
    stream_parser p;
    kline_spec spec;
    spec.l = R"("0.0015")";
    const parsed_message& m = expect(p, spec.json(), message_kind::invalid);
    CHECK(m.error == "kline low is above open or close");
}

TEST_CASE("binance: a zero-volume kline is legal and flagged") {
    stream_parser p;
    kline_spec spec;
    spec.o = spec.h = spec.l = spec.c = R"("0.0010")";
    spec.v = R"("0.00000000")";
    const parsed_message& m = expect(p, spec.json(), message_kind::kline);
    CHECK(m.kline.zero_volume);
    CHECK(m.kline.bar.volume == 0.0);
}

TEST_CASE("binance: a bookTicker payload is parsed, raw and combined") {
    stream_parser p;
    const book_spec spec;
    for (const bool wrap : {false, true}) {
        const std::string frame = wrap ? combined("bnbusdt@bookTicker", spec.json()) : spec.json();
        const parsed_message& m = expect(p, frame, message_kind::book_ticker);
        CHECK(m.stream == (wrap ? "bnbusdt@bookTicker" : ""));
        CHECK(m.book.symbol == "BNBUSDT");
        CHECK(m.book.update_id == 400900217u);
        CHECK(m.book.bid == 25.3519);
        CHECK(m.book.bid_qty == 31.21);
        CHECK(m.book.ask == 25.3652);
        CHECK(m.book.ask_qty == 40.66);
    }
}

TEST_CASE("binance: serverShutdown is recognised in both shapes") {
    stream_parser p;
    const std::string raw = R"({"e":"serverShutdown","E":1770123456789})";
    const parsed_message& a = expect(p, raw, message_kind::server_shutdown);
    CHECK(a.shutdown_time == 1770123456789);
    CHECK(a.stream.empty());
    const parsed_message& b =
        expect(p, combined("!serverShutdown", raw), message_kind::server_shutdown);
    CHECK(b.shutdown_time == 1770123456789);
    CHECK(b.stream == "!serverShutdown");
    expect(p, R"({"e":"serverShutdown"})", message_kind::invalid);
    expect(p, R"({"e":"serverShutdown","E":"soon"})", message_kind::invalid);
}

TEST_CASE("binance: subscription replies and errors are recognised with their id") {
    stream_parser p;
    CHECK(expect(p, R"({"result":null,"id":1})", message_kind::subscription_result).id == 1);
    CHECK(expect(p, R"({"result":["btcusdt@aggTrade"],"id":3})", message_kind::subscription_result)
              .id == 3);
    CHECK(expect(p, R"({"id":-9000000000,"result":true})", message_kind::subscription_result).id ==
          -9000000000);
    // String and null ids are legal; the integer id then stays -1.
    CHECK(expect(p, R"({"result":null,"id":"abc-1"})", message_kind::subscription_result).id == -1);
    CHECK(expect(p, R"({"result":null,"id":null})", message_kind::subscription_result).id == -1);

    const parsed_message& e =
        expect(p, R"({"code":2,"msg":"Invalid request: unknown method","id":7})",
               message_kind::subscription_error);
    CHECK(e.error_code == 2);
    CHECK(e.error == "Invalid request: unknown method");
    CHECK(e.id == 7);
    const parsed_message& f = expect(p, R"({"code":3,"msg":"Invalid JSON: expected value"})",
                                     message_kind::subscription_error);
    CHECK(f.error_code == 3);
    CHECK(f.id == -1);
    expect(p, R"({"code":"2","msg":"x"})", message_kind::invalid);
}

TEST_CASE("binance: well-formed events the daemon does not use are ignored") {
    stream_parser p;
    const std::vector<std::string> frames = {
        R"({"stream":"xmrbtc@depth@100ms","data":{"e":"depthUpdate","E":1628952395768,"s":"XMRBTC","U":717720856,"u":717720857,"b":[],"a":[["0.00578700","31.23100000"]]}})",
        R"({"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]})",
        R"({"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true})",
        R"({"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true})",
        R"({"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]})",
        R"({"e":"someFutureEvent","E":1,"extra":{"nested":[1,2,{"k":null}]}})",
    };
    for (const auto& f : frames)
        expect(p, f, message_kind::ignored);
}

TEST_CASE("binance: text that is not a JSON object is malformed, never thrown") {
    stream_parser p;
    const std::string kline = combined("bnbbtc@kline_1m", kline_spec{}.json());
    const std::vector<std::string> frames = {
        "",
        " ",
        "{",
        "}",
        kline.substr(0, kline.size() / 2),                           // truncated mid-object
        kline.substr(0, kline.size() - 1),                           // missing the last brace
        R"({"stream":"a@bookTicker","data":{"u":1,"s":"A","b":"1)",  // truncated in a string
        "hello, world",
        "[1,2,3]",
        "[]",
        "42",
        "\"a string\"",
        "null",
        R"({"a":1}{"b":2})",
        R"({"a":1}})",
        R"({"a":1} x)",
        R"({"a":})",
        R"({"a" 1})",
        "{\"s\":\"\xff\xfe\"}",  // invalid UTF-8
        std::string("\x00\x01\x02\x03", 4),
    };
    for (const auto& f : frames) {
        const parsed_message& m = expect(p, f, message_kind::malformed);
        CHECK_FALSE(m.error.empty());
    }
}

TEST_CASE("binance: a kline with a wrong schema is invalid and the reason names the field") {
    stream_parser p;
    CHECK(expect(p, R"({"e":"kline","E":1,"s":"BNBBTC"})", message_kind::invalid).error ==
          "kline without \"k\"");
    CHECK(expect(p, R"({"e":"kline","E":1,"s":"BNBBTC","k":5})", message_kind::invalid).error ==
          "kline \"k\" is not an object");
    CHECK(expect(p, R"({"e":5})", message_kind::invalid).error.find("\"e\"") !=
          std::string_view::npos);

    struct edit {
        std::string kline_spec::*field;
        std::string value;
        std::string reason;
    };
    const std::vector<edit> edits = {
        {&kline_spec::o, "0.001", "kline field \"o\" is not a string"},
        {&kline_spec::o, "null", "kline field \"o\" is not a string"},
        {&kline_spec::h, R"(["1"])", "kline field \"h\" is not a string"},
        {&kline_spec::t, R"("1672515780000")", "kline without an integer open time \"t\""},
        {&kline_spec::t, "1672515780000.5", "kline without an integer open time \"t\""},
        {&kline_spec::T, "true", "kline without an integer close time \"T\""},
        {&kline_spec::E, R"("1")", "kline without an integer event time \"E\""},
        {&kline_spec::x, R"("false")", "kline without a boolean \"x\""},
        {&kline_spec::s, "7", "kline without a symbol \"k.s\""},
        {&kline_spec::outer_s, R"("ETHBTC")", "kline symbol \"s\" differs from \"k.s\""},
        {&kline_spec::i, R"("1M")", "kline interval \"i\" is not a known interval"},
        {&kline_spec::i, R"("7m")", "kline interval \"i\" is not a known interval"},
        {&kline_spec::i, R"("1minute")", "kline interval \"i\" is not a known interval"},
        {&kline_spec::T, "1672515840000", "kline close time is not open time + interval - 1"},
        {&kline_spec::T, "1672515839998", "kline close time is not open time + interval - 1"},
        // t moved alone: the close time no longer matches it.
        {&kline_spec::t, "1672515781000", "kline close time is not open time + interval - 1"},
    };
    for (const auto& e : edits) {
        kline_spec spec;
        spec.*(e.field) = e.value;
        CHECK(expect(p, spec.json(), message_kind::invalid).error == e.reason);
    }
    kline_spec misaligned;
    misaligned.t = "1672515781000";
    misaligned.T = "1672515840999";
    CHECK(expect(p, misaligned.json(), message_kind::invalid).error ==
          "kline open time is not aligned to the interval");

    kline_spec missing_field = {};
    std::string frame = missing_field.json();
    frame.erase(frame.find(R"("c":"0.0020",)"), std::string(R"("c":"0.0020",)").size());
    CHECK(expect(p, frame, message_kind::invalid).error == "kline field \"c\" is missing");
}

TEST_CASE("binance: kline prices and volumes must be whole finite decimals in range") {
    stream_parser p;
    for (const char* bad :
         {"NaN", "inf", "-inf", "1e400", "-1", "0", "1.5abc", "", " 1", "1.", ".5", "0x1p3"}) {
        for (std::string kline_spec::*field :
             {&kline_spec::o, &kline_spec::h, &kline_spec::l, &kline_spec::c}) {
            kline_spec spec;
            spec.*field = std::string("\"") + bad + "\"";
            INFO("price: \"" << bad << "\"");
            const parsed_message& m = expect(p, spec.json(), message_kind::invalid);
            CHECK_FALSE(m.error.empty());
        }
    }
    for (const char* bad : {"NaN", "inf", "1e400", "-1", "1.5abc", "", " 1"}) {
        kline_spec spec;
        spec.v = std::string("\"") + bad + "\"";
        INFO("volume: \"" << bad << "\"");
        expect(p, spec.json(), message_kind::invalid);
    }
    // A 20-digit integer is a finite number: as a volume it is legal.
    kline_spec big;
    big.v = R"("12345678901234567890")";
    CHECK(expect(p, big.json(), message_kind::kline).kline.bar.volume ==
          doctest::Approx(1.2345678901234567e19));

    kline_spec inverted;  // low above high
    inverted.l = R"("0.0030")";
    inverted.h = R"("0.0025")";
    CHECK_FALSE(expect(p, inverted.json(), message_kind::invalid).error.empty());
    kline_spec high_low;  // high below close
    high_low.h = R"("0.0015")";
    CHECK(expect(p, high_low.json(), message_kind::invalid).error ==
          "kline high is below open or close");
}

TEST_CASE("binance: a bookTicker with bad values is invalid") {
    stream_parser p;
    struct edit {
        std::string book_spec::*field;
        std::string value;
        std::string reason;
    };
    const std::vector<edit> edits = {
        {&book_spec::b, R"("25.40000000")", "bookTicker bid \"b\" is above ask \"a\""},
        {&book_spec::b, R"("0")", "bookTicker bid \"b\" must be > 0"},
        {&book_spec::a, R"("-1")", "bookTicker ask \"a\" must be > 0"},
        {&book_spec::B, R"("-1")", "bookTicker quantity \"B\"/\"A\" must be >= 0"},
        {&book_spec::A, R"("NaN")", "bookTicker field \"A\" is not a finite decimal"},
        {&book_spec::b, "25.3519", "bookTicker field \"b\" is not a string"},
        {&book_spec::a, R"("1e400")", "bookTicker field \"a\" is not a finite decimal"},
        {&book_spec::u, R"("400900217")", "bookTicker without an unsigned integer \"u\""},
        {&book_spec::u, "-5", "bookTicker without an unsigned integer \"u\""},
        {&book_spec::s, "null", "bookTicker without a symbol \"s\""},
        {&book_spec::s, R"("")", "bookTicker without a symbol \"s\""},
    };
    for (const auto& e : edits) {
        book_spec spec;
        spec.*(e.field) = e.value;
        CHECK(expect(p, spec.json(), message_kind::invalid).error == e.reason);
    }
    // Zero quantity is legal (an empty side for a moment); bid == ask is not crossed.
    book_spec zero;
    zero.B = R"("0.00000000")";
    zero.b = zero.a;
    expect(p, zero.json(), message_kind::book_ticker);
}

TEST_CASE("binance: objects that are no known payload are invalid") {
    stream_parser p;
    expect(p, "{}", message_kind::invalid);
    expect(p, R"({"foo":"bar"})", message_kind::invalid);
    CHECK(expect(p, R"({"stream":"a@bookTicker"})", message_kind::invalid).error ==
          "combined frame without \"data\"");
    CHECK(expect(p, R"({"stream":"a@bookTicker","data":[1]})", message_kind::invalid).error ==
          "combined frame's \"data\" is not an object");
}

TEST_CASE("binance: the parser is reusable across frames of any size") {
    stream_parser p;
    const std::string small = book_spec{}.json();
    // A frame far larger than the first one forces the buffer to grow; later small frames reuse it.
    std::string big = R"({"e":"depthUpdate","E":1,"s":"X","b":[)";
    for (int i = 0; i < 20000; ++i)
        big += std::string(i ? "," : "") + R"(["1.0","2.0"])";
    big += "]}";
    for (int round = 0; round < 3; ++round) {
        expect(p, small, message_kind::book_ticker);
        expect(p, big, message_kind::ignored);
        expect(p, "{", message_kind::malformed);
        const parsed_message& m = expect(p, kline_spec{}.json(), message_kind::kline);
        CHECK(m.kline.symbol == "BNBBTC");  // views point at this frame's text, not a stale one
    }
}
