// tradingd entry point: everything lives in the cli component so tests can drive it.
#include <tradingd/cli/commands.hpp>

int main(int argc, char** argv) {
    return tradingd::cli::main(argc, argv);
}
