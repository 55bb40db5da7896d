#include "dts/cli/cli.h"

namespace dts::cli {

int Run(CLI::App& app, Context& ctx, int argc, const char* const* argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    *ctx.out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    *ctx.out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    *ctx.out << app.version() << "\n";
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    *ctx.err << "dts: " << e.what() << "\n";
    return kExitUsage;
  }
  return ctx.exit_code;
}

}  // namespace dts::cli
