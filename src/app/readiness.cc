#include "app/readiness.h"

#include "absl/strings/str_cat.h"
#include "dts/http/errors.h"

namespace dts::app {

Readiness::Readiness(std::vector<ReadinessCheck> checks, absl::Duration interval,
                     std::function<void(const ReadinessResult&)> on_change)
    : checks_(std::move(checks)), interval_(interval), on_change_(std::move(on_change)) {}

Readiness::~Readiness() { Stop(); }

ReadinessResult Readiness::RunChecks() const {
  ReadinessResult result;
  result.ready = true;
  for (const ReadinessCheck& c : checks_) {
    absl::Status status = c.check();
    result.ready = result.ready && status.ok();
    result.checks.emplace_back(c.name, std::move(status));
  }
  return result;
}

void Readiness::Publish(ReadinessResult result, bool always_notify) {
  bool changed;
  {
    absl::MutexLock lock(&mu_);
    changed = result.ready != latest_.ready;
    latest_ = result;
  }
  if ((changed || always_notify) && on_change_) on_change_(result);
}

void Readiness::Start() {
  Publish(RunChecks(), /*always_notify=*/true);
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Readiness::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_);
      if (stop_) return;
    }
    Publish(RunChecks(), /*always_notify=*/false);
  }
}

void Readiness::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

ReadinessResult Readiness::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

std::string Readiness::ToJson(const ReadinessResult& result) {
  std::string out = absl::StrCat(R"({"status":")", result.ready ? "ready" : "not ready",
                                 R"(","checks":{)");
  for (size_t i = 0; i < result.checks.size(); ++i) {
    const auto& [name, status] = result.checks[i];
    absl::StrAppend(&out, i > 0 ? "," : "", "\"");
    http::AppendJsonEscaped(&out, name);
    out += "\":\"";
    http::AppendJsonEscaped(&out, status.ok() ? "ok" : status.message());
    out += '"';
  }
  out += "}}";
  return out;
}

}  // namespace dts::app
