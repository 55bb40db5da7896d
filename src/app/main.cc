// The composition root: builds the `dts` command from the modules.

#include <iostream>

#include "CLI/CLI.hpp"
#include "app/server.h"
#include "app/services.h"
#include "dts/cli/cli.h"
#include "dts/common/clock.h"

int main(int argc, char** argv) {
  dts::RealClock clock;
  dts::cli::Context ctx{&std::cout, &std::cerr, &clock};
  CLI::App app{"DTS: a distributed task scheduler", "dts"};
  app.set_version_flag("--version", "dts 0.1.0");
  app.require_subcommand(1);
  dts::cli::AddCronCommands(app, ctx);
  dts::cli::AddClientCommands(app, ctx);
  dts::app::AddServerCommands(app, ctx);
  dts::app::AddServiceCommands(app, ctx);
  return dts::cli::Run(app, ctx, argc, argv);
}
