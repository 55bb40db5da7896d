// WorkerAgent against the real Kafka and Cassandra of scripts/services.sh
// (label kafka; CI starts both): a keyspace of this binary's own, and topics
// and a consumer group of each test's own, so tests never see each other's
// tasks. Real commands run through the local executor. Every wait polls a
// condition with a 60 s guard; no assertion depends on timing.

#include "dts/cluster/worker_agent.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "dts/common/id_generator.h"
#include "dts/execution/executor.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/consumer.h"
#include "dts/messaging/producer.h"
#include "dts/model/time_convert.h"
#include "dts/storage/cassandra_store.h"
#include "dts/storage/shard.h"
#include "gtest/gtest.h"
#include "storage/cassandra/test_env.h"

namespace dts::cluster {
namespace {

constexpr int kShards = 2;  // partitions of the test's tasks and run-events topics
constexpr absl::Duration kGuard = absl::Seconds(60);

std::string Brokers() {
  return storage::testing::EnvOr(
      "KAFKA_BROKERS",
      absl::StrCat("127.0.0.1:", storage::testing::EnvOr("DTS_KAFKA_PORT", "9092")).c_str());
}

messaging::KafkaConfig Kafka() {
  messaging::KafkaConfig config;
  config.brokers = Brokers();
  return config;
}

// Polls `condition` until it holds or the guard passes.
bool Eventually(const std::function<bool()>& condition) {
  const absl::Time deadline = absl::Now() + kGuard;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The keyspace of this binary, migrated once, dropped at exit.
class KeyspaceEnvironment : public ::testing::Environment {
 public:
  static std::string name;
  void SetUp() override {
    name = storage::testing::UniqueKeyspace("dts_worker_agent");
    absl::StatusOr<std::vector<std::string>> applied =
        storage::MigrateCassandra(storage::testing::TestConfig(name));
    ASSERT_TRUE(applied.ok()) << applied.status();
  }
  void TearDown() override {
    absl::StatusOr<cql::ClientOptions> options =
        storage::CassandraClientOptions(storage::testing::TestConfig(name));
    if (!options.ok()) return;
    absl::StatusOr<std::unique_ptr<cql::Client>> client = cql::Client::Create(*options);
    if (!client.ok()) return;
    (void)(*client)->Query(cql::Statement(absl::StrCat("DROP KEYSPACE IF EXISTS ", name))
                               .WithTimeout(absl::Seconds(60)));
  }
};
std::string KeyspaceEnvironment::name;
[[maybe_unused]] const auto* const kKeyspace = ::testing::AddGlobalTestEnvironment(new KeyspaceEnvironment);

// Reads a topic from the beginning and keeps every message.
class Collector {
 public:
  explicit Collector(const std::string& topic) {
    messaging::ConsumerOptions options;
    options.group_id = absl::StrCat("collector-", RandomIdGenerator().NewUuid());
    options.topics = {topic};
    options.handler = [this](const messaging::ConsumedMessage& m) {
      absl::MutexLock lock(&mu_);
      messages_.push_back(m);
      return absl::OkStatus();
    };
    absl::StatusOr<std::unique_ptr<messaging::KafkaConsumer>> consumer =
        messaging::KafkaConsumer::Create(Kafka(), options, &clock_);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (consumer.ok()) consumer_ = *std::move(consumer);
  }
  ~Collector() {
    if (consumer_) consumer_->Close();
  }

  std::vector<messaging::ConsumedMessage> Messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  RealClock clock_;
  mutable absl::Mutex mu_;
  std::vector<messaging::ConsumedMessage> messages_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<messaging::KafkaConsumer> consumer_;
};

class WorkerAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(KeyspaceEnvironment::name.empty());
    const std::string suffix = RandomIdGenerator().NewUuid().substr(0, 8);
    tasks_topic_ = absl::StrCat("test.tasks.", suffix);
    heartbeats_topic_ = absl::StrCat("test.heartbeats.", suffix);
    events_topic_ = absl::StrCat("test.run-events.", suffix);
    group_ = absl::StrCat("test-workers-", suffix);
    worker_id_ = absl::StrCat("worker-", suffix);
    dir_ = absl::StrCat(::testing::TempDir(), "/dts-worker-agent-", suffix);
    std::filesystem::create_directories(dir_);

    absl::StatusOr<std::unique_ptr<messaging::KafkaAdmin>> admin = messaging::KafkaAdmin::Create(Kafka());
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *std::move(admin);
    std::vector<messaging::TopicSpec> topics;
    for (const std::string& name : {tasks_topic_, heartbeats_topic_, events_topic_}) {
      topics.push_back({.name = name,
                        .partitions = name == heartbeats_topic_ ? 1 : kShards,
                        .replication_factor = 1,
                        .configs = {},
                        .strict = false});
    }
    ASSERT_TRUE(admin_->EnsureTopics(topics, absl::Seconds(30)).ok());

    storage::CassandraStore::Options store_options;
    store_options.config = storage::testing::TestConfig(KeyspaceEnvironment::name);
    store_options.shard_count = kShards;
    absl::StatusOr<std::unique_ptr<storage::CassandraStore>> store =
        storage::CassandraStore::Create(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);

    absl::StatusOr<std::unique_ptr<messaging::KafkaProducer>> producer =
        messaging::KafkaProducer::Create(Kafka());
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = *std::move(producer);

    execution::ExecutorOptions executor_options;
    executor_options.use_cgroups = false;
    executor_options.kill_grace = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<execution::Executor>> executor =
        execution::CreateLocalExecutor(&clock_, executor_options);
    ASSERT_TRUE(executor.ok()) << executor.status();
    executor_ = *std::move(executor);

    events_ = std::make_unique<Collector>(events_topic_);
    heartbeats_ = std::make_unique<Collector>(heartbeats_topic_);
  }

  void TearDown() override {
    agents_.clear();  // Shutdown() each
    events_.reset();
    heartbeats_.reset();
    if (executor_) executor_->Shutdown();
    if (producer_) producer_->Close();
    if (admin_) {
      (void)admin_->DeleteTopics({tasks_topic_, heartbeats_topic_, events_topic_}, absl::Seconds(30));
    }
    std::filesystem::remove_all(dir_);
  }

  WorkerAgent::Options AgentOptions(const std::string& worker_id) {
    WorkerAgent::Options options;
    options.worker_id = WorkerId(worker_id);
    options.labels = {{"zone", "test"}};
    options.capacity = {.cpu_millis = 1000, .memory_mib = 1024, .storage_mib = 100};
    options.heartbeat_interval = absl::Milliseconds(200);
    options.drain_timeout = absl::Seconds(30);
    options.http_address = "127.0.0.1:8082";
    options.retry_initial_backoff = absl::Milliseconds(50);
    options.tasks_topic = tasks_topic_;
    options.heartbeats_topic = heartbeats_topic_;
    options.run_events_topic = events_topic_;
    options.group_id = group_;
    // For the test log: what the agent reports is never an assertion.
    options.on_error = [](const absl::Status& s) {
      std::fprintf(stderr, "agent: %s\n", s.ToString().c_str());
    };
    return options;
  }

  WorkerAgent* StartAgent(WorkerAgent::Options options) {
    absl::StatusOr<std::unique_ptr<WorkerAgent>> agent = WorkerAgent::Create(
        Kafka(), kShards, store_.get(), executor_.get(), producer_.get(), &clock_, std::move(options));
    EXPECT_TRUE(agent.ok()) << agent.status();
    if (!agent.ok()) return nullptr;
    agents_.push_back(*std::move(agent));
    return agents_.back().get();
  }
  WorkerAgent* StartAgent() { return StartAgent(AgentOptions(worker_id_)); }

  // A stored job running `script` with /bin/sh (none: no executor).
  Job StoredJob(const std::string& script, int priority = 0) {
    Job job;
    job.set_id(RandomIdGenerator().NewUuid());
    job.set_name("worker-agent-test");
    job.set_cron_expression("0 0 1 1 *");
    job.set_priority(priority);
    if (!script.empty()) {
      job.mutable_executor()->mutable_command()->add_argv(script);
      job.mutable_executor()->mutable_command()->set_shell(true);
    }
    ApplyJobDefaults(job);
    *job.mutable_created_at() = ToProto(clock_.Now());
    EXPECT_TRUE(store_->CreateJob(job).ok());
    return job;
  }

  // A stored run of `job` in `status`, granted `cpu` millicores.
  dts::Run StoredRun(const Job& job, int cpu = 100, const std::string& status = "PENDING") {
    dts::Run run;
    run.set_id(RandomIdGenerator().NewUuid());
    run.set_job_id(job.id());
    run.set_status(status);
    run.set_attempt(1);
    run.set_trigger("SCHEDULE");
    *run.mutable_scheduled_time() = ToProto(clock_.Now());
    *run.mutable_created_at() = ToProto(clock_.Now());
    run.set_worker_id(worker_id_);
    run.mutable_resources()->set_cpu(cpu);
    run.mutable_resources()->set_memory(64);
    EXPECT_TRUE(store_->CreateRun(run).ok());
    return run;
  }

  // Publishes a task for `run` (as placed) to partition 0 of the tasks
  // topic, so that tasks sent one after another are consumed in that order.
  void SendTask(v1::TaskMessage::Kind kind, const Job& job, const dts::Run& run) {
    v1::TaskMessage task;
    task.set_kind(kind);
    *task.mutable_run() = run;
    *task.mutable_job() = job;
    task.set_scheduler_id("test");
    messaging::OutgoingMessage message;
    message.topic = tasks_topic_;
    message.key = run.id();
    message.value = task.SerializeAsString();
    message.partition = 0;
    absl::StatusOr<messaging::Delivery> sent = producer_->Send(std::move(message), absl::Seconds(30));
    ASSERT_TRUE(sent.ok()) << sent.status();
  }

  // The run-events published for `run_id`.
  std::vector<std::pair<messaging::ConsumedMessage, dts::Run>> EventsOf(const std::string& run_id) {
    std::vector<std::pair<messaging::ConsumedMessage, dts::Run>> out;
    for (const messaging::ConsumedMessage& m : events_->Messages()) {
      dts::Run run;
      if (m.value && run.ParseFromString(*m.value) && run.id() == run_id) out.emplace_back(m, run);
    }
    return out;
  }
  // Waits for the first run-event of `run_id`.
  std::optional<dts::Run> AwaitEvent(const std::string& run_id) {
    if (!Eventually([&] { return !EventsOf(run_id).empty(); })) return std::nullopt;
    return EventsOf(run_id).front().second;
  }

  std::vector<v1::WorkerHeartbeat> HeartbeatsOf(const std::string& worker_id) {
    std::vector<v1::WorkerHeartbeat> out;
    for (const messaging::ConsumedMessage& m : heartbeats_->Messages()) {
      v1::WorkerHeartbeat hb;
      if (m.value && hb.ParseFromString(*m.value) && hb.worker_id() == worker_id) out.push_back(hb);
    }
    return out;
  }

  std::string StoredStatus(const dts::Run& run) {
    absl::StatusOr<dts::Run> stored = store_->GetRun(RunId(run.id()));
    return stored.ok() ? stored->status() : stored.status().ToString();
  }

  // Whether the agent's current heartbeat holds `run` started (or waiting).
  static bool Holds(const WorkerAgent& agent, const dts::Run& run, bool started) {
    const v1::WorkerHeartbeat hb = agent.Heartbeat();
    for (const v1::HeldRun& held : hb.runs()) {
      if (held.run_id() == run.id()) return held.started() == started;
    }
    return false;
  }

  // A script that runs until `gate` exists.
  std::string UntilGate(const std::string& gate) {
    return absl::StrCat("while [ ! -e '", gate, "' ]; do sleep 0.02; done; echo opened");
  }
  void Open(const std::string& gate) { std::ofstream(gate) << "\n"; }

  RealClock clock_;
  std::string tasks_topic_, heartbeats_topic_, events_topic_, group_, worker_id_, dir_;
  std::unique_ptr<messaging::KafkaAdmin> admin_;
  std::unique_ptr<storage::CassandraStore> store_;
  std::unique_ptr<messaging::KafkaProducer> producer_;
  std::unique_ptr<execution::Executor> executor_;
  std::unique_ptr<Collector> events_;
  std::unique_ptr<Collector> heartbeats_;
  std::vector<std::unique_ptr<WorkerAgent>> agents_;
};

TEST(PartitionOffsetsTest, CommitsBelowTheLowestOffsetInFlight) {
  PartitionOffsets offsets;
  offsets.Begin(10);
  offsets.Begin(11);
  offsets.Begin(12);
  EXPECT_EQ(offsets.End(11), std::nullopt);  // 10 still in flight
  EXPECT_EQ(offsets.End(10), 12);            // 10 and 11 done: position 12
  EXPECT_EQ(offsets.End(10), std::nullopt);  // not in flight any more
  EXPECT_EQ(offsets.End(12), 13);
  offsets.Begin(13);
  offsets.Begin(14);
  EXPECT_EQ(offsets.End(14), std::nullopt);
  EXPECT_EQ(offsets.End(99), std::nullopt);  // never begun
  EXPECT_EQ(offsets.End(13), 15);
}

TEST_F(WorkerAgentTest, StartRunsTheCommandRecordsAndPublishesTheOutcome) {
  StartAgent();
  const Job job = StoredJob("echo hello; echo oops >&2");
  const dts::Run run = StoredRun(job);
  SendTask(v1::TaskMessage::START, job, run);

  const std::optional<dts::Run> ended = AwaitEvent(run.id());
  ASSERT_TRUE(ended.has_value()) << "no run-event for " << run.id();
  EXPECT_EQ(ended->status(), "COMPLETED") << ended->error();
  EXPECT_EQ(ended->result(), "hello\noops\n");
  EXPECT_EQ(ended->exit_code(), 0);
  EXPECT_EQ(ended->worker_id(), worker_id_);
  EXPECT_TRUE(ended->has_start_time() && ended->has_end_time());
  EXPECT_EQ(ended->attempt(), 1);
  const messaging::ConsumedMessage event = EventsOf(run.id()).front().first;
  EXPECT_EQ(event.key, job.id());
  EXPECT_EQ(event.partition, storage::ShardOf(JobId(job.id()), kShards));

  absl::StatusOr<dts::Run> stored = store_->GetRun(RunId(run.id()));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->SerializeAsString(), ended->SerializeAsString());
}

TEST_F(WorkerAgentTest, AJobWithoutExecutorCompletesWithOneWrite) {
  StartAgent();
  const Job job = StoredJob("");
  const dts::Run run = StoredRun(job, /*cpu=*/100, "QUEUED");
  SendTask(v1::TaskMessage::START, job, run);
  const std::optional<dts::Run> ended = AwaitEvent(run.id());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status(), "COMPLETED");
  EXPECT_EQ(ended->worker_id(), worker_id_);
  EXPECT_EQ(FromProto(ended->start_time()), FromProto(ended->end_time()));
  EXPECT_EQ(StoredStatus(run), "COMPLETED");
}

TEST_F(WorkerAgentTest, TheSameStartDeliveredTwiceRunsOnce) {
  StartAgent();
  const std::string marks = dir_ + "/marks";
  const Job job = StoredJob(absl::StrCat("echo ran >> '", marks, "'"));
  const dts::Run run = StoredRun(job);
  SendTask(v1::TaskMessage::START, job, run);
  SendTask(v1::TaskMessage::START, job, run);
  // Tasks of one partition are handled in order, so once a later task is
  // done the duplicate has been handled too.
  const Job timer = StoredJob("");
  const dts::Run sentinel = StoredRun(timer);
  SendTask(v1::TaskMessage::START, timer, sentinel);

  ASSERT_TRUE(AwaitEvent(sentinel.id()).has_value());
  const std::optional<dts::Run> ended = AwaitEvent(run.id());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status(), "COMPLETED");
  EXPECT_EQ(ReadFile(marks), "ran\n");
  EXPECT_EQ(EventsOf(run.id()).size(), 1u);
}

TEST_F(WorkerAgentTest, ATaskWhoseRunIsAlreadyClaimedIsSkipped) {
  StartAgent();
  const std::string marks = dir_ + "/marks";
  const Job job = StoredJob(absl::StrCat("echo ran >> '", marks, "'"));
  dts::Run run = StoredRun(job);
  // Another worker claimed it first.
  dts::Run elsewhere = run;
  elsewhere.set_status("RUNNING");
  elsewhere.set_worker_id("another-worker");
  ASSERT_TRUE(store_->TransitionRun(elsewhere, "PENDING").value());
  SendTask(v1::TaskMessage::START, job, run);
  const Job timer = StoredJob("");
  const dts::Run sentinel = StoredRun(timer);
  SendTask(v1::TaskMessage::START, timer, sentinel);

  ASSERT_TRUE(AwaitEvent(sentinel.id()).has_value());
  EXPECT_FALSE(std::filesystem::exists(marks));
  EXPECT_TRUE(EventsOf(run.id()).empty());
  absl::StatusOr<dts::Run> stored = store_->GetRun(RunId(run.id()));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status(), "RUNNING");
  EXPECT_EQ(stored->worker_id(), "another-worker");
}

TEST_F(WorkerAgentTest, RunsThatDoNotFitWaitAndStartByPriorityWhenCapacityFrees) {
  WorkerAgent* agent = StartAgent();  // 1000 millicores
  const std::string gate = dir_ + "/gate";
  const Job big = StoredJob(UntilGate(gate));
  const dts::Run first = StoredRun(big, /*cpu=*/1000);
  SendTask(v1::TaskMessage::START, big, first);
  ASSERT_TRUE(Eventually([&] { return Holds(*agent, first, /*started=*/true); }));

  const Job low = StoredJob("echo low", /*priority=*/0);
  const dts::Run low_run = StoredRun(low, /*cpu=*/600);
  const Job high = StoredJob("echo high", /*priority=*/5);
  const dts::Run high_run = StoredRun(high, /*cpu=*/600);
  SendTask(v1::TaskMessage::START, low, low_run);
  SendTask(v1::TaskMessage::START, high, high_run);
  ASSERT_TRUE(Eventually([&] {
    return Holds(*agent, low_run, /*started=*/false) && Holds(*agent, high_run, /*started=*/false);
  }));
  // Held, not claimed: still as the scheduler placed them.
  EXPECT_EQ(StoredStatus(low_run), "PENDING");
  EXPECT_EQ(StoredStatus(high_run), "PENDING");
  const v1::WorkerHeartbeat hb = agent->Heartbeat();
  EXPECT_EQ(hb.waiting_runs(), 2);
  EXPECT_FALSE(hb.runs_truncated());

  Open(gate);
  const std::optional<dts::Run> first_end = AwaitEvent(first.id());
  const std::optional<dts::Run> low_end = AwaitEvent(low_run.id());
  const std::optional<dts::Run> high_end = AwaitEvent(high_run.id());
  ASSERT_TRUE(first_end && low_end && high_end);
  EXPECT_EQ(low_end->status(), "COMPLETED");
  EXPECT_EQ(high_end->status(), "COMPLETED");
  // 600 + 600 > 1000: one after the other, the higher priority first.
  EXPECT_GE(FromProto(high_end->start_time()), FromProto(first_end->end_time()));
  EXPECT_GE(FromProto(low_end->start_time()), FromProto(high_end->end_time()));
}

TEST_F(WorkerAgentTest, AHeartbeatListsEveryRunHoldingCapacityButBoundsTheWaitingOnes) {
  WorkerAgent::Options options = AgentOptions(worker_id_);
  options.max_listed_waiting = 1;
  WorkerAgent* agent = StartAgent(std::move(options));  // 1000 millicores
  const std::string gate = dir_ + "/gate";
  const Job big = StoredJob(UntilGate(gate));
  const dts::Run first = StoredRun(big, /*cpu=*/1000);
  SendTask(v1::TaskMessage::START, big, first);
  ASSERT_TRUE(Eventually([&] { return Holds(*agent, first, /*started=*/true); }));
  const Job later = StoredJob("echo later");
  std::vector<dts::Run> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(StoredRun(later, /*cpu=*/600));
    SendTask(v1::TaskMessage::START, later, waiting.back());
  }
  ASSERT_TRUE(Eventually([&] { return agent->Heartbeat().waiting_runs() == 3; }));
  const v1::WorkerHeartbeat hb = agent->Heartbeat();
  EXPECT_TRUE(hb.runs_truncated());
  ASSERT_EQ(hb.runs_size(), 2);  // the running one, and one waiting
  EXPECT_TRUE(Holds(*agent, first, /*started=*/true));
  Open(gate);
  for (const dts::Run& run : waiting) ASSERT_TRUE(AwaitEvent(run.id()).has_value());
}

TEST_F(WorkerAgentTest, CancelStopsARunningCommand) {
  WorkerAgent* agent = StartAgent();
  const Job job = StoredJob("sleep 300");
  const dts::Run run = StoredRun(job);
  SendTask(v1::TaskMessage::START, job, run);
  ASSERT_TRUE(Eventually([&] { return Holds(*agent, run, /*started=*/true); }));
  EXPECT_EQ(StoredStatus(run), "RUNNING");
  SendTask(v1::TaskMessage::CANCEL, job, run);

  const std::optional<dts::Run> ended = AwaitEvent(run.id());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status(), "CANCELLED");
  EXPECT_EQ(StoredStatus(run), "CANCELLED");
}

TEST_F(WorkerAgentTest, CancelOfAWaitingRunRecordsItCancelledWithoutRunningIt) {
  WorkerAgent* agent = StartAgent();
  const std::string gate = dir_ + "/gate";
  const std::string marks = dir_ + "/marks";
  const Job big = StoredJob(UntilGate(gate));
  const dts::Run blocker = StoredRun(big, /*cpu=*/1000);
  SendTask(v1::TaskMessage::START, big, blocker);
  const Job job = StoredJob(absl::StrCat("echo ran >> '", marks, "'"));
  const dts::Run waiting = StoredRun(job, /*cpu=*/500);
  SendTask(v1::TaskMessage::START, job, waiting);
  ASSERT_TRUE(Eventually([&] { return Holds(*agent, waiting, /*started=*/false); }));
  SendTask(v1::TaskMessage::CANCEL, job, waiting);

  const std::optional<dts::Run> ended = AwaitEvent(waiting.id());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status(), "CANCELLED");
  EXPECT_EQ(StoredStatus(waiting), "CANCELLED");
  Open(gate);
  ASSERT_TRUE(AwaitEvent(blocker.id()).has_value());
  EXPECT_FALSE(std::filesystem::exists(marks));
}

TEST_F(WorkerAgentTest, HeartbeatsCarryCapacityHeldRunsAndPartitions) {
  WorkerAgent* agent = StartAgent();
  ASSERT_TRUE(Eventually([&] {
    for (const v1::WorkerHeartbeat& hb : HeartbeatsOf(worker_id_)) {
      if (hb.task_partitions_size() == kShards) return true;
    }
    return false;
  })) << "no heartbeat listing both task partitions";
  const v1::WorkerHeartbeat ready = HeartbeatsOf(worker_id_).back();
  EXPECT_EQ(ready.state(), "READY");
  EXPECT_FALSE(ready.incarnation().empty());
  EXPECT_EQ(ready.capacity().cpu(), 1000);
  EXPECT_EQ(ready.capacity().memory(), 1024);
  EXPECT_EQ(ready.capacity().storage(), 100);
  EXPECT_EQ(ready.labels().at("zone"), "test");
  EXPECT_EQ(ready.http_address(), "127.0.0.1:8082");
  EXPECT_FALSE(ready.enforcement().memory().empty());
  EXPECT_TRUE(ready.has_sent_at());

  const std::string gate = dir_ + "/gate";
  const Job job = StoredJob(UntilGate(gate));
  const dts::Run run = StoredRun(job, /*cpu=*/250);
  SendTask(v1::TaskMessage::START, job, run);
  ASSERT_TRUE(Eventually([&] {
    for (const v1::WorkerHeartbeat& hb : HeartbeatsOf(worker_id_)) {
      if (hb.runs_size() == 1 && hb.runs(0).run_id() == run.id() && hb.runs(0).started()) {
        return true;
      }
    }
    return false;
  })) << "no heartbeat holding the run";
  for (const v1::WorkerHeartbeat& hb : HeartbeatsOf(worker_id_)) {
    EXPECT_EQ(hb.incarnation(), ready.incarnation());
    if (hb.runs_size() == 1 && hb.runs(0).started()) {
      EXPECT_EQ(hb.runs(0).job_id(), job.id());
      EXPECT_EQ(hb.runs(0).resources().cpu(), 250);
    }
  }
  Open(gate);
  ASSERT_TRUE(AwaitEvent(run.id()).has_value());
  ASSERT_TRUE(Eventually([&] { return agent->Heartbeat().runs_size() == 0; }));
}

TEST_F(WorkerAgentTest, ShutdownLetsRunningRunsFinish) {
  WorkerAgent* agent = StartAgent();
  const std::string gate = dir_ + "/gate";
  const Job job = StoredJob(UntilGate(gate));
  const dts::Run run = StoredRun(job);
  SendTask(v1::TaskMessage::START, job, run);
  ASSERT_TRUE(Eventually([&] { return Holds(*agent, run, /*started=*/true); }));

  std::thread shutdown([agent] { agent->Shutdown(); });
  ASSERT_TRUE(Eventually([&] {
    for (const v1::WorkerHeartbeat& hb : HeartbeatsOf(worker_id_)) {
      if (hb.state() == "DRAINING") return true;
    }
    return false;
  }));
  Open(gate);
  shutdown.join();
  EXPECT_EQ(StoredStatus(run), "COMPLETED");
  ASSERT_TRUE(Eventually([&] {
    const std::vector<v1::WorkerHeartbeat> hbs = HeartbeatsOf(worker_id_);
    return !hbs.empty() && hbs.back().state() == "DOWN";
  }));
  EXPECT_EQ(HeartbeatsOf(worker_id_).back().runs_size(), 0);
}

TEST_F(WorkerAgentTest, ShutdownFailsRunsThatOutliveTheDrainAndHandsWaitingTasksOn) {
  WorkerAgent::Options options = AgentOptions(worker_id_);
  options.drain_timeout = absl::Milliseconds(500);
  WorkerAgent* agent = StartAgent(options);
  const Job forever = StoredJob("sleep 300");
  const dts::Run running = StoredRun(forever, /*cpu=*/1000);
  SendTask(v1::TaskMessage::START, forever, running);
  const Job job = StoredJob("echo next");
  const dts::Run waiting = StoredRun(job, /*cpu=*/1000);
  SendTask(v1::TaskMessage::START, job, waiting);
  ASSERT_TRUE(Eventually([&] {
    return Holds(*agent, running, /*started=*/true) && Holds(*agent, waiting, /*started=*/false);
  }));

  agent->Shutdown();
  absl::StatusOr<dts::Run> stored = store_->GetRun(RunId(running.id()));
  ASSERT_TRUE(stored.ok());
  // FAILED, not CANCELLED: the job's retry policy applies.
  EXPECT_EQ(stored->status(), "FAILED");
  EXPECT_EQ(stored->error(), "worker shut down");
  EXPECT_EQ(StoredStatus(waiting), "PENDING");  // never claimed here

  // Its task was not committed: the group's next member gets it.
  const std::string next_worker = worker_id_ + "-next";
  StartAgent(AgentOptions(next_worker));
  const std::optional<dts::Run> ended = AwaitEvent(waiting.id());
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status(), "COMPLETED");
  EXPECT_EQ(ended->worker_id(), next_worker);
  const std::optional<dts::Run> failed = AwaitEvent(running.id());
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->status(), "FAILED");
  EXPECT_EQ(EventsOf(running.id()).size(), 1u);
}

}  // namespace
}  // namespace dts::cluster
