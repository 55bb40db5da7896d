#include "dts/metrics/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CounterSeriesByLabelsRenderInTextFormat) {
  Registry registry;
  Family<Counter>& fires = registry.AddCounter("dts_fires_total", "Fires.", {"shard"});
  fires.With({"3"}).Increment();
  fires.With({"3"}).Increment(2);
  fires.With({"10"}).Increment();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP dts_fires_total Fires.\n# TYPE dts_fires_total counter\n"));
  EXPECT_THAT(text, HasSubstr("dts_fires_total{shard=\"3\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("dts_fires_total{shard=\"10\"} 1\n"));
  EXPECT_EQ(registry.ValueOf("dts_fires_total", {"3"}), 3);
  EXPECT_EQ(registry.ValueOf("dts_fires_total", {"4"}), -1);
  EXPECT_EQ(registry.ValueOf("no_such_metric"), -1);
}

TEST(MetricsTest, RegisteringANameAgainReturnsTheSameFamily) {
  Registry registry;
  Family<Counter>& a = registry.AddCounter("x_total", "X.", {"k"});
  Family<Counter>& b = registry.AddCounter("x_total", "X.", {"k"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.With({"v"}), &b.With({"v"}));
}

TEST(MetricsDeathTest, ANameRegisteredWithOtherLabelsOrTooFewValuesAborts) {
  Registry registry;
  registry.AddCounter("x_total", "X.", {"k"});
  EXPECT_DEATH(registry.AddCounter("x_total", "X.", {"other"}), "registered twice");
  EXPECT_DEATH(registry.AddGauge("x_total", "X.", {"k"}), "registered twice");
  EXPECT_DEATH(registry.AddCounter("x_total", "X.", {"k"}).With({}), "takes 1 label values");
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.AddGauge("g", "G.", {"path"}).With({"a\"b\\c\nd"}).Set(1.5);
  EXPECT_THAT(registry.Render(), HasSubstr("g{path=\"a\\\"b\\\\c\\nd\"} 1.5\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeAndBoundsInclusive) {
  Registry registry;
  const double bounds[] = {0.1, 1};
  Histogram& h = registry.AddHistogram("lat_seconds", "Latency.", {"route"}, bounds).With({"r"});
  h.Observe(0.05);
  h.Observe(0.1);  // le="0.1" includes 0.1
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 7.65);
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE lat_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{route=\"r\",le=\"0.1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{route=\"r\",le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{route=\"r\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_sum{route=\"r\"} 7.65\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_count{route=\"r\"} 4\n"));
}

TEST(MetricsTest, HistogramBatchAddsWhatItGatheredOnce) {
  Registry registry;
  Histogram& h = registry.AddHistogram("h_seconds", "H.", {}).With({});
  {
    HistogramBatch batch(&h);
    for (int i = 0; i < 100; ++i) batch.Observe(0.002);
    EXPECT_EQ(h.count(), 0u) << "nothing is added before the flush";
  }
  EXPECT_EQ(h.count(), 100u);
  EXPECT_NEAR(h.sum(), 0.2, 1e-9);
  EXPECT_EQ(h.counts()[h.BucketOf(0.002)], 100u);
}

TEST(MetricsTest, CollectorsAreReadAtScrapeTimeAndGoAwayWithTheirHandle) {
  Registry registry;
  int depth = 4;
  CollectorHandle handle = registry.AddCollector(
      "dts_queue_depth", "Waiting runs.", Type::kGauge, {},
      [&depth](std::vector<Sample>& out) { out.push_back({{}, static_cast<double>(depth)}); });
  EXPECT_THAT(registry.Render(), HasSubstr("dts_queue_depth 4\n"));
  depth = 7;
  EXPECT_EQ(registry.ValueOf("dts_queue_depth"), 7);
  {
    CollectorHandle second = registry.AddCollector(
        "dts_queue_depth", "Waiting runs.", Type::kGauge, {},
        [](std::vector<Sample>& out) { out.push_back({{}, 1}); });
    EXPECT_EQ(registry.ValueOf("dts_queue_depth"), 8) << "two collectors of one name add up";
  }
  handle.Reset();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE dts_queue_depth gauge\n"));
  EXPECT_THAT(text, Not(HasSubstr("dts_queue_depth 7")));
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "C.").With({});
  Histogram& h = registry.AddHistogram("h", "H.", {}).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Increment();
        h.Observe(0.001);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.count(), 40000u);
}

TEST(MetricsTest, CodeCacheFindsOneSeriesPerCode) {
  Registry registry;
  Family<Histogram>& family =
      registry.AddHistogram("req_seconds", "R.", {"protocol", "route", "code"});
  CodeCache<600> cache(&family, {"http", "GET /v1/jobs"});
  cache.For(200, "200").Observe(0.001);
  cache.For(200, "200").Observe(0.001);
  cache.For(404, "404").Observe(0.001);
  EXPECT_EQ(&cache.For(200, "200"), &family.With({"http", "GET /v1/jobs", "200"}));
  EXPECT_EQ(registry.ValueOf("req_seconds", {"http", "GET /v1/jobs", "200"}), 2);
  EXPECT_EQ(registry.ValueOf("req_seconds", {"http", "GET /v1/jobs", "404"}), 1);
}

}  // namespace
}  // namespace dts::metrics
