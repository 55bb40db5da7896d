// dts_messaging against the real broker of scripts/services.sh (label kafka).
// Every test has topics and groups of its own. Deadlines only turn a hang
// into a failure, except where the test is about time (failover).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <optional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dts/common/clock.h"
#include "dts/execution/executor.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/consumer.h"
#include "dts/messaging/producer.h"
#include "dts/messaging/run_publisher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "messaging/kafka/test_env.h"

extern char** environ;

namespace dts::messaging {
namespace {

using testing::TestConfig;
using testing::Unique;
using testing::WaitUntil;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(60);

// A consumer that records what it gets and what it owns.
class Member {
 public:
  Member(const std::string& group, const std::string& topic,
         CommitMode mode = CommitMode::kOnHandlerSuccess,
         std::function<absl::Status(const ConsumedMessage&)> handler = nullptr)
      : handler_(std::move(handler)) {
    ConsumerOptions options;
    options.group_id = group;
    options.topics = {topic};
    options.commit_mode = mode;
    options.retry_backoff = absl::Milliseconds(100);
    options.handler = [this](const ConsumedMessage& m) {
      absl::Status s = handler_ ? handler_(m) : absl::OkStatus();
      absl::MutexLock lock(&mu_);
      messages_.push_back(m);
      return s;
    };
    options.on_assigned = [this](const std::vector<TopicPartition>& tps) {
      absl::MutexLock lock(&mu_);
      for (const auto& tp : tps) owned_.insert(tp.partition);
      assigned_events_.push_back(tps);
    };
    options.on_revoked = [this](const std::vector<TopicPartition>& tps, bool lost) {
      absl::MutexLock lock(&mu_);
      for (const auto& tp : tps) owned_.erase(tp.partition);
      revoked_events_.push_back(tps);
      if (lost) ++lost_events_;
    };
    auto consumer = KafkaConsumer::Create(TestConfig(), std::move(options), &clock_);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (consumer.ok()) consumer_ = std::move(*consumer);
  }

  KafkaConsumer& consumer() { return *consumer_; }
  std::set<int32_t> owned() {
    absl::MutexLock lock(&mu_);
    return owned_;
  }
  std::vector<ConsumedMessage> messages() {
    absl::MutexLock lock(&mu_);
    return messages_;
  }
  size_t count() {
    absl::MutexLock lock(&mu_);
    return messages_.size();
  }
  std::vector<std::vector<TopicPartition>> assigned_events() {
    absl::MutexLock lock(&mu_);
    return assigned_events_;
  }
  std::vector<std::vector<TopicPartition>> revoked_events() {
    absl::MutexLock lock(&mu_);
    return revoked_events_;
  }

 private:
  RealClock clock_;
  std::function<absl::Status(const ConsumedMessage&)> handler_;
  absl::Mutex mu_;
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);
  std::vector<ConsumedMessage> messages_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<TopicPartition>> assigned_events_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<TopicPartition>> revoked_events_ ABSL_GUARDED_BY(mu_);
  int lost_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<KafkaConsumer> consumer_;
};

std::set<int32_t> All(int n) {
  std::set<int32_t> out;
  for (int i = 0; i < n; ++i) out.insert(i);
  return out;
}

class KafkaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto admin = KafkaAdmin::Create(TestConfig());
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(*admin);
    auto producer = KafkaProducer::Create(TestConfig());
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
  }
  void TearDown() override {
    if (producer_) producer_->Close();
    if (admin_ && !topics_.empty()) admin_->DeleteTopics(topics_, absl::Seconds(30)).IgnoreError();
  }

  std::string MakeTopic(const std::string& what, int partitions,
                        std::map<std::string, std::string> configs = {}) {
    const std::string name = Unique(what);
    absl::Status s =
        admin_->EnsureTopics({TopicSpec{name, partitions, 1, std::move(configs), true}}, kDeadline);
    EXPECT_TRUE(s.ok()) << s;
    topics_.push_back(name);
    return name;
  }

  Delivery Produce(const std::string& topic, const std::string& key, const std::string& value,
                   Headers headers = {}) {
    OutgoingMessage m;
    m.topic = topic;
    m.key = key;
    m.value = value;
    m.headers = std::move(headers);
    absl::StatusOr<Delivery> d = producer_->Send(std::move(m), absl::Seconds(30));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *d : Delivery{};
  }

  std::unique_ptr<KafkaAdmin> admin_;
  std::unique_ptr<KafkaProducer> producer_;
  std::vector<std::string> topics_;
};

TEST_F(KafkaTest, TopicsAreCreatedIdempotentlyWithTheirConfigs) {
  const std::string name = Unique("jobs");
  topics_.push_back(name);
  const TopicSpec spec{name, 8, 1, {{"cleanup.policy", "compact"}}, true};
  ASSERT_TRUE(admin_->EnsureTopics({spec}, kDeadline).ok());
  absl::Status again = admin_->EnsureTopics({spec}, kDeadline);  // exists: fine
  ASSERT_TRUE(again.ok()) << again;

  absl::StatusOr<TopicDescription> d = admin_->DescribeTopic(name, kDeadline);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->partitions, 8);
  EXPECT_EQ(d->configs["cleanup.policy"], "compact");

  TopicSpec other = spec;
  other.partitions = 4;
  absl::Status wrong = admin_->EnsureTopics({other}, kDeadline);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.message(), HasSubstr("has 8 partitions but 4 are required"));

  other = spec;
  other.configs["cleanup.policy"] = "delete";
  wrong = admin_->EnsureTopics({other}, kDeadline);
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(wrong.message(), HasSubstr("cleanup.policy=compact but delete is required"));

  other.strict = false;  // not strict: an existing topic is accepted as it is
  EXPECT_TRUE(admin_->EnsureTopics({other}, kDeadline).ok());

  EXPECT_EQ(admin_->DescribeTopic(Unique("missing"), kDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KafkaTest, AcknowledgedMessagesAreConsumedWithKeysAndHeaders) {
  const std::string topic = MakeTopic("produce", 3);
  std::map<std::string, Delivery> sent;
  for (int i = 0; i < 20; ++i) {
    const std::string key = absl::StrCat("key-", i);
    Delivery d = Produce(topic, key, absl::StrCat("value-", i), {{"h", absl::StrCat(i)}, {"h2", ""}});
    EXPECT_EQ(d.topic, topic);
    EXPECT_GE(d.offset, 0);
    sent[key] = d;
  }
  Member member(Unique("group"), topic);
  ASSERT_TRUE(WaitUntil([&] { return member.count() >= 20; }, kDeadline)) << member.count();
  std::vector<ConsumedMessage> got = member.messages();
  EXPECT_EQ(got.size(), 20u);
  for (const ConsumedMessage& m : got) {
    ASSERT_TRUE(m.key.has_value());
    const Delivery& d = sent.at(*m.key);
    const std::string i = m.key->substr(4);
    EXPECT_EQ(m.partition, d.partition);
    EXPECT_EQ(m.offset, d.offset);
    EXPECT_EQ(m.value, absl::StrCat("value-", i));
    EXPECT_EQ(m.headers, (Headers{{"h", i}, {"h2", ""}}));
    EXPECT_GT(m.timestamp, absl::Now() - absl::Minutes(5));
  }
}

TEST_F(KafkaTest, TombstoneAndEmptyValueDiffer) {
  const std::string topic = MakeTopic("tombstone", 1);
  OutgoingMessage tomb;
  tomb.topic = topic;
  tomb.key = "gone";
  ASSERT_TRUE(producer_->Send(tomb, absl::Seconds(30)).ok());
  Produce(topic, "empty", "");
  Member member(Unique("group"), topic);
  ASSERT_TRUE(WaitUntil([&] { return member.count() >= 2; }, kDeadline));
  std::vector<ConsumedMessage> got = member.messages();
  EXPECT_EQ(got[0].value, std::nullopt);
  EXPECT_EQ(got[1].value, std::optional<std::string>(""));
}

TEST_F(KafkaTest, KeyedMessagesLandInOnePartition) {
  const std::string topic = MakeTopic("keyed", 6);
  std::map<std::string, std::set<int32_t>> partitions;
  std::map<std::string, int64_t> last_offset;
  for (int round = 0; round < 5; ++round) {
    for (const std::string key : {"a", "b", "c", "job-42", "job-43"}) {
      Delivery d = Produce(topic, key, absl::StrCat(round));
      partitions[key].insert(d.partition);
      if (last_offset.count(key)) {
        EXPECT_GT(d.offset, last_offset[key]);
      }
      last_offset[key] = d.offset;
    }
  }
  for (const auto& [key, set] : partitions) {
    EXPECT_EQ(set.size(), 1u) << key;
  }
  // Async sends of one key keep their order (idempotent producer).
  absl::Mutex mu;
  std::vector<int64_t> offsets;
  for (int i = 0; i < 50; ++i) {
    OutgoingMessage m;
    m.topic = topic;
    m.key = "ordered";
    m.value = absl::StrCat(i);
    producer_->SendAsync(std::move(m), [&](absl::StatusOr<Delivery> d) {
      absl::MutexLock lock(&mu);
      offsets.push_back(d.ok() ? d->offset : -1);
    });
  }
  ASSERT_TRUE(producer_->Flush(kDeadline).ok());
  absl::MutexLock lock(&mu);
  ASSERT_EQ(offsets.size(), 50u);
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
  EXPECT_GE(offsets.front(), 0);
}

TEST_F(KafkaTest, GroupSplitsPartitionsAndTakesOverWhenAMemberCloses) {
  constexpr int kPartitions = 6;
  const std::string topic = MakeTopic("group", kPartitions);
  const std::string group = Unique("group");
  Member a(group, topic);
  ASSERT_TRUE(WaitUntil([&] { return a.owned() == All(kPartitions); }, kDeadline));
  auto b = std::make_unique<Member>(group, topic);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::set<int32_t> pa = a.owned(), pb = b->owned(), both;
        both.insert(pa.begin(), pa.end());
        both.insert(pb.begin(), pb.end());
        return !pa.empty() && !pb.empty() && pa.size() + pb.size() == kPartitions &&
               both == All(kPartitions);
      },
      kDeadline))
      << a.owned().size() << " + " << b->owned().size();
  const std::set<int32_t> b_had = b->owned();
  // Each member handles the messages of its own partitions.
  for (int i = 0; i < 30; ++i) Produce(topic, absl::StrCat("k", i), "v");
  ASSERT_TRUE(WaitUntil([&] { return a.count() + b->count() >= 30; }, kDeadline));
  for (const ConsumedMessage& m : a.messages()) {
    EXPECT_FALSE(b_had.count(m.partition));
  }
  for (const ConsumedMessage& m : b->messages()) {
    EXPECT_TRUE(b_had.count(m.partition));
  }

  const size_t a_events = a.assigned_events().size();
  b->consumer().Close();  // leaves the group: a rebalance at once
  EXPECT_TRUE(b->owned().empty());
  ASSERT_FALSE(b->revoked_events().empty());
  ASSERT_TRUE(WaitUntil([&] { return a.owned() == All(kPartitions); }, absl::Seconds(15)));
  // The rebalance callback told `a` about exactly b's partitions.
  std::vector<std::vector<TopicPartition>> events = a.assigned_events();
  ASSERT_GT(events.size(), a_events);
  std::set<int32_t> added;
  for (size_t i = a_events; i < events.size(); ++i) {
    for (const auto& tp : events[i]) added.insert(tp.partition);
  }
  EXPECT_EQ(added, b_had);
}

// Reads "assigned N"/"revoked N" lines of a child member.
class ChildMember {
 public:
  ChildMember(const std::string& group, const std::string& topic) {
    int out[2];
    int in[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(in, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    const std::string brokers = TestConfig().brokers;
    const char* argv[] = {DTS_KAFKA_MEMBER_BIN, brokers.c_str(), group.c_str(), topic.c_str(),
                          nullptr};
    EXPECT_EQ(posix_spawn(&pid_, DTS_KAFKA_MEMBER_BIN, &actions, nullptr,
                          const_cast<char* const*>(argv), environ),
              0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(in[0]);
    stdin_ = in[1];
    reader_ = std::thread([this, fd = out[0]] {
      std::string buffer;
      char chunk[256];
      ssize_t n;
      while ((n = ::read(fd, chunk, sizeof chunk)) > 0) {
        buffer.append(chunk, static_cast<size_t>(n));
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
          const std::string line = buffer.substr(0, nl);
          buffer.erase(0, nl + 1);
          absl::MutexLock lock(&mu_);
          if (line.rfind("assigned ", 0) == 0) owned_.insert(std::stoi(line.substr(9)));
          if (line.rfind("revoked ", 0) == 0) owned_.erase(std::stoi(line.substr(8)));
        }
      }
      ::close(fd);
    });
  }
  ~ChildMember() {
    Kill();
    reader_.join();
  }
  void Kill() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      ::close(stdin_);
    }
  }
  std::set<int32_t> owned() {
    absl::MutexLock lock(&mu_);
    return owned_;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::thread reader_;
  absl::Mutex mu_;
  std::set<int32_t> owned_ ABSL_GUARDED_BY(mu_);
};

TEST_F(KafkaTest, KilledMembersPartitionsMoveWithinTheSessionTimeout) {
  constexpr int kPartitions = 6;
  const std::string topic = MakeTopic("kill", kPartitions);
  const std::string group = Unique("group");
  ChildMember child(group, topic);
  ASSERT_TRUE(WaitUntil([&] { return child.owned() == All(kPartitions); }, kDeadline));
  Member a(group, topic);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::set<int32_t> pa = a.owned(), pc = child.owned();
        return !pa.empty() && !pc.empty() && pa.size() + pc.size() == kPartitions;
      },
      kDeadline))
      << a.owned().size() << " + " << child.owned().size();
  const std::set<int32_t> child_had = child.owned();
  const absl::Time killed = absl::Now();
  child.Kill();  // no LeaveGroup: the broker notices by the session timeout (6 s)
  ASSERT_TRUE(WaitUntil([&] { return a.owned() == All(kPartitions); }, absl::Seconds(30)));
  const absl::Duration failover = absl::Now() - killed;
  std::cerr << "partitions of the killed member moved after " << failover << "\n";
  EXPECT_LT(failover, absl::Seconds(15));
  // And their messages reach the survivor.
  for (int i = 0; i < 20; ++i) Produce(topic, absl::StrCat("k", i), "v");
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::set<int32_t> seen;
        for (const ConsumedMessage& m : a.messages()) {
          if (child_had.count(m.partition)) seen.insert(m.partition);
        }
        return !seen.empty();
      },
      kDeadline));
}

TEST_F(KafkaTest, OnlyDurableOffsetsAreCommitted) {
  const std::string topic = MakeTopic("durable", 1);
  for (int i = 0; i < 10; ++i) Produce(topic, "k", absl::StrCat(i));
  const std::string group = Unique("group");
  {
    // Everything is handed over; only offsets 0..4 become durable.
    Member first(group, topic, CommitMode::kExplicit);
    ASSERT_TRUE(WaitUntil([&] { return first.count() >= 10; }, kDeadline));
    for (const ConsumedMessage& m : first.messages()) {
      if (m.offset < 5) first.consumer().MarkDurable(m);
    }
    ASSERT_TRUE(first.consumer().CommitDurable(absl::Seconds(30)).ok());
    first.consumer().Close();
  }
  Member second(group, topic, CommitMode::kExplicit);
  ASSERT_TRUE(WaitUntil([&] { return second.count() >= 5; }, kDeadline));
  std::vector<ConsumedMessage> got = second.messages();
  EXPECT_EQ(got.front().offset, 5);  // 0..4 were committed, 5..9 come again
  EXPECT_EQ(got.front().value, "5");
  for (const ConsumedMessage& m : got) {
    if (m.offset == 9) second.consumer().MarkDurable(m);
  }
  second.consumer().Close();
  // Marking 9 committed everything: a third member starts after it.
  Produce(topic, "k", "10");
  Member third(group, topic, CommitMode::kExplicit);
  ASSERT_TRUE(WaitUntil([&] { return third.count() >= 1; }, kDeadline));
  EXPECT_EQ(third.messages().front().value, "10");
}

TEST_F(KafkaTest, AFailedHandlerSeesTheMessageAgainAndSuccessCommits) {
  const std::string topic = MakeTopic("retry", 1);
  for (int i = 0; i < 6; ++i) Produce(topic, "k", absl::StrCat(i));
  const std::string group = Unique("group");
  std::atomic<int> failures{0};
  {
    Member member(group, topic, CommitMode::kOnHandlerSuccess, [&](const ConsumedMessage& m) {
      if (m.offset == 3 && failures.fetch_add(1) < 2) return absl::UnavailableError("db down");
      return absl::OkStatus();
    });
    ASSERT_TRUE(WaitUntil([&] { return member.count() >= 8; }, kDeadline));
    std::vector<int64_t> offsets;
    for (const ConsumedMessage& m : member.messages()) offsets.push_back(m.offset);
    EXPECT_EQ(offsets, (std::vector<int64_t>{0, 1, 2, 3, 3, 3, 4, 5}));
    member.consumer().Close();  // commits 0..5
  }
  Produce(topic, "k", "6");
  Member again(group, topic);
  ASSERT_TRUE(WaitUntil([&] { return again.count() >= 1; }, kDeadline));
  EXPECT_EQ(again.messages().front().offset, 6);
}

TEST_F(KafkaTest, KafkaExecutorPublishesTheRun) {
  const std::string topic = MakeTopic("executor", 3);
  execution::ExecutorOptions options;
  options.kafka_publish = MakeKafkaPublish(producer_.get(), absl::Seconds(30));
  RealClock clock;
  auto executor = execution::CreateLocalExecutor(&clock, std::move(options));
  ASSERT_TRUE(executor.ok()) << executor.status();

  execution::RunRequest request;
  request.run_id = RunId("run-1");
  request.job_id = JobId("job-1");
  request.scheduled_time = absl::FromUnixSeconds(1772953200);
  request.metadata = {{"team", "ops"}};
  request.executor.mutable_kafka()->set_topic(topic);
  request.executor.mutable_kafka()->set_payload("hello");
  request.timeout = absl::Seconds(20);
  absl::Mutex mu;
  std::optional<execution::RunOutcome> outcome;
  ASSERT_TRUE((*executor)
                  ->Start(request,
                          [&](execution::RunOutcome o) {
                            absl::MutexLock lock(&mu);
                            outcome = std::move(o);
                          })
                  .ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return outcome.has_value();
      },
      kDeadline));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(outcome->status, RunStatus::kCompleted) << outcome->error;
  }
  (*executor)->Shutdown();

  Member member(Unique("group"), topic);
  ASSERT_TRUE(WaitUntil([&] { return member.count() >= 1; }, kDeadline));
  const ConsumedMessage m = member.messages().front();
  EXPECT_EQ(m.key, "job-1");
  EXPECT_EQ(m.value,
            R"({"job_id":"job-1","run_id":"run-1","scheduled_time":"2026-03-08T07:00:00Z",)"
            R"("metadata":{"team":"ops"},"payload":"hello"})");
  EXPECT_EQ(m.header("dts-run-id"), "run-1");
  EXPECT_EQ(m.header("content-type"), "application/json");
}

}  // namespace
}  // namespace dts::messaging
