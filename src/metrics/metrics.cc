#include "dts/metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <variant>

#include "absl/strings/str_cat.h"

namespace dts::metrics {

// ---- Histogram

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {}

size_t Histogram::BucketOf(double v) const {
  // `le` is inclusive: a value equal to a bound falls in that bound's bucket.
  return static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
}

void Histogram::Observe(double v) {
  counts_[BucketOf(v)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

void Histogram::Add(std::span<const uint64_t> counts, double sum) {
  for (size_t i = 0; i < counts.size() && i <= bounds_.size(); ++i) {
    if (counts[i] != 0) counts_[i].fetch_add(counts[i], std::memory_order_relaxed);
  }
  sum_.fetch_add(sum, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) n += counts_[i].load(std::memory_order_relaxed);
  return n;
}

HistogramBatch::HistogramBatch(Histogram* histogram)
    : histogram_(histogram), counts_(histogram->bounds().size() + 1) {}

void HistogramBatch::Observe(double v) {
  ++counts_[histogram_->BucketOf(v)];
  sum_ += v;
  empty_ = false;
}

void HistogramBatch::Flush() {
  if (empty_) return;
  histogram_->Add(counts_, sum_);
  std::fill(counts_.begin(), counts_.end(), 0);
  sum_ = 0;
  empty_ = true;
}

std::span<const double> LatencyBuckets() {
  static constexpr double kBounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                       0.25,   0.5,   1,      2.5,   5,    10,   30,    60};
  return kBounds;
}

void LabelCountMismatch(absl::string_view family, size_t expected, size_t got) {
  std::fprintf(stderr, "metrics: %.*s takes %zu label values, got %zu\n",
               static_cast<int>(family.size()), family.data(), expected, got);
  std::abort();
}

// ---- CollectorHandle

CollectorHandle::CollectorHandle(CollectorHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}

CollectorHandle& CollectorHandle::operator=(CollectorHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

void CollectorHandle::Reset() {
  if (registry_ != nullptr) std::exchange(registry_, nullptr)->RemoveCollector(id_);
}

// ---- Registry

struct Registry::Entry {
  Type type;
  std::string help;
  std::vector<std::string> labels;
  std::variant<std::monostate, std::unique_ptr<Family<Counter>>, std::unique_ptr<Family<Gauge>>,
               std::unique_ptr<Family<Histogram>>>
      family;
  std::atomic<bool> collected{false};  // samples come from collectors
};

namespace {

absl::string_view TypeName(Type type) {
  switch (type) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

// Go's and Prometheus' way: shortest round-trip form, +Inf/-Inf/NaN.
void AppendNumber(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), v);
  out.append(buffer, ec == std::errc() ? end : buffer);
}

void AppendLabelValue(std::string& out, absl::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

// `name{a="x",b="y"[,le="0.5"]} `
void AppendSeries(std::string& out, absl::string_view name, const std::vector<std::string>& labels,
                  const LabelValues& values, absl::string_view le = {}) {
  out.append(name.data(), name.size());
  if (!labels.empty() || !le.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      absl::StrAppend(&out, labels[i], "=\"");
      AppendLabelValue(out, i < values.size() ? values[i] : std::string());
      out += '"';
    }
    if (!le.empty()) absl::StrAppend(&out, labels.empty() ? "" : ",", "le=\"", le, "\"");
    out += '}';
  }
  out += ' ';
}

void AppendHistogram(std::string& out, absl::string_view name, const std::vector<std::string>& labels,
                     const LabelValues& values, const Histogram& h) {
  const std::vector<uint64_t> counts = h.counts();
  const std::string bucket = absl::StrCat(name, "_bucket");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    std::string le;
    if (i < h.bounds().size()) {
      AppendNumber(le, h.bounds()[i]);
    } else {
      le = "+Inf";
    }
    AppendSeries(out, bucket, labels, values, le);
    absl::StrAppend(&out, cumulative, "\n");
  }
  AppendSeries(out, absl::StrCat(name, "_sum"), labels, values);
  AppendNumber(out, h.sum());
  out += '\n';
  AppendSeries(out, absl::StrCat(name, "_count"), labels, values);
  absl::StrAppend(&out, cumulative, "\n");
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::Find(absl::string_view name, absl::string_view help, Type type,
                                const std::vector<std::string>& labels) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    auto entry = std::make_unique<Entry>();
    entry->type = type;
    entry->help = std::string(help);
    entry->labels = labels;
    it = families_.emplace(std::string(name), std::move(entry)).first;
  }
  Entry& entry = *it->second;
  if (entry.type != type || entry.labels != labels) {
    std::fprintf(stderr, "metrics: %.*s registered twice with different types or labels\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return entry;
}

template <typename Metric>
Family<Metric>& Registry::AddFamily(absl::string_view name, absl::string_view help, Type type,
                                    std::vector<std::string> labels,
                                    std::function<std::unique_ptr<Metric>()> make) {
  absl::MutexLock lock(&mu_);
  Entry& entry = Find(name, help, type, labels);
  if (entry.family.index() == 0) {
    entry.family = std::unique_ptr<Family<Metric>>(new Family<Metric>(
        std::string(name), std::string(help), std::move(labels), std::move(make)));
  }
  return *std::get<std::unique_ptr<Family<Metric>>>(entry.family);
}

Family<Counter>& Registry::AddCounter(absl::string_view name, absl::string_view help,
                                      std::vector<std::string> labels) {
  return AddFamily<Counter>(name, help, Type::kCounter, std::move(labels),
                            [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& Registry::AddGauge(absl::string_view name, absl::string_view help,
                                  std::vector<std::string> labels) {
  return AddFamily<Gauge>(name, help, Type::kGauge, std::move(labels),
                          [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& Registry::AddHistogram(absl::string_view name, absl::string_view help,
                                          std::vector<std::string> labels,
                                          std::span<const double> bounds) {
  return AddFamily<Histogram>(name, help, Type::kHistogram, std::move(labels),
                              [kept = std::vector<double>(bounds.begin(), bounds.end())] {
                                return std::make_unique<Histogram>(kept);
                              });
}

CollectorHandle Registry::AddCollector(absl::string_view name, absl::string_view help, Type type,
                                       std::vector<std::string> labels, Collect collect) {
  absl::MutexLock lock(&mu_);
  Find(name, help, type, labels).collected = true;
  const uint64_t id = next_collector_++;
  collectors_.emplace(id, std::make_shared<const CollectorEntry>(
                              CollectorEntry{std::string(name), std::move(collect)}));
  return CollectorHandle(this, id);
}

void Registry::RemoveCollector(uint64_t id) {
  std::shared_ptr<const CollectorEntry> removed;
  absl::ReleasableMutexLock lock(&mu_);
  const auto it = collectors_.find(id);
  if (it == collectors_.end()) return;
  removed = std::move(it->second);
  collectors_.erase(it);
  lock.Release();
  // A scrape that already picked this collector up finishes first: once
  // this returns, what the collector reads may go away.
  absl::MutexLock wait(&collect_mu_);
}

std::vector<Sample> Registry::Collected(absl::string_view name) const {
  std::vector<std::shared_ptr<const CollectorEntry>> mine;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : collectors_) {
      if (entry->name == name) mine.push_back(entry);
    }
  }
  std::vector<Sample> samples;
  absl::ReaderMutexLock running(&collect_mu_);
  for (const auto& entry : mine) entry->collect(samples);
  return samples;
}

std::string Registry::Render() const {
  struct View {
    std::string name;
    const Entry* entry;
  };
  std::vector<View> views;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : families_) views.push_back({name, entry.get()});
  }
  // Entries are never removed, so the pointers stay valid without the lock.
  std::string out;
  out.reserve(views.size() * 256);
  for (const View& v : views) {
    const Entry& e = *v.entry;
    absl::StrAppend(&out, "# HELP ", v.name, " ", e.help, "\n# TYPE ", v.name, " ", TypeName(e.type), "\n");
    if (e.collected) {
      for (const Sample& s : Collected(v.name)) {
        AppendSeries(out, v.name, e.labels, s.labels);
        AppendNumber(out, s.value);
        out += '\n';
      }
    }
    std::visit(
        [&](const auto& family) {
          using F = std::decay_t<decltype(family)>;
          if constexpr (std::is_same_v<F, std::unique_ptr<Family<Counter>>>) {
            family->ForEach([&](const LabelValues& labels, const Counter& c) {
              AppendSeries(out, v.name, e.labels, labels);
              absl::StrAppend(&out, c.value(), "\n");
            });
          } else if constexpr (std::is_same_v<F, std::unique_ptr<Family<Gauge>>>) {
            family->ForEach([&](const LabelValues& labels, const Gauge& g) {
              AppendSeries(out, v.name, e.labels, labels);
              AppendNumber(out, g.value());
              out += '\n';
            });
          } else if constexpr (std::is_same_v<F, std::unique_ptr<Family<Histogram>>>) {
            family->ForEach([&](const LabelValues& labels, const Histogram& h) {
              AppendHistogram(out, v.name, e.labels, labels, h);
            });
          }
        },
        e.family);
  }
  return out;
}

double Registry::ValueOf(absl::string_view name, const LabelValues& labels) const {
  const Entry* entry = nullptr;
  {
    absl::MutexLock lock(&mu_);
    const auto it = families_.find(name);
    if (it == families_.end()) return -1;
    entry = it->second.get();
  }
  double value = -1;
  if (entry->collected) {
    double sum = 0;
    bool found = false;
    for (const Sample& s : Collected(name)) {
      if (s.labels == labels) {
        sum += s.value;
        found = true;
      }
    }
    if (found) value = sum;
  }
  std::visit(
      [&](const auto& family) {
        using F = std::decay_t<decltype(family)>;
        if constexpr (!std::is_same_v<F, std::monostate>) {
          family->ForEach([&](const LabelValues& l, const auto& m) {
            if (l != labels) return;
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, Histogram>) {
              value = static_cast<double>(m.count());
            } else {
              value = static_cast<double>(m.value());
            }
          });
        }
      },
      entry->family);
  return value;
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

}  // namespace dts::metrics
