#include "dts/scheduler/run_recorder.h"

#include <utility>

namespace dts::scheduler {

RunRecorder::RunRecorder(storage::Store* store, size_t max_batch)
    : store_(store), max_batch_(max_batch < 1 ? 1 : max_batch) {
  thread_ = std::thread([this] { Loop(); });
}

RunRecorder::~RunRecorder() { Stop(); }

void RunRecorder::Record(Run run, DurableCallback on_durable) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      queue_.push_back(Entry{std::move(run), std::move(on_durable)});
      return;
    }
  }
  std::vector<Entry> alone;
  alone.push_back(Entry{std::move(run), std::move(on_durable)});
  Write(alone);
}

void RunRecorder::RecordAll(std::vector<Entry> entries) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopped_) {
      if (queue_.empty()) {
        queue_.swap(entries);
      } else {
        queue_.insert(queue_.end(), std::make_move_iterator(entries.begin()),
                      std::make_move_iterator(entries.end()));
      }
      return;
    }
  }
  Write(entries);
}

void RunRecorder::Flush() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](RunRecorder* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
        return r->stopped_ || (r->queue_.empty() && r->writing_ == 0);
      },
      this));
}

void RunRecorder::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
  }
  thread_.join();
}

void RunRecorder::Loop() {
  for (;;) {
    std::vector<Entry> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](RunRecorder* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) {
            return r->stop_ || !r->queue_.empty();
          },
          this));
      if (queue_.empty()) {  // stop_ and nothing left
        stopped_ = true;
        return;
      }
      if (queue_.size() <= max_batch_) {
        batch.swap(queue_);
      } else {
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<long>(max_batch_)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(max_batch_));
      }
      ++writing_;
    }
    Write(batch);
    absl::MutexLock lock(&mu_);
    --writing_;
  }
}

void RunRecorder::Write(std::vector<Entry>& batch) {
  std::vector<Run> runs;
  runs.reserve(batch.size());
  for (Entry& entry : batch) runs.push_back(std::move(entry.run));
  const absl::Status written = store_->UpdateRuns(runs);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].on_durable) std::move(batch[i].on_durable)(written, runs[i]);
  }
}

}  // namespace dts::scheduler
