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
      : publish_request_(MakePublishRequest(std::move(request))),
        timeout_(publish_request_.timeout),
        clock_(context.clock),
        publish_(context.options->kafka_publish) {}

  RunOutcome Run() override {
    RunOutcome outcome;
    outcome.start_time = clock_->Now();
    absl::Status status = publish_(publish_request_);
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
  static KafkaPublishRequest MakePublishRequest(RunRequest request) {
    KafkaPublishRequest out;
    out.kafka = std::move(*request.executor.mutable_kafka());
    out.job_id = std::move(request.job_id);
    out.run_id = std::move(request.run_id);
    out.scheduled_time = request.scheduled_time;
    out.metadata = std::move(request.metadata);
    out.timeout = std::max(request.timeout, absl::ZeroDuration());
    return out;
  }

  const KafkaPublishRequest publish_request_;
  const absl::Duration timeout_;
  const Clock* const clock_;
  const KafkaPublishFn& publish_;
};

}  // namespace

std::unique_ptr<RunTask> CreateKafkaTask(RunRequest request, const TaskContext& context) {
  return std::make_unique<KafkaTask>(std::move(request), context);
}

}  // namespace dts::execution
