#pragma once

#include <cstdint>

#include "dts/model/ids.h"

namespace dts::storage {

// The shard of a job: FNV-1a (64-bit) of its id, mod shard_count (taken as 1
// when smaller). Stable across processes, versions and backends, because
// stored rows (SQLite's jobs.shard, Cassandra's jobs_by_shard) and, later,
// the Kafka partition of a job depend on it.
inline int64_t ShardOf(const JobId& id, int shard_count) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : id.value()) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return static_cast<int64_t>(hash % static_cast<uint64_t>(shard_count < 1 ? 1 : shard_count));
}

}  // namespace dts::storage
