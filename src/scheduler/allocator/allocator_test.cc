#include "dts/allocator/allocator.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/v1/common.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace dts::allocator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Memory 0 by default, so that cpu alone decides.
Resources Cpu(int64_t millis, int64_t mib = 0) { return Resources{millis, mib, 0}; }

class AllocatorTest : public ::testing::Test {
 protected:
  void Make(AllocatorOptions options = {}) {
    auto a = Allocator::Create(options, &clock_);
    ASSERT_TRUE(a.ok()) << a.status();
    alloc_ = *std::move(a);
  }
  void AddWorker(const std::string& id, Resources capacity, Labels labels = {}) {
    ASSERT_TRUE(alloc_->UpsertWorker(WorkerSpec{WorkerId(id), std::move(labels), capacity}).ok());
  }
  PlacementRequest Req(const std::string& run, Resources r, int priority = 0, Labels constraints = {}) {
    PlacementRequest p;
    p.run_id = RunId(run);
    p.job_id = JobId("job-" + run);
    p.priority = priority;
    p.scheduled_time = kStart;
    p.resources = r;
    p.constraints = std::move(constraints);
    return p;
  }
  // The worker the run was placed on at once, or "" when it was queued.
  std::string SubmitNow(PlacementRequest p) {
    auto g = alloc_->Submit(std::move(p));
    EXPECT_TRUE(g.ok()) << g.status();
    if (!g.ok() || !g->has_value()) return "";
    return (*g)->worker_id.value();
  }
  std::vector<std::string> ScheduledRuns() {
    std::vector<std::string> out;
    for (const Grant& g : alloc_->Schedule()) out.push_back(g.run_id.value() + "@" + g.worker_id.value());
    return out;
  }
  WorkerSnapshot Worker(const std::string& id) {
    for (WorkerSnapshot& w : alloc_->Workers()) {
      if (w.id.value() == id) return w;
    }
    ADD_FAILURE() << "no worker " << id;
    return {};
  }
  std::string ReasonOf(const std::string& run) {
    for (const QueuedRun& q : alloc_->Queue()) {
      if (q.run_id.value() == run) return q.reason;
    }
    return "<not queued>";
  }

  ManualClock clock_{kStart};
  std::unique_ptr<Allocator> alloc_;
};

TEST_F(AllocatorTest, CreateRejectsNullClockAndNegativeBound) {
  EXPECT_EQ(Allocator::Create({}, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  AllocatorOptions o;
  o.backfill_wait_bound = absl::Seconds(-1);
  EXPECT_EQ(Allocator::Create(o, &clock_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AllocatorTest, BestFitPacksOntoTheFullestFittingWorker) {
  Make();
  AddWorker("a", Cpu(4000, 4096));
  AddWorker("b", Cpu(4000, 4096));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "a");  // tie: lowest id
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(1000))), "a");  // a is fuller now
  EXPECT_EQ(SubmitNow(Req("r3", Cpu(2500))), "b");  // no longer fits on a
  EXPECT_EQ(SubmitNow(Req("r4", Cpu(1000))), "b");  // b (500m left after) beats a (1000m left)
}

TEST_F(AllocatorTest, BestFitNormalisesByEachWorkersCapacity) {
  Make();
  AddWorker("big", Resources{8000, 8192, 0});
  AddWorker("small", Resources{2000, 2048, 0});
  // Left after: big 7/8 of cpu and memory free, small 1/2: small is fuller.
  EXPECT_EQ(SubmitNow(Req("r1", Resources{1000, 1024, 0})), "small");
}

TEST_F(AllocatorTest, SpreadPicksTheWorkerLeftWithTheMostFree) {
  AllocatorOptions o;
  o.strategy = Strategy::kSpread;
  Make(o);
  AddWorker("a", Cpu(4000, 4096));
  AddWorker("b", Cpu(4000, 4096));
  AddWorker("c", Cpu(4000, 4096));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "a");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(1000))), "b");
  EXPECT_EQ(SubmitNow(Req("r3", Cpu(1000))), "c");
  EXPECT_EQ(SubmitNow(Req("r4", Cpu(500))), "a");
  EXPECT_EQ(SubmitNow(Req("r5", Cpu(500))), "b");
}

TEST_F(AllocatorTest, StrategyNames) {
  EXPECT_EQ(ParseStrategy("best-fit"), Strategy::kBestFit);
  EXPECT_EQ(ParseStrategy("spread"), Strategy::kSpread);
  EXPECT_EQ(ParseStrategy("random"), std::nullopt);
  EXPECT_EQ(StrategyName(Strategy::kSpread), "spread");
  EXPECT_EQ(WorkerStateName(WorkerState::kDraining), "DRAINING");
}

TEST_F(AllocatorTest, ConstraintsMustMatchLabelsExactly) {
  Make();
  AddWorker("plain", Cpu(1000));
  AddWorker("gpu", Cpu(8000), {{"gpu", "true"}, {"zone", "a"}});
  // Best-fit alone would pick "plain"; the constraint forces "gpu".
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(500), 0, {{"gpu", "true"}})), "gpu");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(500), 0, {{"gpu", "true"}, {"zone", "a"}})), "gpu");
  EXPECT_EQ(SubmitNow(Req("r3", Cpu(500), 0, {{"gpu", "TRUE"}})), "");
  EXPECT_EQ(SubmitNow(Req("r4", Cpu(500), 0, {{"zone", "b"}})), "");
  EXPECT_EQ(ReasonOf("r3"), "unschedulable: no READY worker matches constraints {gpu=TRUE}");
  EXPECT_EQ(SubmitNow(Req("r5", Cpu(500))), "plain");
}

TEST_F(AllocatorTest, HigherPriorityStartsFirst) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("running", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("low", Cpu(1000), 0)), "");
  EXPECT_EQ(SubmitNow(Req("high", Cpu(1000), 5)), "");
  EXPECT_EQ(SubmitNow(Req("mid", Cpu(1000), 3)), "");
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  ASSERT_TRUE(alloc_->Release(RunId("running")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("high@w"));
  ASSERT_TRUE(alloc_->Release(RunId("high")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("mid@w"));
  ASSERT_TRUE(alloc_->Release(RunId("mid")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("low@w"));
}

TEST_F(AllocatorTest, EarlierScheduledTimeThenEnqueueOrder) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("running", Cpu(1000))), "w");
  PlacementRequest late = Req("late", Cpu(1000));
  late.scheduled_time = kStart + absl::Minutes(5);
  PlacementRequest early1 = Req("early1", Cpu(1000));
  PlacementRequest early2 = Req("early2", Cpu(1000));
  EXPECT_EQ(SubmitNow(late), "");
  EXPECT_EQ(SubmitNow(early1), "");
  EXPECT_EQ(SubmitNow(early2), "");
  std::vector<std::string> order;
  for (const QueuedRun& q : alloc_->Queue()) order.push_back(q.run_id.value());
  EXPECT_THAT(order, ElementsAre("early1", "early2", "late"));
  std::vector<std::string> started;
  for (std::string prev : {"running", "early1", "early2"}) {
    ASSERT_TRUE(alloc_->Release(RunId(prev)));
    for (const std::string& g : ScheduledRuns()) started.push_back(g);
  }
  EXPECT_THAT(started, ElementsAre("early1@w", "early2@w", "late@w"));
}

TEST_F(AllocatorTest, BackfillLetsASmallerRunPassABlockedHead) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1500))), "w");
  EXPECT_EQ(SubmitNow(Req("big", Cpu(2000), 5)), "");
  EXPECT_EQ(SubmitNow(Req("small", Cpu(500))), "w");  // starts before the blocked head
  EXPECT_THAT(ReasonOf("big"),
              "waiting for capacity: needs cpu 2000m memory 0MiB storage 0MiB; most free on a "
              "matching worker (w): cpu 0m memory 0MiB storage 0MiB");
}

TEST_F(AllocatorTest, BackfillInSchedulePassesABlockedHead) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("b", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("big", Cpu(2000), 5)), "");
  EXPECT_EQ(SubmitNow(Req("small", Cpu(1000))), "");
  ASSERT_TRUE(alloc_->Release(RunId("a")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("small@w"));
}

// The head waited past the bound: a smaller run that fits must not pass it,
// in Submit nor in Schedule, until the head has started.
TEST_F(AllocatorTest, StarvedHeadStopsBackfill) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("b", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("big", Cpu(2000))), "");
  ASSERT_TRUE(alloc_->Release(RunId("a")));
  clock_.Advance(absl::Seconds(30));
  EXPECT_EQ(SubmitNow(Req("early-small", Cpu(500))), "");  // queue not settled after Release
  EXPECT_THAT(ScheduledRuns(), ElementsAre("early-small@w"));  // within the bound: backfill

  clock_.Advance(absl::Seconds(31));  // big has waited 61 s
  EXPECT_EQ(SubmitNow(Req("small", Cpu(500))), "");
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_EQ(ReasonOf("small"), "held back: head of queue has waited past the backfill bound");
  EXPECT_THAT(ReasonOf("big"), HasSubstr("head of queue past the backfill bound"));

  ASSERT_TRUE(alloc_->Release(RunId("early-small")));
  EXPECT_THAT(ScheduledRuns(), IsEmpty());  // 1000m free: small fits, but is held
  ASSERT_TRUE(alloc_->Release(RunId("b")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("big@w"));
  ASSERT_TRUE(alloc_->Release(RunId("big")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("small@w"));
}

TEST_F(AllocatorTest, BoundIsConfigurableAndIgnoresUnschedulableRuns) {
  AllocatorOptions o;
  o.backfill_wait_bound = absl::Seconds(10);
  Make(o);
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1500))), "w");
  EXPECT_EQ(SubmitNow(Req("huge", Cpu(9000), 9)), "");  // never fits: not the head
  EXPECT_EQ(SubmitNow(Req("big", Cpu(2000))), "");
  clock_.Advance(absl::Seconds(9));
  EXPECT_EQ(SubmitNow(Req("s1", Cpu(100))), "w");
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(SubmitNow(Req("s2", Cpu(100))), "");
  EXPECT_THAT(ReasonOf("huge"),
              "unschedulable: resources exceed every worker's capacity: requested cpu 9000m memory "
              "0MiB storage 0MiB; largest worker (w) has cpu 2000m memory 0MiB storage 0MiB");
}

TEST_F(AllocatorTest, HigherPriorityArrivalStillStartsWhileHeadIsHeld) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1500))), "w");
  EXPECT_EQ(SubmitNow(Req("big", Cpu(2000))), "");
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(SubmitNow(Req("small", Cpu(500))), "");
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_EQ(SubmitNow(Req("urgent", Cpu(500), 10)), "w");  // ahead of the head in queue order
}

TEST_F(AllocatorTest, ReleaseThenReplacementDoubleAndUnknownRelease) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(1000))), "");
  // However r1 ended (completed, failed, timed out, cancelled, lost), the
  // allocator only sees Release.
  EXPECT_TRUE(alloc_->Release(RunId("r1")));
  EXPECT_FALSE(alloc_->Release(RunId("r1")));
  EXPECT_FALSE(alloc_->Release(RunId("never-seen")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("r2@w"));
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_EQ(Worker("w").allocated, Cpu(1000));
  EXPECT_TRUE(alloc_->Release(RunId("r2")));
  EXPECT_EQ(Worker("w").allocated, Resources{});
  EXPECT_THAT(Worker("w").running, IsEmpty());
  // The run id can be submitted again (a retry reusing its id).
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w");
}

TEST_F(AllocatorTest, ReleaseOrWithdrawOfAQueuedRunTakesItOut) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("q1", Cpu(1000))), "");
  EXPECT_EQ(SubmitNow(Req("q2", Cpu(1000))), "");
  EXPECT_EQ(alloc_->QueueLength(), 2u);
  EXPECT_TRUE(alloc_->Withdraw(RunId("q1")));
  EXPECT_FALSE(alloc_->Withdraw(RunId("q1")));
  EXPECT_FALSE(alloc_->Withdraw(RunId("r1")));  // running, not waiting
  EXPECT_TRUE(alloc_->Release(RunId("q2")));    // ended while waiting
  EXPECT_EQ(alloc_->QueueLength(), 0u);
  EXPECT_TRUE(alloc_->Release(RunId("r1")));
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
}

TEST_F(AllocatorTest, WithdrawingAHeldHeadLetsTheRunsBehindStart) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1500))), "w");
  EXPECT_EQ(SubmitNow(Req("big", Cpu(2000))), "");
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(SubmitNow(Req("small", Cpu(500))), "");
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_TRUE(alloc_->Withdraw(RunId("big")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("small@w"));
}

TEST_F(AllocatorTest, SubmitRejectsDuplicatesAndBadRequests) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(600))), "w");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(600))), "");
  EXPECT_EQ(alloc_->Submit(Req("r1", Cpu(1))).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(alloc_->Submit(Req("r2", Cpu(1))).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(alloc_->Submit(Req("", Cpu(1))).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(alloc_->Submit(Req("r3", Cpu(-1))).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AllocatorTest, DrainingWorkerKeepsRunsButTakesNoNewOnes) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w");
  auto lost = alloc_->SetWorkerState(WorkerId("w"), WorkerState::kDraining);
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, IsEmpty());
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(500))), "");
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_EQ(ReasonOf("r2"), "unschedulable: no READY worker");
  EXPECT_THAT(Worker("w").running, ElementsAre(RunId("r1")));
  EXPECT_EQ(Worker("w").state, WorkerState::kDraining);
  EXPECT_TRUE(alloc_->Release(RunId("r1")));
  ASSERT_TRUE(alloc_->SetWorkerState(WorkerId("w"), WorkerState::kReady).ok());
  EXPECT_THAT(ScheduledRuns(), ElementsAre("r2@w"));
}

TEST_F(AllocatorTest, DownWorkerReturnsItsRunsAndTakesNoNewOnes) {
  Make();
  AddWorker("w1", Cpu(2000));
  AddWorker("w2", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w2");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(1000))), "w1");
  EXPECT_EQ(SubmitNow(Req("r3", Cpu(1000))), "w1");
  auto lost = alloc_->SetWorkerState(WorkerId("w1"), WorkerState::kDown);
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, ElementsAre(Grant{RunId("r2"), JobId("job-r2"), WorkerId("w1"), Cpu(1000)},
                                 Grant{RunId("r3"), JobId("job-r3"), WorkerId("w1"), Cpu(1000)}));
  EXPECT_FALSE(alloc_->Release(RunId("r2")));  // already given back
  EXPECT_EQ(Worker("w1").allocated, Resources{});
  EXPECT_EQ(SubmitNow(Req("r4", Cpu(500))), "");  // w2 is full, w1 is DOWN
  ASSERT_TRUE(alloc_->SetWorkerState(WorkerId("w1"), WorkerState::kReady).ok());
  EXPECT_THAT(ScheduledRuns(), ElementsAre("r4@w1"));
  EXPECT_EQ(alloc_->SetWorkerState(WorkerId("nope"), WorkerState::kDown).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(AllocatorTest, RemovingAWorkerReturnsItsRuns) {
  Make();
  AddWorker("w1", Cpu(1000));
  AddWorker("w2", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w1");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(1000))), "w2");
  EXPECT_EQ(SubmitNow(Req("r3", Cpu(1000))), "");
  auto lost = alloc_->RemoveWorker(WorkerId("w1"));
  ASSERT_TRUE(lost.ok());
  EXPECT_THAT(*lost, ElementsAre(Grant{RunId("r1"), JobId("job-r1"), WorkerId("w1"), Cpu(1000)}));
  ASSERT_EQ(alloc_->Workers().size(), 1u);
  EXPECT_EQ(alloc_->Workers()[0].id, WorkerId("w2"));
  EXPECT_EQ(alloc_->RemoveWorker(WorkerId("w1")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  // A new worker reuses the slot; nothing of w1 leaks into it.
  AddWorker("w3", Cpu(1000));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("r3@w3"));
  EXPECT_THAT(Worker("w3").running, ElementsAre(RunId("r3")));
}

TEST_F(AllocatorTest, UpsertUpdatesCapacityAndLabels) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(1000), 0, {{"disk", "ssd"}})), "");
  AddWorker("w", Cpu(2000), {{"disk", "ssd"}});
  EXPECT_THAT(ScheduledRuns(), ElementsAre("r2@w"));
  EXPECT_EQ(Worker("w").allocated, Cpu(2000));
  // Shrinking below what is allocated evicts nothing.
  AddWorker("w", Cpu(500));
  EXPECT_EQ(Worker("w").running.size(), 2u);
  EXPECT_EQ(Worker("w").free, (Resources{-1500, 0, 0}));
  EXPECT_FALSE(alloc_->UpsertWorker(WorkerSpec{WorkerId(""), {}, Cpu(1)}).ok());
  EXPECT_FALSE(alloc_->UpsertWorker(WorkerSpec{WorkerId("x"), {}, Cpu(-1)}).ok());
}

TEST_F(AllocatorTest, WorkerSnapshotAndHeartbeat) {
  Make();
  AddWorker("w", Resources{2000, 4096, 1024}, {{"zone", "a"}});
  EXPECT_EQ(SubmitNow(Req("r1", Resources{500, 1000, 24})), "w");
  clock_.Advance(absl::Seconds(7));
  ASSERT_TRUE(alloc_->RecordHeartbeat(WorkerId("w")).ok());
  EXPECT_EQ(alloc_->RecordHeartbeat(WorkerId("x")).code(), absl::StatusCode::kNotFound);
  WorkerSnapshot w = Worker("w");
  EXPECT_EQ(w.capacity, (Resources{2000, 4096, 1024}));
  EXPECT_EQ(w.allocated, (Resources{500, 1000, 24}));
  EXPECT_EQ(w.free, (Resources{1500, 3096, 1000}));
  EXPECT_THAT(w.running, ElementsAre(RunId("r1")));
  EXPECT_EQ(w.state, WorkerState::kReady);
  EXPECT_EQ(w.labels, (Labels{{"zone", "a"}}));
  EXPECT_EQ(w.last_heartbeat, kStart + absl::Seconds(7));
}

TEST_F(AllocatorTest, RestoreReestablishesAnAllocation) {
  Make();
  AddWorker("w", Cpu(1000));
  Grant g{RunId("r1"), JobId("j1"), WorkerId("w"), Cpu(800)};
  ASSERT_TRUE(alloc_->Restore(g).ok());
  EXPECT_TRUE(alloc_->Restore(g).ok());  // idempotent
  Grant other = g;
  other.resources = Cpu(100);
  EXPECT_EQ(alloc_->Restore(other).code(), absl::StatusCode::kAlreadyExists);
  Grant nowhere = g;
  nowhere.run_id = RunId("r2");
  nowhere.worker_id = WorkerId("gone");
  EXPECT_EQ(alloc_->Restore(nowhere).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Worker("w").allocated, Cpu(800));
  EXPECT_EQ(SubmitNow(Req("r3", Cpu(500))), "");  // the restored run holds the room
  EXPECT_EQ(alloc_->Submit(Req("r1", Cpu(1))).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(alloc_->Release(RunId("r1")));
  EXPECT_THAT(ScheduledRuns(), ElementsAre("r3@w"));
  // Beyond capacity is accepted: the run is there.
  ASSERT_TRUE(alloc_->Restore(Grant{RunId("r4"), JobId("j4"), WorkerId("w"), Cpu(900)}).ok());
  EXPECT_EQ(Worker("w").free, (Resources{-400, 0, 0}));
  ASSERT_TRUE(alloc_->SetWorkerState(WorkerId("w"), WorkerState::kDown).ok());
  EXPECT_EQ(alloc_->Restore(Grant{RunId("r5"), JobId("j5"), WorkerId("w"), Cpu(1)}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(AllocatorTest, CheckSchedulableNamesTheLargestWorker) {
  Make();
  EXPECT_EQ(alloc_->CheckSchedulable(Cpu(1), {}).code(), absl::StatusCode::kFailedPrecondition);
  AddWorker("local", Resources{2000, 7900, 51200});
  EXPECT_TRUE(alloc_->CheckSchedulable(Resources{2000, 7900, 51200}, {}).ok());
  absl::Status s = alloc_->CheckSchedulable(Resources{4000, 64, 0}, {});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "resources exceed every worker's capacity: requested cpu 4000m memory 64MiB storage "
            "0MiB; largest worker (local) has cpu 2000m memory 7900MiB storage 51200MiB");
  s = alloc_->CheckSchedulable(Cpu(1), {{"gpu", "true"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "no worker matches constraints {gpu=true}");
  EXPECT_EQ(alloc_->CheckSchedulable(Cpu(-1), {}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AllocatorTest, CheckSchedulablePicksTheClosestOfSeveralWorkers) {
  Make();
  AddWorker("a", Resources{1000, 100000, 0});
  AddWorker("b", Resources{3000, 1000, 0});
  AddWorker("gpu", Resources{16000, 65536, 0}, {{"gpu", "true"}});
  absl::Status s = alloc_->CheckSchedulable(Resources{4000, 1500, 0}, {{"gpu", "false"}});
  EXPECT_EQ(s.message(), "no worker matches constraints {gpu=false}");
  // No constraints: the labelled gpu worker matches too, and fits.
  EXPECT_TRUE(alloc_->CheckSchedulable(Resources{4000, 1500, 0}, {}).ok());
  ASSERT_TRUE(alloc_->SetWorkerState(WorkerId("gpu"), WorkerState::kDown).ok());
  // Against 4000m/1500MiB: a lacks 3/4 of the cpu; b lacks 1/4 of the cpu
  // and 1/3 of the memory, less in all.
  s = alloc_->CheckSchedulable(Resources{4000, 1500, 0}, {});
  EXPECT_THAT(std::string(s.message()), HasSubstr("largest worker (b) has cpu 3000m memory 1000MiB"));
  // Against 4000m/3000MiB: b lacks 1/4 + 2/3, a only 3/4.
  s = alloc_->CheckSchedulable(Resources{4000, 3000, 0}, {});
  EXPECT_THAT(std::string(s.message()), HasSubstr("largest worker (a) has cpu 1000m memory 100000MiB"));
  // A DRAINING worker still counts: it will take runs again.
  AddWorker("c", Resources{8000, 8000, 0});
  ASSERT_TRUE(alloc_->SetWorkerState(WorkerId("c"), WorkerState::kDraining).ok());
  EXPECT_TRUE(alloc_->CheckSchedulable(Resources{4000, 2000, 0}, {}).ok());
}

TEST_F(AllocatorTest, QueueListsRunsInOrderWithReasons) {
  Make();
  AddWorker("w1", Cpu(1000));
  AddWorker("w2", Cpu(2000), {{"zone", "b"}});
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(800), 0, {{"zone", "b"}})), "w2");
  EXPECT_EQ(SubmitNow(Req("r2", Cpu(900))), "w1");
  EXPECT_EQ(SubmitNow(Req("cap", Cpu(1500), 1)), "");
  EXPECT_EQ(SubmitNow(Req("gpu", Cpu(10), 2, {{"gpu", "true"}})), "");
  EXPECT_EQ(SubmitNow(Req("huge", Cpu(5000), 3)), "");
  std::vector<QueuedRun> q = alloc_->Queue();
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].run_id, RunId("huge"));
  EXPECT_EQ(q[0].reason,
            "unschedulable: resources exceed every worker's capacity: requested cpu 5000m memory "
            "0MiB storage 0MiB; largest worker (w2) has cpu 2000m memory 0MiB storage 0MiB");
  EXPECT_EQ(q[1].run_id, RunId("gpu"));
  EXPECT_EQ(q[1].reason, "unschedulable: no READY worker matches constraints {gpu=true}");
  EXPECT_EQ(q[1].constraints, (Labels{{"gpu", "true"}}));
  EXPECT_EQ(q[2].run_id, RunId("cap"));
  EXPECT_EQ(q[2].reason,
            "waiting for capacity: needs cpu 1500m memory 0MiB storage 0MiB; most free on a "
            "matching worker (w2): cpu 1200m memory 0MiB storage 0MiB");
  EXPECT_EQ(q[2].job_id, JobId("job-cap"));
  EXPECT_EQ(q[2].priority, 1);
  EXPECT_EQ(q[2].enqueue_time, kStart);
  // Capacity freed but Schedule() not called yet.
  ASSERT_TRUE(alloc_->Release(RunId("r1")));
  EXPECT_EQ(ReasonOf("cap"), "placeable now: waiting for the next scheduling pass");
  EXPECT_THAT(ScheduledRuns(), ElementsAre("cap@w2"));
}

TEST_F(AllocatorTest, ScheduleIsANoOpWhenNothingChanged) {
  Make();
  AddWorker("w", Cpu(1000));
  EXPECT_EQ(SubmitNow(Req("r1", Cpu(1000))), "w");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(SubmitNow(Req(absl::StrCat("q", i), Cpu(100 + i))), "");
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_THAT(ScheduledRuns(), IsEmpty());
  EXPECT_EQ(alloc_->QueueLength(), 5u);
}

TEST_F(AllocatorTest, EnqueueTimeCanBeCarriedOverFromBeforeARestart) {
  Make();
  AddWorker("w", Cpu(2000));
  EXPECT_EQ(SubmitNow(Req("a", Cpu(1500))), "w");
  PlacementRequest big = Req("big", Cpu(2000));
  big.enqueue_time = kStart - absl::Minutes(5);  // waited before the restart
  EXPECT_EQ(SubmitNow(big), "");
  EXPECT_EQ(SubmitNow(Req("small", Cpu(500))), "");  // the head is already past the bound
}

TEST(ResourcesTest, FromProtoAndFormat) {
  v1::ResourceRequirements p;
  p.set_cpu(250);
  p.set_memory(128);
  p.set_storage(1024);
  EXPECT_EQ(ResourcesFromProto(p), (Resources{250, 128, 1024}));
  EXPECT_EQ(FormatResources(Resources{250, 128, 1024}), "cpu 250m memory 128MiB storage 1024MiB");
}

// ------------------------------------------------------------------------
// The incremental bookkeeping (blocked shapes, freed workers, the settled
// queue) against a brute-force model that rescans everything after every
// operation, under random operations.

struct ModelWorker {
  std::string id;
  Labels labels;
  Resources capacity;
  Resources allocated;
  WorkerState state = WorkerState::kReady;
};

struct ModelRun {
  std::string id;
  int priority;
  int64_t scheduled;
  int64_t enqueued;
  uint64_t seq;
  Resources r;
  Labels constraints;
};

class Model {
 public:
  explicit Model(AllocatorOptions o) : options_(o) {}

  std::map<std::string, std::string> placements;  // run -> worker

  void Upsert(const std::string& id, Labels labels, Resources cap) {
    for (ModelWorker& w : workers_) {
      if (w.id == id) {
        w.labels = std::move(labels);
        w.capacity = cap;
        return;
      }
    }
    workers_.push_back(ModelWorker{id, std::move(labels), cap, {}, WorkerState::kReady});
  }
  void SetState(const std::string& id, WorkerState s) {
    for (ModelWorker& w : workers_) {
      if (w.id != id) continue;
      w.state = s;
      if (s == WorkerState::kDown) DropRunsOn(w);
    }
  }
  void Remove(const std::string& id) {
    for (auto it = workers_.begin(); it != workers_.end(); ++it) {
      if (it->id != id) continue;
      DropRunsOn(*it);
      workers_.erase(it);
      return;
    }
  }
  void Submit(ModelRun run) {
    if (placements.contains(run.id) || Queued(run.id)) return;
    run.seq = seq_++;
    queue_.push_back(std::move(run));
  }
  void Release(const std::string& id) {
    auto it = placements.find(id);
    if (it != placements.end()) {
      ModelWorker& w = *Find(it->second);
      Resources r = sizes_.at(id);
      w.allocated = Resources{w.allocated.cpu_millis - r.cpu_millis, w.allocated.memory_mib - r.memory_mib,
                              w.allocated.storage_mib - r.storage_mib};
      placements.erase(it);
      return;
    }
    std::erase_if(queue_, [&](const ModelRun& r) { return r.id == id; });
  }
  // A full pass from scratch, as the allocator's contract promises.
  void Pass(int64_t now_us) {
    std::sort(queue_.begin(), queue_.end(), [](const ModelRun& a, const ModelRun& b) {
      return std::tuple(-a.priority, a.scheduled, a.enqueued, a.seq) <
             std::tuple(-b.priority, b.scheduled, b.enqueued, b.seq);
    });
    bool seen_blocked = false;
    std::vector<ModelRun> rest;
    size_t i = 0;
    for (; i < queue_.size(); ++i) {
      const ModelRun& run = queue_[i];
      ModelWorker* best = Best(run);
      if (best != nullptr) {
        best->allocated = Add(best->allocated, run.r);
        placements[run.id] = best->id;
        sizes_[run.id] = run.r;
        continue;
      }
      rest.push_back(run);
      if (Schedulable(run) && !seen_blocked) {
        seen_blocked = true;
        if (absl::Microseconds(now_us - run.enqueued) > options_.backfill_wait_bound) {
          ++i;
          break;
        }
      }
    }
    for (; i < queue_.size(); ++i) rest.push_back(queue_[i]);
    queue_ = std::move(rest);
  }

 private:
  static Resources Add(Resources a, Resources b) {
    return {a.cpu_millis + b.cpu_millis, a.memory_mib + b.memory_mib, a.storage_mib + b.storage_mib};
  }
  static bool Fits(const Resources& r, const Resources& room) {
    return r.cpu_millis <= room.cpu_millis && r.memory_mib <= room.memory_mib && r.storage_mib <= room.storage_mib;
  }
  static bool Matches(const Labels& labels, const Labels& c) {
    for (const auto& [k, v] : c) {
      auto it = labels.find(k);
      if (it == labels.end() || it->second != v) return false;
    }
    return true;
  }
  bool Queued(const std::string& id) const {
    return std::any_of(queue_.begin(), queue_.end(), [&](const ModelRun& r) { return r.id == id; });
  }
  ModelWorker* Find(const std::string& id) {
    for (ModelWorker& w : workers_) {
      if (w.id == id) return &w;
    }
    return nullptr;
  }
  void DropRunsOn(ModelWorker& w) {
    std::erase_if(placements, [&](const auto& p) { return p.second == w.id; });
    w.allocated = {};
  }
  bool Schedulable(const ModelRun& run) const {
    return std::any_of(workers_.begin(), workers_.end(), [&](const ModelWorker& w) {
      return w.state == WorkerState::kReady && Matches(w.labels, run.constraints) && Fits(run.r, w.capacity);
    });
  }
  static double Score(const ModelWorker& w, const Resources& r) {
    std::array<int64_t, 3> cap{w.capacity.cpu_millis, w.capacity.memory_mib, w.capacity.storage_mib};
    std::array<int64_t, 3> left{w.capacity.cpu_millis - w.allocated.cpu_millis - r.cpu_millis,
                                w.capacity.memory_mib - w.allocated.memory_mib - r.memory_mib,
                                w.capacity.storage_mib - w.allocated.storage_mib - r.storage_mib};
    double s = 0;
    for (int d = 0; d < 3; ++d) s += static_cast<double>(left[d]) * (cap[d] > 0 ? 1.0 / cap[d] : 0.0);
    return s;
  }
  ModelWorker* Best(const ModelRun& run) {
    ModelWorker* best = nullptr;
    double best_score = 0;
    for (ModelWorker& w : workers_) {
      Resources free{w.capacity.cpu_millis - w.allocated.cpu_millis, w.capacity.memory_mib - w.allocated.memory_mib,
                     w.capacity.storage_mib - w.allocated.storage_mib};
      if (w.state != WorkerState::kReady || !Matches(w.labels, run.constraints) || !Fits(run.r, free)) continue;
      double s = Score(w, run.r);
      bool better = best == nullptr ||
                    (s != best_score ? (options_.strategy == Strategy::kBestFit ? s < best_score : s > best_score)
                                     : w.id < best->id);
      if (better) {
        best = &w;
        best_score = s;
      }
    }
    return best;
  }

  AllocatorOptions options_;
  std::vector<ModelWorker> workers_;
  std::vector<ModelRun> queue_;
  std::map<std::string, Resources> sizes_;
  uint64_t seq_ = 0;
};

// `churn`: percent of steps that change a worker. Worker changes reset what
// the allocator knows about blocked shapes, so a low churn exercises the
// incremental paths (freed workers, held passes) over long stretches.
void RunRandomAgainstModel(Strategy strategy, uint32_t seed, int churn) {
  AllocatorOptions o;
  o.strategy = strategy;
  o.backfill_wait_bound = absl::Seconds(20);
  ManualClock clock(kStart);
  auto a = Allocator::Create(o, &clock);
  ASSERT_TRUE(a.ok());
  Allocator& alloc = **a;
  Model model(o);
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };
  const std::vector<Labels> label_sets = {{}, {{"zone", "a"}}, {{"zone", "b"}}, {{"zone", "a"}, {"gpu", "true"}}};
  const std::vector<Labels> constraint_sets = {{}, {}, {}, {{"zone", "a"}}, {{"gpu", "true"}}, {{"zone", "c"}}};
  const std::vector<int64_t> cpus = {100, 250, 500, 1000, 2000, 3000, 5000};
  std::vector<std::string> runs;
  int next_run = 0;

  for (int step = 0; step < 1500; ++step) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " step ", step));
    int op = pick(100);
    std::string worker = absl::StrCat("w", pick(6));
    if (step < 12) {  // start with every worker present
      op = 80;
      worker = absl::StrCat("w", step % 6);
    } else if (op >= 80 && op < 93) {
      op = pick(100) < churn * 100 / 15 ? op : 99;
    }
    if (op < 45) {
      std::string id = absl::StrCat("r", next_run++);
      runs.push_back(id);
      PlacementRequest p;
      p.run_id = RunId(id);
      p.job_id = JobId("j");
      p.priority = pick(3);
      p.scheduled_time = kStart + absl::Seconds(pick(4));
      p.resources = Resources{cpus[pick(cpus.size())], 64 * (1 + pick(4)), pick(2) * 100};
      p.constraints = constraint_sets[pick(constraint_sets.size())];
      model.Submit(ModelRun{id, p.priority, absl::ToUnixMicros(p.scheduled_time),
                            absl::ToUnixMicros(clock.Now()), 0, p.resources, p.constraints});
      auto g = alloc.Submit(std::move(p));
      ASSERT_TRUE(g.ok());
    } else if (op < 80 && !runs.empty()) {
      std::string id = runs[pick(runs.size())];
      alloc.Release(RunId(id));
      model.Release(id);
    } else if (op < 85) {
      Resources cap{1000 * (1 + pick(6)), 256 * (1 + pick(4)), 200 * pick(3)};
      Labels labels = label_sets[pick(label_sets.size())];
      ASSERT_TRUE(alloc.UpsertWorker(WorkerSpec{WorkerId(worker), labels, cap}).ok());
      model.Upsert(worker, labels, cap);
    } else if (op < 91) {
      WorkerState s = static_cast<WorkerState>(pick(3));
      if (alloc.SetWorkerState(WorkerId(worker), s).ok()) model.SetState(worker, s);
    } else if (op < 93) {
      if (alloc.RemoveWorker(WorkerId(worker)).ok()) model.Remove(worker);
    } else {
      clock.Advance(absl::Seconds(1 + pick(15)));
    }
    // The contract: Schedule() after every change.
    alloc.Schedule();
    model.Pass(absl::ToUnixMicros(clock.Now()));

    std::map<std::string, std::string> actual;
    for (const WorkerSnapshot& w : alloc.Workers()) {
      for (const RunId& r : w.running) actual[r.value()] = w.id.value();
    }
    ASSERT_EQ(actual, model.placements);
  }
}

TEST(AllocatorModelTest, BestFitMatchesBruteForce) {
  for (uint32_t seed = 1; seed <= 3; ++seed) RunRandomAgainstModel(Strategy::kBestFit, seed, 15);
}

TEST(AllocatorModelTest, SpreadMatchesBruteForce) {
  for (uint32_t seed = 1; seed <= 3; ++seed) RunRandomAgainstModel(Strategy::kSpread, seed, 15);
}

TEST(AllocatorModelTest, LowChurnMatchesBruteForce) {
  for (uint32_t seed = 1; seed <= 3; ++seed) RunRandomAgainstModel(Strategy::kBestFit, seed, 1);
  for (uint32_t seed = 4; seed <= 5; ++seed) RunRandomAgainstModel(Strategy::kSpread, seed, 1);
}

}  // namespace
}  // namespace dts::allocator
