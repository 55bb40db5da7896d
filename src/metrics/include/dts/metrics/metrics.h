#pragma once

// Process-wide metrics in the Prometheus text format (docs/observability.md).
//
// Families are registered once by name (registering the same name again with
// the same type and labels returns the same family), series are created on
// first use and live as long as the registry, so a caller may keep the
// pointer a series lookup returns and update it without any lock.
//
// Thread-safety: everything here may be used from any thread. Updating a
// series is a few relaxed atomic operations; looking one up by label values
// takes the family's mutex; Render() takes every family's mutex in turn.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace dts::metrics {

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets with the given upper bounds (ascending) and +Inf.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void Observe(double v);
  // Adds `counts` (one per bound, then +Inf) and their `sum` at once: what a
  // HistogramBatch gathered.
  void Add(std::span<const uint64_t> counts, double sum);
  std::span<const double> bounds() const { return bounds_; }
  // Observations per bucket (not cumulative), the last one +Inf.
  std::vector<uint64_t> counts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  // The bucket `v` falls in.
  size_t BucketOf(double v) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Gathers observations locally and adds them to the histogram in one go when
// flushed or destroyed: for loops over many runs. Not thread-safe.
class HistogramBatch {
 public:
  explicit HistogramBatch(Histogram* histogram);
  ~HistogramBatch() { Flush(); }
  HistogramBatch(const HistogramBatch&) = delete;
  HistogramBatch& operator=(const HistogramBatch&) = delete;
  void Observe(double v);
  void Flush();

 private:
  Histogram* histogram_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  bool empty_ = true;
};

// Latency buckets in seconds, 0.5 ms to 60 s.
std::span<const double> LatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

using LabelValues = std::vector<std::string>;

// The series of one metric name, by label values.
template <typename Metric>
class Family {
 public:
  // The series for these label values (as many as the family's labels),
  // created at zero on first use. The reference stays valid.
  Metric& With(const LabelValues& values);
  // Every series, for Render(); called with the family's mutex not held.
  template <typename Visit>
  void ForEach(Visit visit) const;

 private:
  friend class Registry;
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::function<std::unique_ptr<Metric>()> make);
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable absl::Mutex mu_;
  std::map<LabelValues, std::unique_ptr<Metric>> series_ ABSL_GUARDED_BY(mu_);
};

// One sample a collector reports when scraped: label values (as many as its
// labels) and a value.
struct Sample {
  LabelValues labels;
  double value;
};
using Collect = std::function<void(std::vector<Sample>& out)>;

class Registry;

// Keeps a collector registered; unregisters it when destroyed or reset.
// Movable. The thing the collector reads must outlive the handle.
class CollectorHandle {
 public:
  CollectorHandle() = default;
  CollectorHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  CollectorHandle(CollectorHandle&& other) noexcept;
  CollectorHandle& operator=(CollectorHandle&& other) noexcept;
  ~CollectorHandle() { Reset(); }
  void Reset();

 private:
  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The family of this name, registered now or before. A name registered
  // before with another type or other labels is a programming error: the
  // process aborts, so it shows in the first test that touches it.
  Family<Counter>& AddCounter(absl::string_view name, absl::string_view help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(absl::string_view name, absl::string_view help,
                          std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(absl::string_view name, absl::string_view help,
                                  std::vector<std::string> labels,
                                  std::span<const double> bounds = LatencyBuckets());

  // A gauge or counter family whose samples are read from `collect` at
  // every scrape (queue depth, capacity, shards owned). Several collectors
  // may share a name (one per engine, say); their samples are listed
  // together. `collect` runs on the scraping thread with no registry lock
  // held.
  [[nodiscard]] CollectorHandle AddCollector(absl::string_view name, absl::string_view help,
                                             Type type, std::vector<std::string> labels,
                                             Collect collect);

  // Every family in the Prometheus text exposition format 0.0.4, sorted by
  // name; families with no series yet are listed with HELP and TYPE only.
  std::string Render() const;

  // The value of a counter or gauge series (a collector's included), or of
  // a histogram's count; nullopt-like -1 when there is no such series. For
  // tests and /readyz-style checks.
  double ValueOf(absl::string_view name, const LabelValues& labels = {}) const;

 private:
  friend class CollectorHandle;
  struct Entry;
  struct CollectorEntry {
    std::string name;
    Collect collect;
  };
  // The family of `name`, made with `make` for its series on first call.
  template <typename Metric>
  Family<Metric>& AddFamily(absl::string_view name, absl::string_view help, Type type,
                            std::vector<std::string> labels,
                            std::function<std::unique_ptr<Metric>()> make);
  Entry& Find(absl::string_view name, absl::string_view help, Type type,
              const std::vector<std::string>& labels) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveCollector(uint64_t id);
  std::vector<Sample> Collected(absl::string_view name) const;

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<const CollectorEntry>> collectors_ ABSL_GUARDED_BY(mu_);
  uint64_t next_collector_ ABSL_GUARDED_BY(mu_) = 1;
  // Held (shared) while collectors run, so RemoveCollector can wait for them.
  mutable absl::Mutex collect_mu_;
};

// The registry /metrics serves. Every module registers its families here;
// a process has one, as it has one /metrics.
Registry& DefaultRegistry();

// A per-code cache of one route's latency series, so that the request path
// finds its histogram with one atomic load instead of a map lookup.
// `Codes` bounds the code values (HTTP statuses < 600, gRPC codes < 17).
template <size_t Codes>
class CodeCache {
 public:
  CodeCache(Family<Histogram>* family, LabelValues prefix)
      : family_(family), prefix_(std::move(prefix)) {}
  Histogram& For(int code, absl::string_view code_name) {
    const size_t i = code >= 0 && static_cast<size_t>(code) < Codes ? static_cast<size_t>(code) : 0;
    Histogram* h = series_[i].load(std::memory_order_acquire);
    if (h != nullptr) return *h;
    LabelValues labels = prefix_;
    labels.emplace_back(code_name);
    h = &family_->With(labels);
    series_[i].store(h, std::memory_order_release);
    return *h;
  }

 private:
  Family<Histogram>* family_;
  LabelValues prefix_;
  std::array<std::atomic<Histogram*>, Codes> series_{};
};

// ---- implementation of the templates

// Aborts: a series asked for with the wrong number of label values is a
// programming error that the first test touching it must show.
[[noreturn]] void LabelCountMismatch(absl::string_view family, size_t expected, size_t got);

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> labels,
                       std::function<std::unique_ptr<Metric>()> make)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)),
      make_(std::move(make)) {}

template <typename Metric>
Metric& Family<Metric>::With(const LabelValues& values) {
  if (values.size() != labels_.size()) LabelCountMismatch(name_, labels_.size(), values.size());
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = series_.try_emplace(values);
  if (inserted) it->second = make_();
  return *it->second;
}

template <typename Metric>
template <typename Visit>
void Family<Metric>::ForEach(Visit visit) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, metric] : series_) visit(labels, *metric);
}

}  // namespace dts::metrics
