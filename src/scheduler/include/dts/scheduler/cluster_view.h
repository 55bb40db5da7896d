#pragma once

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "dts/model/job.h"
#include "dts/v1/scheduler.pb.h"

namespace dts::scheduler {

// What the API shows of the workers and the queue, and asks of them before a
// job is stored. Implemented by the placement dispatcher. Thread-safe.
class ClusterView {
 public:
  virtual ~ClusterView() = default;

  // Every worker, ordered by id.
  virtual std::vector<v1::WorkerResponse> Workers() const = 0;
  virtual std::optional<v1::WorkerResponse> Worker(const WorkerId& id) const = 0;
  // The runs waiting for capacity, in the order they will be placed.
  virtual std::vector<v1::QueuedRun> Queue() const = 0;
  // INVALID_ARGUMENT, naming the field, when no worker could ever run the
  // job: its resources exceed every (matching) worker's capacity, or no
  // worker matches its constraints. The message says what the largest worker
  // has. Where workers come and go (the distributed mode) this is OK and the
  // run waits as "unschedulable" instead.
  virtual absl::Status CheckPlaceable(const Job& job) const = 0;
};

}  // namespace dts::scheduler
