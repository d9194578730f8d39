#include "config_reload.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace tradingd::cli {

namespace {

const config::symbol_config* find_symbol(const config::daemon_settings& s,
                                         const std::string& name) {
    for (const auto& sym : s.symbols)
        if (sym.symbol == name) return &sym;
    return nullptr;
}

engine::symbol_runner* find_runner(running_daemon& d, const std::string& name) {
    for (auto& r : *d.runners)
        if (r->symbol() == name) return r.get();
    return nullptr;
}

std::vector<std::string> added_symbols(const config::daemon_settings& now,
                                       const config::daemon_settings& next) {
    std::vector<std::string> out;
    for (const auto& sym : next.symbols)
        if (find_symbol(now, sym.symbol) == nullptr) out.push_back(sym.symbol);
    return out;
}

/// Warns about the sections that only take effect at the next restart.
void warn_restart_only(const config::daemon_settings& now, const config::daemon_settings& next) {
    config::daemon_config daemon_now = now.daemon;
    daemon_now.log_level = next.daemon.log_level;  // applied live
    daemon_now.on_symbol_removed = next.daemon.on_symbol_removed;
    const std::pair<const char*, bool> sections[] = {
        {"[daemon] (other than log_level and on_symbol_removed)", !(daemon_now == next.daemon)},
        {"[feed]", !(now.feed == next.feed)},
        {"[sandbox]", !(now.sandbox == next.sandbox)},
        {"[paper]", !(now.paper == next.paper)},
        {"[engine]", !(now.engine == next.engine)},
        {"[journal]", !(now.journal == next.journal)},
        {"[http]", !(now.http == next.http)},
    };
    for (const auto& [name, changed] : sections) {
        if (changed)
            spdlog::warn("config reload: {} changed: takes effect at the next restart", name);
    }
}

/// Whether `next` differs from `now` in what a running runner cannot take (interval, window,
/// [symbols.sim]): everything but the script, its params and the quantity.
bool restart_only_changed(const config::symbol_config& now, const config::symbol_config& next) {
    config::symbol_config restart_only = next;
    restart_only.strategy = now.strategy;
    restart_only.strategy_path = now.strategy_path;
    restart_only.params = now.params;
    restart_only.quantity = now.quantity;
    restart_only.risk = now.risk;
    return !(restart_only == now);
}

/// Applies one symbol that is in both configurations. Returns the config now in force for it.
config::symbol_config apply_symbol(running_daemon& d, const config::symbol_config& now,
                                   const config::symbol_config& next) {
    config::symbol_config applied = now;
    applied.strategy = next.strategy;
    applied.strategy_path = next.strategy_path;
    applied.params = next.params;
    applied.quantity = next.quantity;
    applied.risk = next.risk;
    if (restart_only_changed(now, next)) {
        spdlog::warn(
            "config reload: {}: interval, window or [symbols.sim] changed: takes effect at the "
            "next restart",
            now.symbol);
    }
    if (applied == now) return now;
    engine::symbol_runner* runner = find_runner(d, now.symbol);
    if (runner == nullptr) return now;
    if (!(applied.risk == now.risk)) {
        spdlog::info("config reload: {}: risk limits changed: applied", now.symbol);
        runner->post(
            [risk = applied.risk](engine::runner_core& core) { core.set_risk_limits(risk); });
    }
    config::symbol_config script_part = applied;
    script_part.risk = now.risk;
    if (script_part == now) return applied;
    spdlog::info(
        "config reload: {}: strategy {}, params or quantity changed: rebuilding its script",
        now.symbol, next.strategy);
    d.reloader->rebuild(*runner, applied, std::chrono::steady_clock::now());
    return applied;
}

void retire_symbol(running_daemon& d, const config::symbol_config& sym, bool flatten) {
    engine::symbol_runner* runner = find_runner(d, sym.symbol);
    if (runner == nullptr) return;
    d.reloader->untrack(*runner);
    runner->post([flatten](engine::runner_core& core) { core.retire(flatten); });
    d.retired.push_back(sym);
}

/// A symbol the new config adds that an earlier reload removed: its retired runner (still fed,
/// perhaps still holding a position) takes entries again, under the new script/params/quantity.
/// Returns the config now in force, or nullopt when it cannot come back before a restart.
std::optional<config::symbol_config> reinstate_symbol(running_daemon& d,
                                                      const config::symbol_config& old,
                                                      const config::symbol_config& next) {
    engine::symbol_runner* runner = find_runner(d, next.symbol);
    if (runner == nullptr) return std::nullopt;
    if (restart_only_changed(old, next)) {
        spdlog::error(
            "config reload: {} cannot come back with another interval, window or [symbols.sim] "
            "before a restart (its removed runner still runs); it stays removed",
            next.symbol);
        return std::nullopt;
    }
    runner->post([](engine::runner_core& core) { core.reinstate(); });
    d.reloader->track(*runner, old, "");
    std::erase_if(d.retired, [&](const auto& r) { return r.symbol == next.symbol; });
    spdlog::info("config reload: {} is back: its runner takes entries again", next.symbol);
    return apply_symbol(d, old, next);
}

const config::symbol_config* find_retired(const running_daemon& d, const std::string& name) {
    for (const auto& sym : d.retired)
        if (sym.symbol == name) return &sym;
    return nullptr;
}

}  // namespace

bool reload_config(running_daemon& d) {
    config::daemon_settings next;
    try {
        next = config::load_config(d.config_path);
    } catch (const config::config_error& e) {
        spdlog::error("config reload refused ({} problem(s)); the running configuration stays:",
                      e.problems().size());
        for (const auto& p : e.problems())
            spdlog::error("  {}", p);
        return false;
    } catch (const std::exception& e) {
        spdlog::error("config reload refused: {}; the running configuration stays", e.what());
        return false;
    }
    const auto added = added_symbols(d.settings, next);
    std::string new_symbols;  // added and not a retired runner coming back: the feed must add it
    for (const auto& s : added)
        if (find_retired(d, s) == nullptr) new_symbols += (new_symbols.empty() ? "" : ", ") + s;
    if (!new_symbols.empty() && (!d.can_add_symbols || !d.add_symbol)) {
        spdlog::error(
            "config reload refused: adding symbols ({}) to this feed needs a restart (systemctl "
            "restart tradingd); the running configuration stays",
            new_symbols);
        return false;
    }
    if (next.daemon.log_level != d.settings.daemon.log_level) {
        spdlog::set_level(spdlog::level::from_str(next.daemon.log_level));
        spdlog::info("config reload: log level is now {}", next.daemon.log_level);
    }
    warn_restart_only(d.settings, next);
    if (!(next.risk == d.settings.risk) && d.risk != nullptr) {
        if (next.risk.kill_switch_file != d.settings.risk.kill_switch_file) {
            spdlog::warn(
                "config reload: [risk] kill_switch_file changed: takes effect at the "
                "next restart");
            next.risk.kill_switch_file = d.settings.risk.kill_switch_file;
        }
        d.risk->set_limits(next.risk);
        spdlog::info("config reload: [risk] limits applied");
    }
    const bool flatten = next.daemon.on_symbol_removed == "flatten";
    std::vector<config::symbol_config> in_force;
    for (const auto& sym : d.settings.symbols) {
        if (const auto* updated = find_symbol(next, sym.symbol)) {
            in_force.push_back(apply_symbol(d, sym, *updated));
        } else {
            retire_symbol(d, sym, flatten);
        }
    }
    for (const auto& name : added) {
        const config::symbol_config& sym = *find_symbol(next, name);
        if (const auto* old = find_retired(d, name)) {
            const config::symbol_config was = *old;  // reinstate_symbol erases it from retired
            if (auto applied = reinstate_symbol(d, was, sym))
                in_force.push_back(std::move(*applied));
            continue;
        }
        try {
            d.add_symbol(sym);
            in_force.push_back(sym);
            spdlog::info("config reload: {} added ({} on {})", name, sym.strategy, sym.interval);
        } catch (const std::exception& e) {
            spdlog::error("config reload: {} could not be added: {}", name, e.what());
        }
    }
    // The new file's values for what applies live; what needs a restart stays as it was.
    config::daemon_settings applied = d.settings;
    applied.daemon.log_level = next.daemon.log_level;
    applied.daemon.on_symbol_removed = next.daemon.on_symbol_removed;
    applied.risk = next.risk;
    applied.symbols = std::move(in_force);
    d.settings = std::move(applied);
    spdlog::info("config reload applied: {} symbol(s) active", d.settings.symbols.size());
    return true;
}

}  // namespace tradingd::cli
