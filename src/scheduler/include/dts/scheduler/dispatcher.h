#pragma once

#include "dts/model/ids.h"
#include "dts/model/job.h"

namespace dts::scheduler {

// Where the runs the engine records go to be executed. Implementations report
// the end of each dispatched run (Engine::RunFinished). Thread-safe.
class RunDispatcher {
 public:
  virtual ~RunDispatcher() = default;
  virtual void Dispatch(const Job& job, const Run& run) = 0;
  virtual void Cancel(const RunId& run) = 0;
};

}  // namespace dts::scheduler
