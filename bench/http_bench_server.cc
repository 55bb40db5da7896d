// dts_http with API-shaped routes, to measure the module's own overhead
// against http_hello (bare Beast) with wrk:
//   GET  /v1/jobs/{id}   small JSON (the route compared with http_hello)
//   POST /v1/jobs        201 with a small JSON (bench/http/post_job.lua)
//
//   build/bench/http_bench_server [port]   prints the port, runs until SIGINT/SIGTERM

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "dts/http/errors.h"
#include "dts/http/router.h"
#include "dts/http/server.h"

namespace {

using dts::http::PathParams;
using dts::http::Request;
using dts::http::Response;

Response GetJob(const Request&, const PathParams& params) {
  return Response{.body = absl::StrCat(R"({"id":")", dts::http::JsonEscape(params.at("id")),
                                       R"(","name":"bench","status":"ACTIVE"})")};
}

Response CreateJob(const Request& request, const PathParams&) {
  if (request.body.empty()) {
    return dts::http::StatusResponse(absl::InvalidArgumentError("empty body"));
  }
  return Response{.status = 201,
                  .body = R"({"id":"00000000-0000-4000-8000-000000000000","name":"bench"})"};
}

}  // namespace

int main(int argc, char** argv) {
  // Block the signals before the server starts its threads, which inherit
  // the mask, so that sigwait below is the only receiver.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  dts::http::Router router;
  router.Add("GET", "/v1/jobs/{id}", GetJob);
  router.Add("POST", "/v1/jobs", CreateJob);
  dts::http::ServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", argc > 1 ? std::atoi(argv[1]) : 0);
  options.log_error = [](absl::string_view message) { std::cerr << message << "\n"; };
  auto server = dts::http::Server::Create(options, &router);
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  std::cout << (*server)->port() << std::endl;

  int received = 0;
  sigwait(&signals, &received);
  (*server)->Shutdown();
  return 0;
}
