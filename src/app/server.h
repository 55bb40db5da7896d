#pragma once

#include "CLI/CLI.hpp"
#include "dts/cli/cli.h"

namespace dts::app {

// Registers `dts server` and `dts migrate` on the command line.
void AddServerCommands(CLI::App& app, cli::Context& ctx);

}  // namespace dts::app
