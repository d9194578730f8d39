#include <tradingd/reload/script_watcher.hpp>

namespace tradingd::reload {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace

bool is_script_name(const std::string& name) {
    constexpr std::string_view ext = ".lua";
    if (name.size() <= ext.size() || !ends_with(name, ext)) return false;
    if (name.front() == '.' || name.front() == '#') return false;  // hidden, vim/emacs temporaries
    return name.find('/') == std::string::npos;
}

}  // namespace tradingd::reload
