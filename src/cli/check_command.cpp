// `tradingd check --config FILE`: every problem in the config and its scripts, then exit 0 or 1.
#include <iostream>

#include <tradingd/cli/commands.hpp>
#include <tradingd/config/config.hpp>
#include <tradingd/engine/standalone_strategy.hpp>

namespace tradingd::cli {
namespace {

std::optional<std::string> try_load(const config::daemon_settings& s,
                                    const config::symbol_config& sym) {
    return engine::standalone_strategy(sym, s.sandbox).error();
}

bool print_config_problems(const std::filesystem::path& config_path,
                           const config::config_error& e) {
    std::cout << "FAILED: " << config_path.string() << ": " << e.problems().size()
              << " problem(s):\n";
    for (const auto& p : e.problems())
        std::cout << "  " << p << "\n";
    return false;
}

}  // namespace

int check_config(const std::filesystem::path& config_path) {
    config::daemon_settings settings;
    try {
        settings = config::load_config(config_path);
    } catch (const config::config_error& e) {
        print_config_problems(config_path, e);
        return 1;
    }
    std::size_t failures = 0;
    for (const auto& sym : settings.symbols) {
        if (auto err = try_load(settings, sym)) {
            if (failures++ == 0) std::cout << "FAILED: " << config_path.string() << ":\n";
            std::cout << "  " << sym.symbol << ": " << sym.strategy_path.string() << ": " << *err
                      << "\n";
        }
    }
    if (failures > 0) return 1;
    std::cout << "OK: " << config_path.string() << ": " << settings.symbols.size()
              << " symbol(s), every strategy script loads\n";
    return 0;
}

int check_script(const std::filesystem::path& script_path,
                 const std::filesystem::path& config_path) {
    config::sandbox_config sandbox;
    config::symbol_config sym;
    sym.symbol = "CHECK";
    sym.strategy_path = script_path;
    if (!config_path.empty()) {
        try {
            const auto settings = config::load_config(config_path);
            sandbox = settings.sandbox;
            std::error_code ec;
            for (const auto& s : settings.symbols) {
                if (std::filesystem::equivalent(s.strategy_path, script_path, ec)) {
                    sym = s;  // the params a runner would give it
                    break;
                }
            }
        } catch (const config::config_error& e) {
            print_config_problems(config_path, e);
            return 1;
        }
    }
    engine::standalone_strategy loaded(sym, sandbox);
    if (loaded.error()) {
        std::cout << "FAILED: " << *loaded.error() << "\n";
        return 1;
    }
    std::cout << "OK: " << script_path.string() << " (version " << loaded.get()->hash() << ")\n";
    return 0;
}

}  // namespace tradingd::cli
