#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <string>

#include <tradingd/indicators/indicator_table.hpp>
#include <tradingd/market/market_data_window.hpp>

namespace tradingd::indicators {

namespace {

void append_double(std::string& line, double v) {
    std::array<char, 40> buf{};
    const auto r =
        std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::general, 17);
    line.append(buf.data(), r.ptr);
}

void write_header(const std::vector<indicator_spec>& specs, std::ostream& out) {
    out << "open_time";
    for (const auto& s : specs) {
        for (const auto& name : column_names(s))
            out << ',' << name;
    }
    out << '\n';
}

}  // namespace

void write_indicator_csv(const std::vector<candle>& candles,
                         const std::vector<indicator_spec>& specs, std::ostream& out) {
    market::market_data_window window(std::max<std::size_t>(1, candles.size()));
    indicator_set set(window);
    std::vector<std::size_t> handles;
    handles.reserve(specs.size());
    for (const auto& s : specs)
        handles.push_back(set.get_or_create(s));

    write_header(specs, out);
    std::string line;
    for (const auto& c : candles) {
        window.push_closed(c);
        set.on_closed(c);
        line = std::to_string(c.open_time);
        for (std::size_t i = 0; i < specs.size(); ++i) {
            const auto& v = set.value(handles[i]);
            for (std::size_t j = 0; j < output_count(specs[i].kind); ++j) {
                line += ',';
                if (v.ready) append_double(line, v.v[j]);
            }
        }
        line += '\n';
        out << line;
    }
}

}  // namespace tradingd::indicators
