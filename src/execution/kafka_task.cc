// The `kafka` executor: hands the message to ExecutorOptions::kafka_publish,
// which the deployment provides (the messaging module's producer).

#include <algorithm>
#include <utility>

#include "execution/run_task.h"

namespace dts::execution {
namespace {

class KafkaTask final : public RunTask {
 public:
  KafkaTask(RunRequest request, const TaskContext& context)
      : kafka_(std::move(*request.executor.mutable_kafka())),
        timeout_(std::max(request.timeout, absl::ZeroDuration())),
        clock_(context.clock),
        publish_(context.options->kafka_publish) {}

  RunOutcome Run() override {
    RunOutcome outcome;
    outcome.start_time = clock_->Now();
    absl::Status status = publish_(kafka_, timeout_);
    if (status.ok()) {
      outcome.status = RunStatus::kCompleted;
    } else if (absl::IsDeadlineExceeded(status)) {
      outcome.status = RunStatus::kTimedOut;
      outcome.error = timeout_ > absl::ZeroDuration() ? TimedOutMessage(timeout_)
                                                      : std::string(status.message());
    } else {
      outcome.status = RunStatus::kFailed;
      outcome.error = std::string(status.message());
    }
    outcome.end_time = clock_->Now();
    return outcome;
  }

  // A publish cannot be taken back once handed to the producer, so a cancel
  // lets it finish and the outcome says what really happened.
  void Cancel() override {}

 private:
  const v1::KafkaExecutor kafka_;
  const absl::Duration timeout_;
  const Clock* const clock_;
  const std::function<absl::Status(const v1::KafkaExecutor&, absl::Duration)>& publish_;
};

}  // namespace

std::unique_ptr<RunTask> CreateKafkaTask(RunRequest request, const TaskContext& context) {
  return std::make_unique<KafkaTask>(std::move(request), context);
}

}  // namespace dts::execution
