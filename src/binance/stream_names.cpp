#include <algorithm>
#include <unordered_map>

#include <tradingd/binance/stream_names.hpp>

namespace tradingd::binance {

namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    // ASCII only: Binance symbols may contain UTF-8 (NOTES.md §1.1), whose bytes must pass through.
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// The symbol part of a stream name ("btcusdt" in "btcusdt@kline_5m").
std::string_view symbol_of(std::string_view stream) {
    return stream.substr(0, stream.find('@'));
}

}  // namespace

std::string kline_stream(std::string_view symbol, std::string_view interval) {
    return lower(symbol) + "@kline_" + std::string(interval);
}

std::string book_ticker_stream(std::string_view symbol) {
    return lower(symbol) + "@bookTicker";
}

std::vector<std::string> combined_stream_targets(const std::vector<std::string>& streams,
                                                 std::size_t max_per_connection) {
    const std::size_t per =
        std::clamp<std::size_t>(max_per_connection, 1, k_max_streams_per_connection);
    // Group by symbol in order of first appearance, keeping each symbol's streams in input order.
    // Input that is already grouped by symbol (as the daemon builds it) keeps its exact order.
    std::vector<std::vector<const std::string*>> groups;
    std::unordered_map<std::string_view, std::size_t> group_of;
    for (const std::string& s : streams) {
        const auto [it, fresh] = group_of.try_emplace(symbol_of(s), groups.size());
        if (fresh) groups.emplace_back();
        groups[it->second].push_back(&s);
    }

    std::vector<std::string> targets;
    std::size_t in_current = 0;
    const auto add = [&](const std::string& s) {
        if (targets.empty() || in_current == per) {
            targets.emplace_back("/stream?streams=");
            in_current = 0;
        } else {
            targets.back() += '/';
        }
        targets.back() += s;
        ++in_current;
    };
    for (const auto& group : groups) {
        // A group that does not fit in what is left but fits in a fresh connection starts one;
        // a group larger than a whole connection has to be split anyway and just fills up.
        if (!targets.empty() && in_current + group.size() > per && group.size() <= per)
            in_current = per;
        for (const std::string* s : group)
            add(*s);
    }
    return targets;
}

}  // namespace tradingd::binance
