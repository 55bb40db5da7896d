#pragma once

#include "CLI/CLI.hpp"
#include "dts/cli/cli.h"

namespace dts::app {

// Registers the distributed mode's services on the command line:
// `dts job-service` (so far).
void AddServiceCommands(CLI::App& app, cli::Context& ctx);

}  // namespace dts::app
