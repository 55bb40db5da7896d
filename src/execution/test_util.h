#pragma once

// Helpers for the execution tests: building requests and waiting for
// outcomes with a generous deadline, so a bug fails a test instead of hanging it.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "dts/execution/executor.h"
#include "gtest/gtest.h"

namespace dts::execution::testing {

// Only so a broken executor cannot hang the suite; never a timing assertion.
inline constexpr absl::Duration kHangGuard = absl::Seconds(60);

inline RunRequest CommandRequest(const std::vector<std::string>& argv,
                                 const std::string& id = "run") {
  RunRequest request;
  request.run_id = RunId(id);
  for (const std::string& arg : argv) request.executor.mutable_command()->add_argv(arg);
  return request;
}

inline RunRequest ShellRequest(const std::string& script, const std::string& id = "run") {
  RunRequest request = CommandRequest({script}, id);
  request.executor.mutable_command()->set_shell(true);
  return request;
}

// Receives one outcome. Notification dies if notified twice, which catches a
// callback called more than once.
// The state is shared with the callback, so a late callback after a failed
// wait does not touch a destroyed Waiter.
class Waiter {
 public:
  DoneCallback Callback() {
    return [state = state_](RunOutcome outcome) {
      state->outcome = std::move(outcome);
      state->done.Notify();
    };
  }
  bool Done() const { return state_->done.HasBeenNotified(); }
  // The outcome; fails the test (returning a default outcome) if none arrives.
  RunOutcome Wait() {
    if (!state_->done.WaitForNotificationWithTimeout(kHangGuard)) {
      ADD_FAILURE() << "no outcome";
      return RunOutcome{};
    }
    return state_->outcome;
  }

 private:
  struct State {
    absl::Notification done;
    RunOutcome outcome;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

inline RunOutcome RunToEnd(Executor& executor, RunRequest request) {
  Waiter waiter;
  absl::Status status = executor.Start(std::move(request), waiter.Callback());
  EXPECT_TRUE(status.ok()) << status;
  if (!status.ok()) return RunOutcome{};
  return waiter.Wait();
}

// Polls `condition` until it holds or the hang guard expires.
template <typename Condition>
bool Eventually(Condition condition) {
  absl::Time give_up = absl::Now() + kHangGuard;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace dts::execution::testing
