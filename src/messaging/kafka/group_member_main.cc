// A consumer group member in a process of its own, for the test of a member
// that dies without leaving (SIGKILL). Usage:
//   kafka_group_member BROKERS GROUP TOPIC
// Prints "assigned <partition>" / "revoked <partition>" lines on stdout and
// runs until killed or until stdin closes.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "dts/common/clock.h"
#include "dts/messaging/consumer.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s BROKERS GROUP TOPIC\n", argv[0]);
    return 2;
  }
  dts::messaging::KafkaConfig config;
  config.brokers = argv[1];
  config.client_id = "dts-test-member";
  dts::messaging::ConsumerOptions options;
  options.group_id = argv[2];
  options.topics = {argv[3]};
  options.handler = [](const dts::messaging::ConsumedMessage&) { return absl::OkStatus(); };
  options.on_assigned = [](const std::vector<dts::messaging::TopicPartition>& tps) {
    for (const auto& tp : tps) std::printf("assigned %d\n", tp.partition);
    std::fflush(stdout);
  };
  options.on_revoked = [](const std::vector<dts::messaging::TopicPartition>& tps, bool) {
    for (const auto& tp : tps) std::printf("revoked %d\n", tp.partition);
    std::fflush(stdout);
  };
  dts::RealClock clock;
  auto consumer = dts::messaging::KafkaConsumer::Create(config, options, &clock);
  if (!consumer.ok()) {
    std::fprintf(stderr, "%s\n", consumer.status().ToString().c_str());
    return 1;
  }
  char buf[64];
  while (::read(0, buf, sizeof buf) > 0) {
  }
  (*consumer)->Close();
  return 0;
}
