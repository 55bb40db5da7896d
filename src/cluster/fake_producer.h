#pragma once

// A messaging::Producer for unit tests: keeps what is sent and acknowledges
// it at once (or fails it with `fail_with`).

#include <vector>

#include "absl/synchronization/mutex.h"
#include "dts/messaging/producer.h"

namespace dts::cluster {

class FakeProducer final : public messaging::Producer {
 public:
  absl::Status fail_with = absl::OkStatus();
  std::vector<messaging::OutgoingMessage> sent;

  absl::StatusOr<messaging::Delivery> Send(messaging::OutgoingMessage m, absl::Duration) override {
    sent.push_back(m);
    return messaging::Delivery{m.topic, m.partition.value_or(0), 0};
  }
  void SendAsync(messaging::OutgoingMessage m, messaging::DeliveryCallback done) override {
    sent.push_back(m);
    if (!fail_with.ok()) {
      std::move(done)(fail_with);
      return;
    }
    std::move(done)(messaging::Delivery{m.topic, m.partition.value_or(0), 0});
  }
  absl::Status Flush(absl::Duration) override { return absl::OkStatus(); }
};

}  // namespace dts::cluster
