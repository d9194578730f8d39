#include "logging.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

namespace tradingd::cli {

std::shared_ptr<spdlog::logger> named_logger(const std::string& name) {
    if (auto existing = spdlog::get(name)) return existing;
    auto logger = spdlog::default_logger()->clone(name);
    spdlog::register_logger(logger);
    return logger;
}

void add_log_file(const config::daemon_config& d) {
    if (d.log_file.empty()) return;
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        d.log_file.string(), static_cast<std::size_t>(d.log_file_max_mb) << 20,
        static_cast<std::size_t>(d.log_file_count));
    auto logger = spdlog::default_logger();
    logger->sinks().push_back(std::move(sink));
    // Errors and worse reach the file at once; the rest is flushed by the periodic flush.
    logger->flush_on(spdlog::level::err);
    spdlog::flush_every(std::chrono::seconds(1));
}

}  // namespace tradingd::cli
