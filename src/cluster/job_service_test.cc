// `dts job-service` end to end against the real Kafka and Cassandra of
// scripts/services.sh (label kafka; CI starts both before these tests): the
// real binary on a freshly migrated keyspace, driven over gRPC, and dts.jobs
// read back with the messaging module's consumer. Every change of a job is
// published, keyed by job id on its shard's partition, and a deletion is a
// tombstone.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dts/common/clock.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/consumer.h"
#include "dts/storage/shard.h"
#include "dts/v1/job.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"

extern char** environ;

namespace dts::cluster {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

std::string Brokers() {
  return EnvOr("KAFKA_BROKERS", absl::StrCat("127.0.0.1:", EnvOr("DTS_KAFKA_PORT", "9092")));
}

// Runs the dts binary with `args` and extra environment; returns its pid.
pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& log) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : env) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {DTS_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, DTS_BINARY, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of "key" in the one-line JSON the ready file holds.
std::string ReadyField(const std::string& json, const std::string& key) {
  const std::string marker = absl::StrCat("\"", key, "\":\"");
  const size_t at = json.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = at + marker.size();
  return json.substr(start, json.find('"', start) - start);
}

class JobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/dts-job-service-", getpid());
    std::filesystem::create_directories(dir_);
    env_ = {{"CASSANDRA_KEYSPACE", absl::StrCat("dts_job_service_", getpid())},
            {"CASSANDRA_HOSTS",
             EnvOr("CASSANDRA_HOSTS", absl::StrCat("127.0.0.1:", EnvOr("DTS_CASSANDRA_PORT", "9042")))},
            {"CASSANDRA_USERNAME", EnvOr("CASSANDRA_USERNAME", "cassandra")},
            {"CASSANDRA_PASSWORD", EnvOr("CASSANDRA_PASSWORD", "cassandra")},
            {"KAFKA_BROKERS", Brokers()}};
    const pid_t migrate = Spawn({"migrate", "--backend", "cassandra"}, env_, dir_ + "/migrate.log");
    ASSERT_GT(migrate, 0);
    ASSERT_EQ(WaitExit(migrate), 0) << ReadFile(dir_ + "/migrate.log");
    const std::string ready = dir_ + "/ready.json";
    service_ = Spawn({"job-service", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                      "--ready-file", ready},
                     env_, dir_ + "/service.log");
    ASSERT_GT(service_, 0);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!std::filesystem::exists(ready)) {
      int status = 0;
      ASSERT_EQ(waitpid(service_, &status, WNOHANG), 0) << ReadFile(dir_ + "/service.log");
      ASSERT_LT(absl::Now(), deadline) << "not ready: " << ReadFile(dir_ + "/service.log");
      absl::SleepFor(absl::Milliseconds(50));
    }
    channel_ = grpc::CreateChannel(ReadyField(ReadFile(ready), "grpc"),
                                   grpc::InsecureChannelCredentials());
    jobs_ = v1::JobService::NewStub(channel_);
  }

  void TearDown() override {
    if (service_ > 0) {
      kill(service_, SIGTERM);
      EXPECT_EQ(WaitExit(service_), 0) << ReadFile(dir_ + "/service.log");
    }
    std::filesystem::remove_all(dir_);
  }

  grpc::Status Call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return rpc(&context);
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
  pid_t service_ = -1;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
};

TEST_F(JobServiceTest, EveryChangeOfAJobIsPublishedOnItsShard) {
  v1::CreateJobRequest create;
  create.set_name("published");
  create.set_cron_expression("0 0 1 1 *");
  v1::CreateJobResponse created;
  grpc::Status s = Call([&](auto* c) { return jobs_->CreateJob(c, create, &created); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string id = created.job_id();

  v1::PauseJobRequest pause;
  pause.set_id(id);
  v1::JobResponse paused;
  s = Call([&](auto* c) { return jobs_->PauseJob(c, pause, &paused); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::DeleteJobRequest remove;
  remove.set_id(id);
  v1::DeleteJobResponse removed;
  s = Call([&](auto* c) { return jobs_->DeleteJob(c, remove, &removed); });
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Read dts.jobs from the beginning and keep this job's messages.
  absl::Mutex mu;
  std::vector<messaging::ConsumedMessage> seen;
  messaging::KafkaConfig config;
  config.brokers = Brokers();
  messaging::ConsumerOptions options;
  options.group_id = absl::StrCat("dts-job-service-test-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  options.topics = {messaging::kJobsTopic};
  options.handler = [&](const messaging::ConsumedMessage& m) {
    if (m.key == id) {
      absl::MutexLock lock(&mu);
      seen.push_back(m);
    }
    return absl::OkStatus();
  };
  RealClock clock;
  absl::StatusOr<std::unique_ptr<messaging::KafkaConsumer>> consumer =
      messaging::KafkaConsumer::Create(config, options, &clock);
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  {
    absl::MutexLock lock(&mu);
    auto three = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return seen.size() >= 3; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), absl::Seconds(60)))
        << "messages of job " << id << ": " << seen.size();
  }
  (*consumer)->Close();

  absl::MutexLock lock(&mu);
  ASSERT_EQ(seen.size(), 3u);
  const int32_t shard = static_cast<int32_t>(storage::ShardOf(JobId(id), 64));
  for (const messaging::ConsumedMessage& m : seen) EXPECT_EQ(m.partition, shard);
  v1::JobResponse first, second;
  ASSERT_TRUE(seen[0].value && first.ParseFromString(*seen[0].value));
  ASSERT_TRUE(seen[1].value && second.ParseFromString(*seen[1].value));
  EXPECT_EQ(first.name(), "published");
  EXPECT_EQ(first.status(), "ACTIVE");
  EXPECT_EQ(second.status(), "PAUSED");
  EXPECT_FALSE(seen[2].value.has_value());  // the deletion: a tombstone
}

TEST_F(JobServiceTest, BadRequestsChangeNothingAndPublishNothing) {
  v1::CreateJobRequest create;
  create.set_name("bad");
  create.set_cron_expression("not a cron");
  v1::CreateJobResponse created;
  grpc::Status s = Call([&](auto* c) { return jobs_->CreateJob(c, create, &created); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("cron_expression"), std::string::npos) << s.error_message();
  v1::ListJobsRequest list;
  v1::ListJobsResponse page;
  s = Call([&](auto* c) { return jobs_->ListJobs(c, list, &page); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(page.total(), 0);
}

}  // namespace
}  // namespace dts::cluster
