#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace dts::messaging {

// A record header. Kafka allows repeated keys; order is kept.
struct Header {
  std::string key;
  std::string value;
  friend bool operator==(const Header&, const Header&) = default;
};
using Headers = std::vector<Header>;

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TopicPartition& tp) {
    return H::combine(std::move(h), tp.topic, tp.partition);
  }
};

// What to produce.
struct OutgoingMessage {
  std::string topic;
  // Unset: no key (the partitioner spreads such messages).
  std::optional<std::string> key;
  // Unset: a tombstone (null value), which deletes the key in a compacted topic.
  std::optional<std::string> value;
  Headers headers;
  // Unset: chosen from the key by librdkafka's murmur2_random partitioner,
  // the Java client's default, so every client puts a key in the same partition.
  std::optional<int32_t> partition;
};

// Where the broker stored an acknowledged message.
struct Delivery {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

// A message read by a consumer.
struct ConsumedMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;  // unset: tombstone
  Headers headers;
  // The record's timestamp (create time unless the topic says log append
  // time); InfinitePast when the record has none.
  absl::Time timestamp = absl::InfinitePast();

  TopicPartition topic_partition() const { return {topic, partition}; }
  // The first header with this key, if any.
  std::optional<std::string> header(const std::string& name) const {
    for (const Header& h : headers) {
      if (h.key == name) return h.value;
    }
    return std::nullopt;
  }
};

}  // namespace dts::messaging
