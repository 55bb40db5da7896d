#include "dts/scheduler/due_index.h"

#include <algorithm>
#include <map>
#include <random>

#include "gtest/gtest.h"

namespace dts::scheduler {
namespace {

TEST(DueIndexTest, PopsInDueOrder) {
  DueIndex index;
  index.Upsert(3, 300);
  index.Upsert(1, 100);
  index.Upsert(2, 200);
  EXPECT_EQ(index.Earliest().slot, 1u);
  std::vector<DueIndex::Entry> due;
  index.PopDue(250, due);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].slot, 1u);
  EXPECT_EQ(due[1].slot, 2u);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_FALSE(index.Contains(1));
  EXPECT_TRUE(index.Contains(3));
}

TEST(DueIndexTest, UpsertMovesAndRemoveDeletes) {
  DueIndex index;
  index.Upsert(1, 100);
  index.Upsert(2, 200);
  index.Upsert(1, 300);
  EXPECT_EQ(index.Earliest().slot, 2u);
  index.Remove(2);
  index.Remove(7);  // not indexed: ignored
  EXPECT_EQ(index.Earliest().slot, 1u);
  EXPECT_EQ(index.Earliest().due_micros, 300);
  index.Remove(1);
  EXPECT_TRUE(index.empty());
}

// Random operations against a std::multimap model.
TEST(DueIndexTest, MatchesModelUnderRandomOperations) {
  std::mt19937 rng(7);
  DueIndex index;
  std::map<uint32_t, int64_t> model;
  int64_t now = 0;
  for (int step = 0; step < 200000; ++step) {
    const uint32_t slot = rng() % 1000;
    switch (rng() % 4) {
      case 0:
      case 1: {
        const int64_t due = now + static_cast<int64_t>(rng() % 10000);
        index.Upsert(slot, due);
        model[slot] = due;
        break;
      }
      case 2:
        index.Remove(slot);
        model.erase(slot);
        break;
      default: {
        now += rng() % 50;
        std::vector<DueIndex::Entry> due;
        index.PopDue(now, due);
        std::vector<std::pair<int64_t, uint32_t>> expected;
        for (auto it = model.begin(); it != model.end();) {
          if (it->second <= now) {
            expected.emplace_back(it->second, it->first);
            it = model.erase(it);
          } else {
            ++it;
          }
        }
        std::sort(expected.begin(), expected.end());
        ASSERT_EQ(due.size(), expected.size());
        for (size_t i = 0; i < due.size(); ++i) {
          EXPECT_EQ(due[i].due_micros, expected[i].first);
          EXPECT_EQ(due[i].slot, expected[i].second);
        }
      }
    }
    ASSERT_EQ(index.size(), model.size());
  }
}

}  // namespace
}  // namespace dts::scheduler
