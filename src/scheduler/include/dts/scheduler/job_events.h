#pragma once

#include "dts/model/ids.h"
#include "dts/model/job.h"

namespace dts::scheduler {

// What the API tells the scheduler about changes it has stored, so the
// engine's in-memory index follows the database. Thread-safe.
class JobEvents {
 public:
  virtual ~JobEvents() = default;
  virtual void JobChanged(const Job& job) = 0;
  // With `cancel_running`, the job's active runs are cancelled too.
  virtual void JobDeleted(const JobId& id, bool cancel_running) = 0;
  // A run the API recorded (a manual trigger) that should now be executed.
  virtual void RunCreated(const Job& job, const Run& run) = 0;
};

}  // namespace dts::scheduler
