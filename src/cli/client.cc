#include "cli/client.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace dts::cli {
namespace {

// `hint` says which server was asked and how to point at another.
absl::Status FromGrpc(const grpc::Status& status, const std::string& hint) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string message = absl::StrCat(absl::StatusCodeToString(code), ": ", status.error_message());
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
    absl::StrAppend(&message, " (", hint, ")");
  }
  return absl::Status(code, message);
}

absl::Status ReadPemFile(absl::string_view flag, const std::string& path, std::string* out) {
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in || content.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read ", path));
  }
  *out = content.str();
  return absl::OkStatus();
}

// Plaintext (h2c) unless a TLS option is set. The bearer token (if any) is
// attached per call either way.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const ClientOptions& o) {
  if (o.tls_ca.empty() && o.tls_cert.empty() && o.tls_key.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-cert and --tls-key go together: ", o.tls_cert.empty() ? "--tls-cert" : "--tls-key",
        " is missing"));
  }
  grpc::SslCredentialsOptions ssl;
  for (const absl::Status& s : {ReadPemFile("--tls-ca", o.tls_ca, &ssl.pem_root_certs),
                                ReadPemFile("--tls-cert", o.tls_cert, &ssl.pem_cert_chain),
                                ReadPemFile("--tls-key", o.tls_key, &ssl.pem_private_key)}) {
    if (!s.ok()) return s;
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

Client::Client(const ClientOptions& options) : options_(options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(options);
  if (!credentials.ok()) {
    // Stubs on an insecure channel keep the accessors valid; Run() refuses
    // to use them.
    credentials_status_ = credentials.status();
    credentials = grpc::InsecureChannelCredentials();
  }
  channel_ = grpc::CreateChannel(options.server, *credentials);
  jobs_ = v1::JobService::NewStub(channel_);
  // In the distributed mode the scheduler API is its own service.
  scheduler_ = v1::SchedulerService::NewStub(
      options.scheduler_server.empty() || options.scheduler_server == options.server
          ? channel_
          : grpc::CreateChannel(options.scheduler_server, *credentials));
  executions_ = v1::ExecutionService::NewStub(channel_);
}

absl::Status Client::Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const {
  return Run(rpc, /*scheduler=*/false);
}

absl::Status Client::CallScheduler(
    const std::function<grpc::Status(grpc::ClientContext*)>& rpc) const {
  return Run(rpc, /*scheduler=*/true);
}

absl::Status Client::Run(const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
                         bool scheduler) const {
  if (!credentials_status_.ok()) return credentials_status_;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(options_.deadline));
  // gRPC refuses call credentials on an insecure channel, so the token goes
  // in as plain metadata, as the server's Authenticator expects it.
  if (!options_.token.empty()) context.AddMetadata("authorization", "Bearer " + options_.token);
  const bool separate = scheduler && !options_.scheduler_server.empty() &&
                        options_.scheduler_server != options_.server;
  const std::string hint =
      separate ? absl::StrCat("is the scheduler service running at ", options_.scheduler_server,
                              "? set --scheduler-server or DTS_SCHEDULER_SERVER")
               : absl::StrCat("is `dts server` running at ", options_.server,
                              "? set --server or DTS_SERVER");
  return FromGrpc(rpc(&context), hint);
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  return absl::IsInvalidArgument(status) ? kExitUsage : kExitFailure;
}

int Fail(Context& ctx, const absl::Status& status) {
  *ctx.err << "dts: " << status.message() << "\n";
  return ExitCodeFor(status);
}

}  // namespace dts::cli
