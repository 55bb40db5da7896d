// Registers the gRPC client commands and their global flags.

#include <cstdlib>
#include <memory>
#include <string>

#include "cli/commands.h"

namespace dts::cli {
namespace {

void AddGlobalOptions(CLI::App& app, ClientOptions& o) {
  app.add_option("--server", o.server, "gRPC address of the DTS server, HOST:PORT")
      ->envname("DTS_SERVER")
      ->capture_default_str()
      ->check([](const std::string& value) {
        return value.empty() ? std::string("must be HOST:PORT") : std::string();
      });
  app.add_option("--scheduler-server", o.scheduler_server,
                 "gRPC address of the scheduler service for `scheduler` and `worker` "
                 "commands (distributed mode); default: --server")
      ->envname("DTS_SCHEDULER_SERVER");
  app.add_option("-o,--output", o.output, "Output format")
      ->capture_default_str()
      ->transform(CLI::IsMember({"table", "json"}, CLI::ignore_case));
  // --token, else $DTS_TOKEN, else $DTS_API_TOKEN (its name before roles).
  if (const char* legacy = std::getenv("DTS_API_TOKEN"); legacy != nullptr) o.token = legacy;
  app.add_option("--token", o.token,
                 "API token, sent as `authorization: Bearer <token>` (else $DTS_TOKEN, $DTS_API_TOKEN)")
      ->envname("DTS_TOKEN");
  // Any of the three turns TLS on (docs/security.md).
  app.add_option("--tls-ca", o.tls_ca, "PEM CA bundle to verify the server's TLS certificate")
      ->envname("DTS_TLS_CA");
  app.add_option("--tls-cert", o.tls_cert, "PEM client certificate, for a server with --tls-ca")
      ->envname("DTS_TLS_CERT");
  app.add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert")->envname("DTS_TLS_KEY");
}

}  // namespace

void AddClientCommands(CLI::App& app, Context& ctx) {
  // The commands read the options only after parsing; the shared_ptr their
  // callbacks hold keeps the storage the flags write to alive.
  auto options = std::make_shared<ClientOptions>();
  AddGlobalOptions(app, *options);
  AddJobCommands(app, ctx, options);
  AddSchedulerCommands(app, ctx, options);
  AddWorkerCommands(app, ctx, options);
  AddExecutionCommands(app, ctx, options);
}

}  // namespace dts::cli
