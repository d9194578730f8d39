#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include <tradingd/reload/script_reloader.hpp>
#include <tradingd/strategy/lua/content_hash.hpp>
#include <tradingd/strategy/lua/lua_strategy.hpp>

namespace tradingd::reload {

namespace {

std::string file_name(const config::symbol_config& s) {
    return s.strategy_path.filename().string();
}

}  // namespace

script_reloader::script_reloader(std::shared_ptr<spdlog::logger> logger)
    : log_(logger ? std::move(logger) : spdlog::default_logger()) {
    worker_ = std::thread([this] { run(); });
}

script_reloader::~script_reloader() {
    stop();
}

void script_reloader::track(engine::symbol_runner& runner, const config::symbol_config& symbol,
                            const std::string& loaded_hash) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(targets_.begin(), targets_.end(),
                           [&](const target& t) { return t.runner == &runner; });
    if (it == targets_.end()) {
        targets_.push_back(target{&runner, symbol});
    } else {
        it->symbol = symbol;
    }
    if (!loaded_hash.empty()) handed_out_[file_name(symbol)] = loaded_hash;
}

void script_reloader::untrack(const engine::symbol_runner& runner) {
    std::lock_guard lock(mutex_);
    std::erase_if(targets_, [&](const target& t) { return t.runner == &runner; });
}

void script_reloader::on_change(const script_change& change) {
    job j;
    j.what =
        change.kind == change_kind::written ? job::kind::file_written : job::kind::file_deleted;
    j.file = change.name;
    j.since = change.last_event;
    enqueue(std::move(j));
}

void script_reloader::rebuild(engine::symbol_runner& runner, const config::symbol_config& symbol,
                              std::chrono::steady_clock::time_point since) {
    track(runner, symbol, "");
    job j;
    j.what = job::kind::rebuild;
    j.rebuild_target = target{&runner, symbol};
    j.since = since;
    enqueue(std::move(j));
}

void script_reloader::enqueue(job j) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        jobs_.push_back(std::move(j));
    }
    wake_.notify_one();
}

void script_reloader::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        jobs_.clear();
    }
    wake_.notify_one();
    if (worker_.joinable()) worker_.join();
}

std::size_t script_reloader::busy() const {
    std::lock_guard lock(mutex_);
    return jobs_.size() + (running_job_ ? 1 : 0);
}

std::uint64_t script_reloader::versions_posted() const {
    std::lock_guard lock(mutex_);
    return posted_;
}

void script_reloader::run() {
    for (;;) {
        job j;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (stopping_) return;
            j = std::move(jobs_.front());
            jobs_.pop_front();
            running_job_ = true;
        }
        try {
            handle(j);
        } catch (const std::exception& e) {
            log_->error("hot reload of {}: {}",
                        j.file.empty() ? file_name(j.rebuild_target.symbol) : j.file, e.what());
        }
        std::lock_guard lock(mutex_);
        running_job_ = false;
    }
}

void script_reloader::handle(const job& j) {
    switch (j.what) {
        case job::kind::file_written:
            handle_written(j);
            break;
        case job::kind::file_deleted:
            handle_deleted(j);
            break;
        case job::kind::rebuild:
            post_version(j.rebuild_target, nullptr, j.since);
            break;
    }
}

std::vector<script_reloader::target> script_reloader::targets_of(const std::string& file) const {
    std::lock_guard lock(mutex_);
    std::vector<target> out;
    for (const auto& t : targets_)
        if (file_name(t.symbol) == file) out.push_back(t);
    return out;
}

void script_reloader::handle_written(const job& j) {
    const std::vector<target> targets = targets_of(j.file);
    if (targets.empty()) {
        log_->info("{} changed; no configured symbol uses it", j.file);
        return;
    }
    std::string source;
    if (auto problem = strategy::lua::read_script_file(targets.front().symbol.strategy_path,
                                                       std::size_t{16} << 20, source)) {
        log_->error("{} changed but cannot be read: {}; runners keep their current version", j.file,
                    *problem);
        return;
    }
    const std::string hash = strategy::lua::content_hash(source);
    {
        std::lock_guard lock(mutex_);
        auto& last = handed_out_[j.file];
        if (last == hash) {
            log_->debug("{} saved without a content change ({}); nothing to reload", j.file, hash);
            return;
        }
        last = hash;
    }
    log_->info("{} changed (version {}): reloading {} runner(s)", j.file, hash, targets.size());
    for (const auto& t : targets)
        post_version(t, &source, j.since);
}

void script_reloader::handle_deleted(const job& j) {
    for (const auto& t : targets_of(j.file)) {
        log_->warn("{} was deleted: {} keeps running its current version until a new file arrives",
                   j.file, t.symbol.symbol);
    }
}

void script_reloader::post_version(const target& t, const std::string* source,
                                   std::chrono::steady_clock::time_point since) {
    // prepare() is the runner core's thread-safe half of a reload: a fresh VM, built here.
    auto prepared = std::make_shared<engine::prepared_strategy>(
        source == nullptr ? t.runner->core().prepare_file(t.symbol)
                          : t.runner->core().prepare(t.symbol, *source));
    prepared->since = since;
    const bool posted = t.runner->post(
        [prepared](engine::runner_core& core) { (void)core.install(std::move(*prepared)); });
    if (!posted) {
        log_->debug("{}: runner stopped; version of {} dropped", t.symbol.symbol,
                    file_name(t.symbol));
        return;
    }
    std::lock_guard lock(mutex_);
    ++posted_;
}

}  // namespace tradingd::reload
