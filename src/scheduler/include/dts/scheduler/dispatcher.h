#pragma once

#include <memory>

#include "dts/model/ids.h"
#include "dts/model/job.h"

namespace dts::scheduler {

// Where the runs the engine records go to be executed. Implementations report
// the end of each dispatched run (Engine::RunFinished). Thread-safe.
class RunDispatcher {
 public:
  virtual ~RunDispatcher() = default;
  // `job` is the definition the run was made from; it is shared, never
  // changed, and may be kept for as long as the run waits or runs.
  virtual void Dispatch(std::shared_ptr<const Job> job, Run run) = 0;
  virtual void Cancel(const RunId& run) = 0;
};

}  // namespace dts::scheduler
