#include "dts/storage/testing/store_conformance.h"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cctype>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

namespace dts::storage::testing {

StoreConformanceParam::StoreConformanceParam(std::string name, StoreFactory factory)
    : name_(std::move(name)), factory_(std::move(factory)) {}

void PrintTo(const StoreConformanceParam& param, std::ostream* os) { *os << param.name(); }

std::string StoreConformanceName(const ::testing::TestParamInfo<StoreConformanceParam>& info) {
  std::string name;
  for (char c : info.param.name()) {
    name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  }
  return name;
}

void StoreConformanceTest::SetUp() {
  store_ = GetParam().MakeStore();
  ASSERT_NE(store_, nullptr) << "the store factory of " << GetParam().name() << " failed";
}

void StoreConformanceTest::TearDown() { store_.reset(); }

namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::google::protobuf::util::TimeUtil;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  MessageDifferencer differencer;
  std::string diff;
  differencer.ReportDifferencesToString(&diff);
  if (differencer.Compare(expected, arg)) return true;
  *result_listener << "differs: " << diff;
  return false;
}

MATCHER_P(HasCode, code, absl::StrCat("has status code ", absl::StatusCodeToString(code))) {
  absl::Status status = arg;
  *result_listener << "status is " << status;
  return status.code() == code;
}

template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& v) {
  return v.status();
}

// Zero-padded, so lexical order is numeric order.
std::string JobIdOf(int n) { return absl::StrFormat("job-%05d", n); }
std::string RunIdOf(int n) { return absl::StrFormat("run-%05d", n); }

Job MakeJob(const std::string& id, const std::string& status = "ACTIVE") {
  Job job;
  job.set_id(id);
  job.set_name(absl::StrCat("name of ", id));
  job.set_cron_expression("*/5 * * * *");
  job.set_timezone("UTC");
  job.set_status(status);
  *job.mutable_created_at() = TimeUtil::SecondsToTimestamp(1767225600);
  *job.mutable_updated_at() = TimeUtil::SecondsToTimestamp(1767225600);
  return job;
}

// A job with every kind of field set, to check nothing is lost on the way.
Job MakeFullJob(const std::string& id) {
  Job job = MakeJob(id, "PAUSED");
  job.set_description("backs up the database");
  *job.mutable_next_run() = TimeUtil::MicrosecondsToTimestamp(1767225900123456);
  *job.mutable_last_run() = TimeUtil::SecondsToTimestamp(1767225600);
  (*job.mutable_metadata())["team"] = "storage";
  (*job.mutable_metadata())["quote's"] = "\"value\"\n";
  job.set_priority(7);
  job.set_max_retries(3);
  job.set_timeout(600);
  job.set_timezone("America/New_York");
  auto* command = job.mutable_executor()->mutable_command();
  command->add_argv("/usr/bin/backup");
  command->add_argv("--all");
  (*command->mutable_env())["PGHOST"] = "db";
  job.mutable_resources()->set_cpu(250);
  job.mutable_resources()->set_memory(512);
  (*job.mutable_constraints())["zone"] = "a";
  job.set_overlap_policy("FORBID");
  job.set_misfire_policy("RUN_ALL");
  job.mutable_retry_backoff()->set_initial_seconds(5);
  job.mutable_retry_backoff()->set_multiplier(2.5);
  job.set_last_status("FAILED");
  *job.mutable_schedule_anchor() = TimeUtil::SecondsToTimestamp(1767225000);
  return job;
}

dts::Run MakeRun(const std::string& id, const std::string& job_id,
                 const std::string& status = "PENDING") {
  dts::Run run;
  run.set_id(id);
  run.set_job_id(job_id);
  run.set_status(status);
  run.set_trigger("SCHEDULE");
  run.set_attempt(1);
  *run.mutable_scheduled_time() = TimeUtil::SecondsToTimestamp(1767225600);
  *run.mutable_created_at() = TimeUtil::SecondsToTimestamp(1767225601);
  return run;
}

std::vector<std::string> IdsOf(const std::vector<Job>& jobs) {
  std::vector<std::string> ids;
  for (const Job& j : jobs) ids.push_back(j.id());
  return ids;
}

std::vector<std::string> IdsOf(const std::vector<dts::Run>& runs) {
  std::vector<std::string> ids;
  for (const dts::Run& r : runs) ids.push_back(r.id());
  return ids;
}

// Pages through every job matching `status` and returns the ids in order;
// checks the paging invariants on the way.
std::vector<std::string> AllJobIds(Store& store, int page_size,
                                   std::optional<std::string> status = std::nullopt) {
  std::vector<std::string> ids;
  ListJobsQuery query;
  query.page_size = page_size;
  query.status = std::move(status);
  for (int guard = 0; guard < 10000; ++guard) {
    absl::StatusOr<JobPage> page = store.ListJobs(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    EXPECT_LE(page->jobs.size(), static_cast<size_t>(page_size));
    for (const Job& job : page->jobs) ids.push_back(job.id());
    if (page->next_page.empty()) break;
    EXPECT_EQ(page->jobs.size(), static_cast<size_t>(page_size))
        << "a page before the last must be full";
    EXPECT_EQ(page->next_page, page->jobs.back().id());
    query.after_id = page->next_page;
  }
  return ids;
}

std::vector<std::string> AllRunIds(Store& store, ListRunsQuery query) {
  std::vector<std::string> ids;
  for (int guard = 0; guard < 10000; ++guard) {
    absl::StatusOr<RunPage> page = store.ListRuns(query);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    for (const dts::Run& run : page->runs) ids.push_back(run.id());
    if (page->next_page.empty()) break;
    EXPECT_EQ(page->runs.size(), static_cast<size_t>(query.page_size));
    EXPECT_EQ(page->next_page, page->runs.back().id());
    query.after_id = page->next_page;
  }
  return ids;
}

// ---- jobs: CRUD ----

TEST_P(StoreConformanceTest, CreatedJobReadsBackUnchanged) {
  Job job = MakeFullJob("8f14e45f-ceea-467f-a0e6-0b5e4ec5bd7a");
  ASSERT_TRUE(store().CreateJob(job).ok());
  absl::StatusOr<Job> got = store().GetJob(JobId(job.id()));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(job));
}

TEST_P(StoreConformanceTest, MinimalJobReadsBackUnchanged) {
  Job job;
  job.set_id("j");
  ASSERT_TRUE(store().CreateJob(job).ok());
  absl::StatusOr<Job> got = store().GetJob(JobId("j"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(job));
}

TEST_P(StoreConformanceTest, LargeJobReadsBackUnchanged) {
  // The largest job validation admits: 64 metadata entries of 4 KiB.
  Job job = MakeJob(JobIdOf(1));
  for (int i = 0; i < 64; ++i) {
    (*job.mutable_metadata())[absl::StrCat("key", i)] = std::string(4096, 'a' + i % 26);
  }
  ASSERT_TRUE(store().CreateJob(job).ok());
  absl::StatusOr<Job> got = store().GetJob(JobId(job.id()));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(job));
}

TEST_P(StoreConformanceTest, GetMissingJobIsNotFound) {
  EXPECT_THAT(StatusOf(store().GetJob(JobId("nope"))), HasCode(absl::StatusCode::kNotFound));
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  EXPECT_THAT(StatusOf(store().GetJob(JobId(JobIdOf(2)))), HasCode(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DuplicateJobIdIsRefusedAndFirstKept) {
  Job first = MakeJob(JobIdOf(1));
  ASSERT_TRUE(store().CreateJob(first).ok());
  Job second = MakeJob(JobIdOf(1), "PAUSED");
  second.set_name("second");
  EXPECT_THAT(store().CreateJob(second), HasCode(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<Job> got = store().GetJob(JobId(first.id()));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(first));
  absl::StatusOr<JobPage> page = store().ListJobs({});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 1);
}

TEST_P(StoreConformanceTest, EmptyIdsAreInvalid) {
  EXPECT_THAT(store().CreateJob(MakeJob("")), HasCode(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store().CreateRun(MakeRun("", JobIdOf(1))),
              HasCode(absl::StatusCode::kInvalidArgument));
}

TEST_P(StoreConformanceTest, UpdateJobReplacesIt) {
  Job job = MakeFullJob(JobIdOf(1));
  ASSERT_TRUE(store().CreateJob(job).ok());
  Job updated = MakeJob(JobIdOf(1), "PAUSED");
  updated.set_name("renamed");
  *updated.mutable_updated_at() = TimeUtil::SecondsToTimestamp(1767229200);
  ASSERT_TRUE(store().UpdateJob(updated).ok());
  absl::StatusOr<Job> got = store().GetJob(JobId(job.id()));
  ASSERT_TRUE(got.ok()) << got.status();
  // Replaced, not merged: fields the update does not set are gone, except
  // last_run and last_status, which belong to the engine.
  Job expected = updated;
  *expected.mutable_last_run() = job.last_run();
  expected.set_last_status(job.last_status());
  EXPECT_THAT(*got, EqualsProto(expected));
}

TEST_P(StoreConformanceTest, UpdateJobKeepsEngineFields) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  FireRecord fire{MakeRun(RunIdOf(1), JobIdOf(1)), absl::FromUnixSeconds(1767225900),
                  absl::FromUnixSeconds(1767225600)};
  ASSERT_TRUE(store().RecordFires({fire}).ok());
  // An API edit made from a read taken before the fire.
  Job stale = MakeJob(JobIdOf(1));
  stale.set_name("renamed");
  ASSERT_TRUE(store().UpdateJob(stale).ok());
  absl::StatusOr<Job> got = store().GetJob(JobId(JobIdOf(1)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->name(), "renamed");
  EXPECT_EQ(got->last_run().seconds(), 1767225600);
  EXPECT_EQ(got->last_status(), "PENDING");
}

TEST_P(StoreConformanceTest, RecordFiresStoresRunsAndAdvancesJobs) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(2))).ok());
  dts::Run a = MakeRun(RunIdOf(1), JobIdOf(1));
  dts::Run b = MakeRun(RunIdOf(2), JobIdOf(2), "SKIPPED");
  absl::StatusOr<std::vector<bool>> stored = store().RecordFires({
      {a, absl::FromUnixSeconds(1767225900), absl::FromUnixSeconds(1767225600)},
      {b, std::nullopt, absl::FromUnixSeconds(1767225600)},
  });
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, ElementsAre(true, true));
  EXPECT_THAT(store().GetRun(RunId(RunIdOf(1))).value(), EqualsProto(a));
  EXPECT_THAT(store().GetRun(RunId(RunIdOf(2))).value(), EqualsProto(b));
  const Job one = store().GetJob(JobId(JobIdOf(1))).value();
  EXPECT_EQ(one.next_run().seconds(), 1767225900);
  EXPECT_EQ(one.last_run().seconds(), 1767225600);
  EXPECT_EQ(one.last_status(), "PENDING");
  const Job two = store().GetJob(JobId(JobIdOf(2))).value();
  EXPECT_FALSE(two.has_next_run());
  EXPECT_EQ(two.last_status(), "SKIPPED");
}

TEST_P(StoreConformanceTest, RecordFiresNeverStoresARunTwice) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  dts::Run first = MakeRun(RunIdOf(1), JobIdOf(1));
  ASSERT_TRUE(store().RecordFires({{first, absl::FromUnixSeconds(1767225900),
                                    absl::FromUnixSeconds(1767225600)}}).ok());
  // The same fire again (a restart that lost the engine's memory, or a
  // zombie owner): refused, while a new fire in the same batch is stored.
  dts::Run again = MakeRun(RunIdOf(1), JobIdOf(1), "COMPLETED");
  dts::Run next = MakeRun(RunIdOf(2), JobIdOf(1));
  absl::StatusOr<std::vector<bool>> stored = store().RecordFires({
      {again, absl::FromUnixSeconds(1767225900), absl::FromUnixSeconds(1767225600)},
      {next, absl::FromUnixSeconds(1767226200), absl::FromUnixSeconds(1767225900)},
  });
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, ElementsAre(false, true));
  EXPECT_EQ(store().GetRun(RunId(RunIdOf(1))).value().status(), "PENDING");
  EXPECT_EQ(store().GetJob(JobId(JobIdOf(1))).value().next_run().seconds(), 1767226200);
}

TEST_P(StoreConformanceTest, RecordFiresLeavesTheScheduleOfAChangedJobAlone) {
  Job job = MakeJob(JobIdOf(1));
  ASSERT_TRUE(store().CreateJob(job).ok());
  // The job is edited (paused) after the fire was planned from the old one.
  Job edited = job;
  edited.set_status("PAUSED");
  edited.clear_next_run();
  *edited.mutable_updated_at() = TimeUtil::SecondsToTimestamp(1767229200);
  ASSERT_TRUE(store().UpdateJob(edited).ok());
  FireRecord fire{MakeRun(RunIdOf(1), JobIdOf(1)), absl::FromUnixSeconds(1767225900),
                  absl::FromUnixSeconds(1767225600)};
  fire.job_updated_at = absl::FromUnixSeconds(job.updated_at().seconds());
  ASSERT_TRUE(store().RecordFires({fire}).ok());
  const Job got = store().GetJob(JobId(JobIdOf(1))).value();
  EXPECT_EQ(got.status(), "PAUSED");
  EXPECT_FALSE(got.has_next_run());
  EXPECT_EQ(got.last_run().seconds(), 1767225600);  // the fire itself is recorded
  EXPECT_TRUE(store().GetRun(RunId(RunIdOf(1))).ok());
}

TEST_P(StoreConformanceTest, RecordFiresDropsFiresOfDeletedJobs) {
  absl::StatusOr<std::vector<bool>> stored = store().RecordFires(
      {{MakeRun(RunIdOf(1), JobIdOf(9)), std::nullopt, absl::FromUnixSeconds(1767225600)}});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_THAT(*stored, ElementsAre(false));
  EXPECT_THAT(StatusOf(store().GetRun(RunId(RunIdOf(1)))), HasCode(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, PruneRunsKeepsTheNewestAndTheYoungAndTheActive) {
  // Job 1: runs 1..5 created at t=1..5 s; run 1 still RUNNING.
  for (int i = 1; i <= 5; ++i) {
    dts::Run run = MakeRun(RunIdOf(i), JobIdOf(1), i == 1 ? "RUNNING" : "COMPLETED");
    *run.mutable_created_at() = TimeUtil::SecondsToTimestamp(i);
    ASSERT_TRUE(store().CreateRun(run).ok());
  }
  // Job 2: one old run, the newest of its job.
  dts::Run other = MakeRun(RunIdOf(9), JobIdOf(2), "FAILED");
  *other.mutable_created_at() = TimeUtil::SecondsToTimestamp(1);
  ASSERT_TRUE(store().CreateRun(other).ok());

  // Keep the 2 newest per job, and anything created at or after t=3.
  absl::StatusOr<int64_t> pruned = store().PruneRuns(2, absl::FromUnixSeconds(3));
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 1);  // run 2: old, not among the newest, not active
  ListRunsQuery all;
  EXPECT_THAT(AllRunIds(store(), all),
              ElementsAre(RunIdOf(1), RunIdOf(3), RunIdOf(4), RunIdOf(5), RunIdOf(9)));
  EXPECT_EQ(*store().PruneRuns(2, absl::FromUnixSeconds(3)), 0);  // idempotent
}

TEST_P(StoreConformanceTest, UpdateRunOfLatestFireSetsJobLastStatus) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  dts::Run run = MakeRun(RunIdOf(1), JobIdOf(1));
  ASSERT_TRUE(store().RecordFires({{run, std::nullopt, absl::FromUnixSeconds(1767225600)}}).ok());
  run.set_status("COMPLETED");
  ASSERT_TRUE(store().UpdateRun(run).ok());
  EXPECT_EQ(store().GetJob(JobId(JobIdOf(1))).value().last_status(), "COMPLETED");
  // A run of an older fire does not change it.
  dts::Run old = MakeRun(RunIdOf(2), JobIdOf(1), "PENDING");
  *old.mutable_scheduled_time() = TimeUtil::SecondsToTimestamp(1767225000);
  ASSERT_TRUE(store().CreateRun(old).ok());
  old.set_status("FAILED");
  ASSERT_TRUE(store().UpdateRun(old).ok());
  EXPECT_EQ(store().GetJob(JobId(JobIdOf(1))).value().last_status(), "COMPLETED");
}

TEST_P(StoreConformanceTest, UpdateJobWithSameContentSucceeds) {
  Job job = MakeJob(JobIdOf(1));
  ASSERT_TRUE(store().CreateJob(job).ok());
  EXPECT_TRUE(store().UpdateJob(job).ok());
}

TEST_P(StoreConformanceTest, UpdateMissingJobIsNotFoundAndCreatesNothing) {
  EXPECT_THAT(store().UpdateJob(MakeJob(JobIdOf(1))), HasCode(absl::StatusCode::kNotFound));
  EXPECT_THAT(StatusOf(store().GetJob(JobId(JobIdOf(1)))), HasCode(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DeleteJobRemovesIt) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(2))).ok());
  ASSERT_TRUE(store().DeleteJob(JobId(JobIdOf(1))).ok());
  EXPECT_THAT(StatusOf(store().GetJob(JobId(JobIdOf(1)))), HasCode(absl::StatusCode::kNotFound));
  EXPECT_TRUE(store().GetJob(JobId(JobIdOf(2))).ok());
  EXPECT_THAT(AllJobIds(store(), 10), ElementsAre(JobIdOf(2)));
  // The id is free again.
  EXPECT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
}

TEST_P(StoreConformanceTest, DeleteMissingJobIsNotFound) {
  EXPECT_THAT(store().DeleteJob(JobId(JobIdOf(1))), HasCode(absl::StatusCode::kNotFound));
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  ASSERT_TRUE(store().DeleteJob(JobId(JobIdOf(1))).ok());
  EXPECT_THAT(store().DeleteJob(JobId(JobIdOf(1))), HasCode(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DeleteJobDeletesItsRunsAndNoOthers) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(2))).ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store().CreateRun(MakeRun(RunIdOf(i), JobIdOf(1))).ok());
  }
  ASSERT_TRUE(store().CreateRun(MakeRun(RunIdOf(10), JobIdOf(2))).ok());

  ASSERT_TRUE(store().DeleteJob(JobId(JobIdOf(1))).ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(StatusOf(store().GetRun(RunId(RunIdOf(i)))), HasCode(absl::StatusCode::kNotFound))
        << RunIdOf(i);
  }
  ListRunsQuery by_job;
  by_job.job_id = JobId(JobIdOf(1));
  absl::StatusOr<RunPage> page = store().ListRuns(by_job);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->runs, IsEmpty());
  EXPECT_EQ(page->total, 0);

  EXPECT_TRUE(store().GetRun(RunId(RunIdOf(10))).ok());
  absl::StatusOr<RunPage> all = store().ListRuns({});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->total, 1);
}

// ---- jobs: listing ----

TEST_P(StoreConformanceTest, ListJobsOfEmptyStore) {
  absl::StatusOr<JobPage> page = store().ListJobs({});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->jobs, IsEmpty());
  EXPECT_EQ(page->total, 0);
  EXPECT_EQ(page->next_page, "");
}

TEST_P(StoreConformanceTest, ListJobsPagesInIdOrder) {
  std::vector<int> order(23);
  for (int i = 0; i < 23; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  for (int n : order) ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(n))).ok());

  std::vector<std::string> expected;
  for (int i = 0; i < 23; ++i) expected.push_back(JobIdOf(i));

  ListJobsQuery query;
  query.page_size = 5;
  absl::StatusOr<JobPage> first = store().ListJobs(query);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(IdsOf(first->jobs), ElementsAreArray(expected.begin(), expected.begin() + 5));
  EXPECT_EQ(first->total, 23);
  EXPECT_EQ(first->next_page, JobIdOf(4));

  EXPECT_EQ(AllJobIds(store(), 5), expected);
  EXPECT_EQ(AllJobIds(store(), 1), expected);
  EXPECT_EQ(AllJobIds(store(), 23), expected);
  EXPECT_EQ(AllJobIds(store(), 1000), expected);
}

TEST_P(StoreConformanceTest, ListJobsFullLastPageHasNoNextPage) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(i))).ok());
  ListJobsQuery query;
  query.page_size = 5;
  query.after_id = JobIdOf(4);
  absl::StatusOr<JobPage> page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->jobs.size(), 5u);
  EXPECT_EQ(page->next_page, "") << "no empty page may follow";
  EXPECT_EQ(page->total, 10) << "total counts every match, not what is left";

  query.after_id = JobIdOf(9);
  page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->jobs, IsEmpty());
  EXPECT_EQ(page->next_page, "");
}

TEST_P(StoreConformanceTest, ListJobsCursorNeedNotBeAStoredId) {
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(i * 10))).ok());
  ListJobsQuery query;
  query.page_size = 2;
  query.after_id = JobIdOf(15);  // between 10 and 20
  absl::StatusOr<JobPage> page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(IdsOf(page->jobs), ElementsAre(JobIdOf(20), JobIdOf(30)));
  EXPECT_EQ(page->next_page, JobIdOf(30));

  // A cursor whose job was deleted meanwhile still works.
  ASSERT_TRUE(store().DeleteJob(JobId(JobIdOf(30))).ok());
  query.after_id = JobIdOf(30);
  page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(IdsOf(page->jobs), ElementsAre(JobIdOf(40), JobIdOf(50)));
  EXPECT_EQ(page->next_page, "");
}

TEST_P(StoreConformanceTest, ListJobsFiltersByStatusAndCountsTotal) {
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(i), i % 3 == 0 ? "PAUSED" : "ACTIVE")).ok());
  }
  ListJobsQuery query;
  query.page_size = 3;
  query.status = "PAUSED";
  absl::StatusOr<JobPage> page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(IdsOf(page->jobs), ElementsAre(JobIdOf(0), JobIdOf(3), JobIdOf(6)));
  EXPECT_EQ(page->total, 4);
  EXPECT_EQ(page->next_page, JobIdOf(6));
  for (const Job& job : page->jobs) EXPECT_EQ(job.status(), "PAUSED");

  EXPECT_THAT(AllJobIds(store(), 3, "PAUSED"),
              ElementsAre(JobIdOf(0), JobIdOf(3), JobIdOf(6), JobIdOf(9)));
  EXPECT_EQ(AllJobIds(store(), 5, "ACTIVE").size(), 8u);
  EXPECT_THAT(AllJobIds(store(), 5, "FAILED"), IsEmpty());

  query.status = "ACTIVE";
  page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 8);

  query.status = std::nullopt;
  page = store().ListJobs(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 12);
}

TEST_P(StoreConformanceTest, StatusFilterFollowsUpdates) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1), "ACTIVE")).ok());
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(2), "ACTIVE")).ok());
  ASSERT_TRUE(store().UpdateJob(MakeJob(JobIdOf(1), "PAUSED")).ok());
  EXPECT_THAT(AllJobIds(store(), 10, "PAUSED"), ElementsAre(JobIdOf(1)));
  EXPECT_THAT(AllJobIds(store(), 10, "ACTIVE"), ElementsAre(JobIdOf(2)));
}

TEST_P(StoreConformanceTest, PagingIsStableWhileJobsAreInserted) {
  // Even ids exist from the start; odd ids are inserted between pages, one
  // behind the cursor and one ahead of it.
  std::set<std::string> initial;
  for (int i = 0; i < 60; i += 2) {
    ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(i))).ok());
    initial.insert(JobIdOf(i));
  }
  std::vector<std::string> seen;
  std::set<std::string> inserted_ahead;
  ListJobsQuery query;
  query.page_size = 7;
  int behind = 1;
  int ahead = 59;
  for (int guard = 0; guard < 100; ++guard) {
    absl::StatusOr<JobPage> page = store().ListJobs(query);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const Job& job : page->jobs) seen.push_back(job.id());
    if (page->next_page.empty()) break;
    query.after_id = page->next_page;
    if (JobIdOf(behind) < query.after_id) {
      ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(behind))).ok());
      behind += 2;
    }
    if (JobIdOf(ahead) > query.after_id) {
      ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(ahead))).ok());
      inserted_ahead.insert(JobIdOf(ahead));
      ahead -= 2;
    }
  }
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "an id came twice";
  std::set<std::string> seen_set(seen.begin(), seen.end());
  for (const std::string& id : initial) EXPECT_EQ(seen_set.count(id), 1u) << id << " skipped";
  for (const std::string& id : inserted_ahead) {
    EXPECT_EQ(seen_set.count(id), 1u) << id << " was inserted ahead of the cursor but not seen";
  }
}

// ---- runs ----

TEST_P(StoreConformanceTest, CreatedRunReadsBackUnchanged) {
  dts::Run run = MakeRun("3c59dc04-8f3d-4a6e-9a0b-2f0c6c7f5b1e", JobIdOf(1), "COMPLETED");
  *run.mutable_start_time() = TimeUtil::MicrosecondsToTimestamp(1767225601500000);
  *run.mutable_end_time() = TimeUtil::MicrosecondsToTimestamp(1767225602750000);
  run.set_result(std::string("out\0put", 7));
  run.set_error("none");
  run.set_exit_code(0);
  run.set_worker_id("worker-a");
  run.set_missed_count(2);
  ASSERT_TRUE(store().CreateRun(run).ok());
  absl::StatusOr<dts::Run> got = store().GetRun(RunId(run.id()));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(run));
  EXPECT_TRUE(got->has_exit_code());

  dts::Run manual;
  manual.set_id("manual");
  manual.set_job_id(JobIdOf(1));
  ASSERT_TRUE(store().CreateRun(manual).ok());
  got = store().GetRun(RunId("manual"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(manual));
}

TEST_P(StoreConformanceTest, GetMissingRunIsNotFound) {
  EXPECT_THAT(StatusOf(store().GetRun(RunId("nope"))), HasCode(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, DuplicateRunIdIsRefusedAndFirstKept) {
  dts::Run first = MakeRun(RunIdOf(1), JobIdOf(1));
  first.set_worker_id("first");
  ASSERT_TRUE(store().CreateRun(first).ok());
  dts::Run second = MakeRun(RunIdOf(1), JobIdOf(1), "RUNNING");
  second.set_worker_id("second");
  EXPECT_THAT(store().CreateRun(second), HasCode(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<dts::Run> got = store().GetRun(RunId(RunIdOf(1)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(first));
  absl::StatusOr<RunPage> page = store().ListRuns({});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 1);
}

TEST_P(StoreConformanceTest, UpdateRunReplacesIt) {
  ASSERT_TRUE(store().CreateRun(MakeRun(RunIdOf(1), JobIdOf(1))).ok());
  dts::Run done = MakeRun(RunIdOf(1), JobIdOf(1), "FAILED");
  done.set_error("exit status 3");
  done.set_exit_code(3);
  ASSERT_TRUE(store().UpdateRun(done).ok());
  absl::StatusOr<dts::Run> got = store().GetRun(RunId(RunIdOf(1)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(done));

  ListRunsQuery failed;
  failed.status = "FAILED";
  EXPECT_THAT(AllRunIds(store(), failed), ElementsAre(RunIdOf(1)));
  ListRunsQuery pending;
  pending.status = "PENDING";
  EXPECT_THAT(AllRunIds(store(), pending), IsEmpty());
}

TEST_P(StoreConformanceTest, UpdateRunsWritesEveryRunAndSkipsMissingOnes) {
  ASSERT_TRUE(store().CreateJob(MakeJob(JobIdOf(1))).ok());
  dts::Run fired = MakeRun(RunIdOf(1), JobIdOf(1));
  ASSERT_TRUE(store().RecordFires({{fired, std::nullopt, absl::FromUnixSeconds(1767225600)}}).ok());
  dts::Run manual = MakeRun(RunIdOf(2), JobIdOf(1), "RUNNING");
  manual.set_trigger("MANUAL");
  manual.clear_scheduled_time();  // not a fire: leaves the job's last_status
  ASSERT_TRUE(store().CreateRun(manual).ok());

  fired.set_status("FAILED");
  fired.set_exit_code(2);
  manual.set_status("COMPLETED");
  dts::Run missing = MakeRun(RunIdOf(3), JobIdOf(1), "COMPLETED");  // never stored
  ASSERT_TRUE(store().UpdateRuns({fired, missing, manual}).ok());

  EXPECT_THAT(store().GetRun(RunId(RunIdOf(1))).value(), EqualsProto(fired));
  EXPECT_THAT(store().GetRun(RunId(RunIdOf(2))).value(), EqualsProto(manual));
  EXPECT_THAT(StatusOf(store().GetRun(RunId(RunIdOf(3)))), HasCode(absl::StatusCode::kNotFound));
  EXPECT_EQ(store().GetJob(JobId(JobIdOf(1))).value().last_status(), "FAILED");
  EXPECT_TRUE(store().UpdateRuns({}).ok());
}

TEST_P(StoreConformanceTest, FireFactsSurviveAnApiUpdateOfTheJob) {
  Job job = MakeJob(JobIdOf(1));
  ASSERT_TRUE(store().CreateJob(job).ok());
  dts::Run run = MakeRun(RunIdOf(1), JobIdOf(1), "COMPLETED");
  const absl::Time fired_at = absl::FromUnixSeconds(1767225600);
  ASSERT_TRUE(store().RecordFires({{run, fired_at + absl::Seconds(60), fired_at}}).ok());
  // An edit made from a read taken before the fire.
  job.set_description("edited");
  ASSERT_TRUE(store().UpdateJob(job).ok());
  Job got = store().GetJob(JobId(JobIdOf(1))).value();
  EXPECT_EQ(got.description(), "edited");
  EXPECT_EQ(got.last_status(), "COMPLETED");
  EXPECT_EQ(TimeUtil::TimestampToSeconds(got.last_run()), absl::ToUnixSeconds(fired_at));
  // The listing shows the same facts as the get.
  absl::StatusOr<JobPage> page = store().ListJobs({});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_THAT(page->jobs[0], EqualsProto(got));
}

TEST_P(StoreConformanceTest, UpdateMissingRunIsNotFoundAndCreatesNothing) {
  EXPECT_THAT(store().UpdateRun(MakeRun(RunIdOf(1), JobIdOf(1))),
              HasCode(absl::StatusCode::kNotFound));
  EXPECT_THAT(StatusOf(store().GetRun(RunId(RunIdOf(1)))), HasCode(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, ListRunsFiltersByJobAndStatus) {
  // 30 runs over three jobs, statuses cycling through three values.
  const std::vector<std::string> statuses = {"PENDING", "COMPLETED", "FAILED"};
  std::vector<int> order(30);
  for (int i = 0; i < 30; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  for (int i : order) {
    ASSERT_TRUE(
        store().CreateRun(MakeRun(RunIdOf(i), JobIdOf(i % 3), statuses[(i / 3) % 3])).ok());
  }
  auto expected = [&](std::optional<int> job, std::optional<std::string> status) {
    std::vector<std::string> ids;
    for (int i = 0; i < 30; ++i) {
      if (job && i % 3 != *job) continue;
      if (status && statuses[(i / 3) % 3] != *status) continue;
      ids.push_back(RunIdOf(i));
    }
    return ids;
  };
  for (std::optional<int> job : {std::optional<int>(), std::optional<int>(1)}) {
    for (std::optional<std::string> status :
         {std::optional<std::string>(), std::optional<std::string>("COMPLETED")}) {
      SCOPED_TRACE(absl::StrCat("job ", job ? JobIdOf(*job) : "any", ", status ",
                                status ? *status : "any"));
      ListRunsQuery query;
      if (job) query.job_id = JobId(JobIdOf(*job));
      query.status = status;
      query.page_size = 4;
      std::vector<std::string> want = expected(job, status);
      absl::StatusOr<RunPage> page = store().ListRuns(query);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_EQ(page->total, static_cast<int64_t>(want.size()));
      EXPECT_EQ(AllRunIds(store(), query), want);
      for (const dts::Run& run : page->runs) {
        if (job) {
          EXPECT_EQ(run.job_id(), JobIdOf(*job));
        }
        if (status) {
          EXPECT_EQ(run.status(), *status);
        }
      }
    }
  }
  ListRunsQuery unknown_job;
  unknown_job.job_id = JobId("nope");
  absl::StatusOr<RunPage> page = store().ListRuns(unknown_job);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->runs, IsEmpty());
  EXPECT_EQ(page->total, 0);
  EXPECT_EQ(page->next_page, "");
}

TEST_P(StoreConformanceTest, ListRunsPagesInIdOrder) {
  for (int i = 9; i >= 0; --i) ASSERT_TRUE(store().CreateRun(MakeRun(RunIdOf(i), JobIdOf(1))).ok());
  ListRunsQuery query;
  query.page_size = 4;
  absl::StatusOr<RunPage> page = store().ListRuns(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(IdsOf(page->runs), ElementsAre(RunIdOf(0), RunIdOf(1), RunIdOf(2), RunIdOf(3)));
  EXPECT_EQ(page->next_page, RunIdOf(3));
  EXPECT_EQ(page->total, 10);
  query.after_id = RunIdOf(7);
  page = store().ListRuns(query);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(IdsOf(page->runs), ElementsAre(RunIdOf(8), RunIdOf(9)));
  EXPECT_EQ(page->next_page, "");
  EXPECT_EQ(page->total, 10);
}

// ---- concurrency ----

TEST_P(StoreConformanceTest, ConcurrentCreateRunOfOneIdSucceedsExactlyOnce) {
  // Every thread claims the same run id at the same moment, round after
  // round: the no-double-run guarantee says exactly one claim wins and the
  // others are told ALREADY_EXISTS (not some other error), and the stored
  // run is the winner's.
  constexpr int kThreads = 8;
  constexpr int kRounds = 40;
  std::barrier sync(kThreads);
  std::vector<std::vector<absl::Status>> results(kThreads, std::vector<absl::Status>(kRounds));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        dts::Run run = MakeRun(RunIdOf(r), JobIdOf(1));
        run.set_worker_id(absl::StrCat("thread-", t));
        sync.arrive_and_wait();
        results[t][r] = store().CreateRun(run);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int r = 0; r < kRounds; ++r) {
    int winner = -1;
    int wins = 0;
    for (int t = 0; t < kThreads; ++t) {
      if (results[t][r].ok()) {
        ++wins;
        winner = t;
      } else {
        EXPECT_THAT(results[t][r], HasCode(absl::StatusCode::kAlreadyExists)) << "round " << r;
      }
    }
    ASSERT_EQ(wins, 1) << "round " << r;
    absl::StatusOr<dts::Run> stored = store().GetRun(RunId(RunIdOf(r)));
    ASSERT_TRUE(stored.ok()) << stored.status();
    EXPECT_EQ(stored->worker_id(), absl::StrCat("thread-", winner)) << "round " << r;
  }
  absl::StatusOr<RunPage> page = store().ListRuns({});
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, kRounds);
}

TEST_P(StoreConformanceTest, ConcurrentWritersAndReadersAllSucceed) {
  constexpr int kWriters = 4;
  constexpr int kJobsPerWriter = 100;
  constexpr int kReaders = 3;
  std::vector<absl::Status> writer_errors(kWriters);
  std::vector<std::string> reader_errors(kReaders);
  std::atomic<int> writers_left{kWriters};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kJobsPerWriter && writer_errors[w].ok(); ++i) {
        const int n = w * kJobsPerWriter + i;
        writer_errors[w] = store().CreateJob(MakeJob(JobIdOf(n)));
        if (writer_errors[w].ok()) {
          writer_errors[w] = store().CreateRun(MakeRun(RunIdOf(n), JobIdOf(n)));
        }
      }
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      // Commits only add jobs here, so each reader must see the total never
      // go down, and every listed job must read back.
      int64_t last_total = 0;
      bool more_rounds = true;
      while (more_rounds && reader_errors[r].empty()) {
        more_rounds = writers_left.load() > 0;  // one full round after the writers finish
        ListJobsQuery query;
        query.page_size = 50;
        absl::StatusOr<JobPage> page = store().ListJobs(query);
        if (!page.ok()) {
          reader_errors[r] = page.status().ToString();
          break;
        }
        if (page->total < last_total) reader_errors[r] = "total went down";
        last_total = page->total;
        for (const Job& job : page->jobs) {
          if (!store().GetJob(JobId(job.id())).ok()) reader_errors[r] = "listed job not found";
        }
      }
      if (reader_errors[r].empty() && last_total != kWriters * kJobsPerWriter) {
        reader_errors[r] = absl::StrCat("final total ", last_total);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& s : writer_errors) EXPECT_TRUE(s.ok()) << s;
  for (const std::string& e : reader_errors) EXPECT_EQ(e, "");
  EXPECT_EQ(AllJobIds(store(), 1000).size(), static_cast<size_t>(kWriters * kJobsPerWriter));
}

}  // namespace
}  // namespace dts::storage::testing
