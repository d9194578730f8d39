// `tradingd indicators --data FILE --spec LIST`: the runners' indicator code over a file.
#include <iostream>

#include <tradingd/cli/commands.hpp>
#include <tradingd/feed/kline_file.hpp>
#include <tradingd/indicators/indicator_set.hpp>
#include <tradingd/indicators/indicator_table.hpp>

namespace tradingd::cli {

int print_indicators(const std::filesystem::path& data_path, std::string_view spec_list) {
    auto specs = indicators::parse_spec_list(spec_list);
    if (!specs) {
        std::cerr << "tradingd indicators: --spec: " << specs.error_message() << "\n";
        return 2;
    }
    std::vector<candle> candles;
    try {
        candles = feed::read_kline_file(data_path);
    } catch (const std::exception& e) {
        std::cerr << "tradingd indicators: " << e.what() << "\n";
        return 1;
    }
    indicators::write_indicator_csv(candles, specs.value(), std::cout);
    std::cout.flush();
    return std::cout ? 0 : 1;
}

}  // namespace tradingd::cli
