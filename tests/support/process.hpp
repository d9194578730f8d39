#pragma once
// Running the real tradingd binary from integration tests.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace tradingd::testing {

/// A child process with stdout and stderr redirected to files. Killed (SIGKILL) if still running
/// when destroyed.
class child_process {
public:
    /// `extra_env`: "NAME=value" entries added to (or replacing) this process's environment.
    child_process(const std::vector<std::string>& argv, const std::filesystem::path& out,
                  const std::filesystem::path& err, const std::vector<std::string>& extra_env = {})
        : out_(out), err_(err) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        std::vector<char*> env;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string_view entry(*e);
            const auto name = entry.substr(0, entry.find('=') + 1);
            bool overridden = false;
            for (const auto& x : extra_env)
                overridden |= std::string_view(x).starts_with(name);
            if (!overridden) env.push_back(*e);
        }
        for (const auto& e : extra_env)
            env.push_back(const_cast<char*>(e.c_str()));
        env.push_back(nullptr);
        const int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), env.data());
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
    }
    ~child_process() {
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    void signal(int sig) { ::kill(pid_, sig); }
    pid_t pid() const noexcept { return pid_; }

    /// Waits up to `timeout`; returns the exit code (128+signal if killed), nullopt on timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int st = 0;
            const pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) {
                exited_ = true;
                if (WIFEXITED(st)) return WEXITSTATUS(st);
                if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
                return -1;
            }
            if (std::chrono::steady_clock::now() >= end) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }

private:
    pid_t pid_ = -1;
    bool exited_ = false;
    std::filesystem::path out_, err_;
};

}  // namespace tradingd::testing
