// gRPC load generator for JobService (issue 3, "gRPC load"): keeps
// --concurrency unary calls in flight on each of --threads threads (one
// completion queue and one HTTP/2 connection per thread) for --seconds, and
// prints the rate and latency percentiles.
//
//   build/bench/grpc_load --target 127.0.0.1:50054 --method get --id <job id> --seconds 10
//   build/bench/grpc_load --target 127.0.0.1:50054 --method create --seconds 10
//
// Last line: RESULT grpc_<method> rps=<calls/s> p50_us=.. p99_us=.. errors=..

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dts/v1/job.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string target = "127.0.0.1:50054";
  std::string method = "get";
  std::string id;
  std::string cron = "0 0 1 1 *";  // created jobs should not fire during the run
  double seconds = 10;
  int threads = 1;
  int concurrency = 32;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "grpc_load: %s\nusage: grpc_load --target HOST:PORT --method get|create [--id JOB_ID]\n"
               "                 [--seconds S] [--threads T] [--concurrency C] [--cron EXPR]\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const char* v = argv[++i];
    if (flag == "--target") o.target = v;
    else if (flag == "--method") o.method = v;
    else if (flag == "--id") o.id = v;
    else if (flag == "--cron") o.cron = v;
    else if (flag == "--seconds") o.seconds = std::atof(v);
    else if (flag == "--threads") o.threads = std::atoi(v);
    else if (flag == "--concurrency") o.concurrency = std::atoi(v);
    else Usage(("unknown flag " + flag).c_str());
  }
  if (o.method != "get" && o.method != "create") Usage("--method is get or create");
  if (o.method == "get" && o.id.empty()) Usage("--method get needs --id");
  if (o.threads < 1 || o.concurrency < 1 || o.seconds <= 0) Usage("bad number");
  return o;
}

// One call in flight; its address is the completion-queue tag.
struct Call {
  grpc::ClientContext context;
  grpc::Status status;
  dts::v1::JobResponse get_reply;
  dts::v1::CreateJobResponse create_reply;
  std::unique_ptr<grpc::ClientAsyncResponseReader<dts::v1::JobResponse>> get_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<dts::v1::CreateJobResponse>> create_reader;
  Clock::time_point started;
};

struct ThreadResult {
  uint64_t ok = 0;
  uint64_t errors = 0;
  std::string first_error;
  std::vector<uint32_t> latency_us;  // sampled: every call
};

void Worker(const Options& o, int index, Clock::time_point end, ThreadResult& result) {
  // A distinct channel argument per thread gives each its own connection.
  grpc::ChannelArguments args;
  args.SetInt("dts.bench.thread", index);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args);
  std::unique_ptr<dts::v1::JobService::Stub> stub = dts::v1::JobService::NewStub(channel);
  grpc::CompletionQueue cq;

  dts::v1::GetJobRequest get;
  get.set_id(o.id);
  dts::v1::CreateJobRequest create;
  create.set_name("bench");
  create.set_cron_expression(o.cron);

  const auto start_call = [&](Call* call) {
    call->started = Clock::now();
    if (o.method == "get") {
      call->get_reader = stub->PrepareAsyncGetJob(&call->context, get, &cq);
      call->get_reader->StartCall();
      call->get_reader->Finish(&call->get_reply, &call->status, call);
    } else {
      call->create_reader = stub->PrepareAsyncCreateJob(&call->context, create, &cq);
      call->create_reader->StartCall();
      call->create_reader->Finish(&call->create_reply, &call->status, call);
    }
  };

  int in_flight = 0;
  for (int i = 0; i < o.concurrency; ++i) {
    start_call(new Call);
    ++in_flight;
  }
  result.latency_us.reserve(1 << 20);
  void* tag = nullptr;
  bool ok = false;
  while (in_flight > 0 && cq.Next(&tag, &ok)) {
    std::unique_ptr<Call> call(static_cast<Call*>(tag));
    --in_flight;
    const Clock::time_point now = Clock::now();
    if (ok && call->status.ok()) {
      ++result.ok;
      result.latency_us.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - call->started).count()));
    } else {
      ++result.errors;
      if (result.first_error.empty()) result.first_error = call->status.error_message();
    }
    if (now < end) {
      start_call(new Call);
      ++in_flight;
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) delete static_cast<Call*>(tag);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<ThreadResult> results(o.threads);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.threads; ++i) {
    threads.emplace_back(Worker, std::cref(o), i, end, std::ref(results[i]));
  }
  for (std::thread& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  uint64_t ok = 0, errors = 0;
  std::vector<uint32_t> latency;
  std::string first_error;
  for (ThreadResult& r : results) {
    ok += r.ok;
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
    latency.insert(latency.end(), r.latency_us.begin(), r.latency_us.end());
  }
  std::sort(latency.begin(), latency.end());
  const auto pct = [&](double p) -> uint32_t {
    if (latency.empty()) return 0;
    return latency[std::min(latency.size() - 1, static_cast<size_t>(p * static_cast<double>(latency.size())))];
  };
  const double rps = static_cast<double>(ok) / elapsed;
  std::printf("grpc_load %s: %d thread(s) x %d in flight, %.1f s: %llu ok, %llu errors, %.0f calls/s\n",
              o.method.c_str(), o.threads, o.concurrency, elapsed, static_cast<unsigned long long>(ok),
              static_cast<unsigned long long>(errors), rps);
  std::printf("latency: p50 %u us, p99 %u us, max %u us\n", pct(0.50), pct(0.99),
              latency.empty() ? 0 : latency.back());
  if (!first_error.empty()) std::printf("first error: %s\n", first_error.c_str());
  std::printf("RESULT grpc_%s rps=%.0f p50_us=%u p99_us=%u errors=%llu\n", o.method.c_str(), rps,
              pct(0.50), pct(0.99), static_cast<unsigned long long>(errors));
  return ok > 0 ? 0 : 1;
}
