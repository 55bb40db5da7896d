#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dts/v1/execution.pb.h"
#include "dts/v1/job.pb.h"
#include "dts/v1/scheduler.pb.h"
#include "google/protobuf/map.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace dts::cli {

// `-o json`: the message as JSON with the proto field names, and with
// zero-valued fields printed, so scripts can rely on every key being there.
absl::Status PrintJson(std::ostream& out, const google::protobuf::Message& message);

// RFC3339 in UTC to the second (tables are for reading; -o json keeps the
// nanoseconds), or "-" when the timestamp is unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& ts, bool set);

// "k1=v1, k2=v2", sorted by key (proto maps have no order), or "-".
std::string FormatMap(const google::protobuf::Map<std::string, std::string>& map);

// Columns padded to their widest cell. Cells are flattened to one line, so a
// name with a newline cannot break the layout.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "key: value" lines with the values aligned.
class KeyValues {
 public:
  void Add(std::string key, std::string value) {
    lines_.emplace_back(std::move(key), std::move(value));
  }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::pair<std::string, std::string>> lines_;
};

void PrintJob(std::ostream& out, const v1::JobResponse& job);
void PrintJobList(std::ostream& out, const v1::ListJobsResponse& list);
void PrintScheduledJob(std::ostream& out, const v1::GetScheduledJobResponse& job);
void PrintScheduledJobList(std::ostream& out, const v1::ListScheduledJobsResponse& list);
void PrintExecution(std::ostream& out, const v1::ExecutionResponse& execution);
void PrintExecutionList(std::ostream& out, const v1::ListExecutionsResponse& list);
void PrintWorker(std::ostream& out, const v1::WorkerResponse& worker);
void PrintWorkerList(std::ostream& out, const v1::ListWorkersResponse& list);
void PrintQueue(std::ostream& out, const v1::GetQueueResponse& queue);

}  // namespace dts::cli
