// A broker restart during production (label kafka, RUN_SERIAL: it restarts
// the shared broker with `scripts/services.sh restart kafka`, which keeps the
// data). The producer and the consumer must recover by themselves, errors
// during the outage must be the transient kind, and every message the broker
// acknowledged must be consumed afterwards.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dts/common/clock.h"
#include "dts/messaging/admin.h"
#include "dts/messaging/consumer.h"
#include "dts/messaging/producer.h"
#include "gtest/gtest.h"
#include "messaging/kafka/test_env.h"

namespace dts::messaging {
namespace {

using testing::TestConfig;
using testing::Unique;
using testing::WaitUntil;

TEST(KafkaRestartTest, AcknowledgedMessagesSurviveAndClientsRecover) {
  const std::string topic = Unique("restart");
  auto admin = KafkaAdmin::Create(TestConfig());
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->EnsureTopics({TopicSpec{topic, 3, 1, {}, true}}, absl::Seconds(60)).ok());

  absl::Mutex mu;
  std::set<std::string> acked;     // guarded by mu
  std::set<std::string> consumed;  // guarded by mu
  std::vector<std::string> bad;    // guarded by mu
  std::atomic<int> consumer_errors{0};

  RealClock clock;
  ConsumerOptions options;
  options.group_id = Unique("group");
  options.topics = {topic};
  options.handler = [&](const ConsumedMessage& m) {
    absl::MutexLock lock(&mu);
    consumed.insert(m.key.value_or(""));
    return absl::OkStatus();
  };
  options.on_error = [&](const absl::Status&) { consumer_errors++; };
  auto consumer = KafkaConsumer::Create(TestConfig(), options, &clock);
  ASSERT_TRUE(consumer.ok()) << consumer.status();

  auto producer = KafkaProducer::Create(TestConfig());
  ASSERT_TRUE(producer.ok());
  std::atomic<bool> stop{false};
  std::atomic<bool> restarted{false};
  std::atomic<int> ok_after_restart{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        OutgoingMessage m;
        m.topic = topic;
        m.key = absl::StrCat("w", w, "-", i);
        m.value = "x";
        absl::StatusOr<Delivery> d = (*producer)->Send(m, absl::Seconds(5));
        absl::MutexLock lock(&mu);
        if (d.ok()) {
          acked.insert(*m.key);
          if (restarted.load()) ok_after_restart++;
        } else {
          failed++;
          if (!absl::IsUnavailable(d.status()) && !absl::IsDeadlineExceeded(d.status())) {
            bad.push_back(d.status().ToString());
          }
        }
      }
    });
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        return acked.size() >= 200;
      },
      absl::Seconds(60)));

  const absl::Time before = absl::Now();
  const std::string cmd = absl::StrCat("bash ", DTS_SOURCE_DIR, "/scripts/services.sh restart kafka");
  const int rc = std::system(cmd.c_str());
  std::cerr << "restart took " << absl::Now() - before << "\n";
  restarted.store(true);
  ASSERT_EQ(rc, 0) << cmd;
  // The producer recovers by itself.
  const bool recovered = WaitUntil([&] { return ok_after_restart.load() >= 200; }, absl::Seconds(60));
  stop.store(true);
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(recovered) << ok_after_restart.load();
  // The consumer too, and nothing acknowledged is missing.
  size_t acked_count = 0;
  const bool all = WaitUntil(
      [&] {
        absl::MutexLock lock(&mu);
        acked_count = acked.size();
        for (const std::string& k : acked) {
          if (!consumed.count(k)) return false;
        }
        return true;
      },
      absl::Seconds(60));
  absl::MutexLock lock(&mu);
  std::vector<std::string> missing;
  for (const std::string& k : acked) {
    if (!consumed.count(k)) missing.push_back(k);
  }
  EXPECT_TRUE(all) << missing.size() << " of " << acked_count << " acknowledged messages missing";
  EXPECT_TRUE(bad.empty()) << bad.front();
  std::cerr << acked.size() << " acknowledged, " << failed.load() << " failed sends, "
            << consumer_errors.load() << " consumer errors\n";
  (*consumer)->Close();
  (*producer)->Close();
  (*admin)->DeleteTopics({topic}, absl::Seconds(30)).IgnoreError();
}

}  // namespace
}  // namespace dts::messaging
