#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "dts/cli/cli.h"
#include "dts/v1/execution.grpc.pb.h"
#include "dts/v1/job.grpc.pb.h"
#include "dts/v1/scheduler.grpc.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace dts::cli {

// The global flags of the client commands (`--server`, `-o`, `--token`).
struct ClientOptions {
  std::string server = "localhost:50054";
  // `dts scheduler ...` and `dts worker ...`; empty: the same as `server`.
  std::string scheduler_server;
  std::string output = "table";
  std::string token;
  // TLS when any is set: the CAs that sign the server's certificate (empty:
  // the system's roots) and a client certificate and key (mTLS).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // Every RPC gets this deadline, so a hung server cannot hang the CLI.
  absl::Duration deadline = absl::Seconds(30);

  bool json() const { return output == "json"; }
};

// One gRPC channel to the server and its three service stubs.
class Client {
 public:
  explicit Client(const ClientOptions& options);

  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::SchedulerService::Stub& scheduler() { return *scheduler_; }
  v1::ExecutionService::Stub& executions() { return *executions_; }

  // Runs one RPC with the deadline and credentials set on its context. The
  // error keeps the gRPC code and says it in the message ("NOT_FOUND: ...").
  absl::Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const;
  // The same for an RPC of scheduler(): an unreachable server is named as
  // the scheduler server (--scheduler-server).
  absl::Status CallScheduler(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const;

 private:
  absl::Status Run(const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
                   bool scheduler) const;

  ClientOptions options_;
  // Not OK when a TLS file cannot be used: Run() returns it without calling.
  absl::Status credentials_status_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::SchedulerService::Stub> scheduler_;
  std::unique_ptr<v1::ExecutionService::Stub> executions_;
};

// The exit code for a command's outcome: 0 ok, 2 INVALID_ARGUMENT (the input
// was wrong), 1 anything else.
int ExitCodeFor(const absl::Status& status);

// Prints "dts: <message>" on ctx.err and returns ExitCodeFor(status).
int Fail(Context& ctx, const absl::Status& status);

}  // namespace dts::cli
