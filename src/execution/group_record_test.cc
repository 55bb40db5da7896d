// Process group records: the format, the "still ours" rule, and reaping real
// process groups.

#include "execution/group_record.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace dts::execution {
namespace {

// A child in a process group of its own, running `sleep 100`.
pid_t StartGroupLeader() {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sleep", "sleep", "100", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0) setpgid(pid, pid);  // either side may win the race; both set the same
  return pid;
}

// Reaps `pid` and returns the signal that killed it (0 if it exited).
int KilledBy(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

class GroupRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dts-groups-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  bool Exists(const std::string& name) { return std::filesystem::exists(dir_ + "/" + name); }

  std::string dir_;
};

TEST(GroupRecordFormatTest, RoundTripsAndRefusesGarbage) {
  GroupRecord r{"3f1c-boot", 4242, 987654};
  absl::StatusOr<GroupRecord> back = ParseGroupRecord(FormatGroupRecord(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->boot_id, "3f1c-boot");
  EXPECT_EQ(back->pgid, 4242);
  EXPECT_EQ(back->start_ticks, 987654u);
  for (const char* bad : {"", "boot 12", "boot x 5", "boot 12 0", "boot 1 5", "boot -3 5",
                          "boot 12 5 extra"}) {
    EXPECT_FALSE(ParseGroupRecord(bad).ok()) << bad;
  }
}

TEST(GroupRecordRuleTest, OnlyALiveOrLeaderlessGroupOfThisBootIsOurs) {
  const GroupRecord r{"boot-a", 100, 5000};
  EXPECT_TRUE(GroupStillOurs(r, "boot-a", 5000));   // the leader lives on
  EXPECT_TRUE(GroupStillOurs(r, "boot-a", 0));      // leader gone: members may remain
  EXPECT_FALSE(GroupStillOurs(r, "boot-a", 7000));  // the pid was reused
  EXPECT_FALSE(GroupStillOurs(r, "boot-b", 5000));  // another boot
}

TEST_F(GroupRecordTest, ReapKillsARecordedGroupAndRemovesTheRecord) {
  const pid_t pid = StartGroupLeader();
  ASSERT_GT(pid, 0);
  absl::StatusOr<GroupRecord> record = CurrentGroupRecord(pid);
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_TRUE(WriteGroupRecord(dir_, "run-1", *record).ok());

  absl::StatusOr<int> reaped = ReapRecordedGroups(dir_);
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(*reaped, 1);
  EXPECT_EQ(KilledBy(pid), SIGKILL);
  EXPECT_FALSE(Exists("run-1"));
}

TEST_F(GroupRecordTest, ReapLeavesAGroupWhoseLeaderIsSomeoneElse) {
  const pid_t pid = StartGroupLeader();
  ASSERT_GT(pid, 0);
  absl::StatusOr<GroupRecord> record = CurrentGroupRecord(pid);
  ASSERT_TRUE(record.ok()) << record.status();
  GroupRecord reused = *record;
  reused.start_ticks += 1;  // as if the pid now belonged to a newer process
  GroupRecord other_boot = *record;
  other_boot.boot_id = "not-this-boot";
  ASSERT_TRUE(WriteGroupRecord(dir_, "reused", reused).ok());
  ASSERT_TRUE(WriteGroupRecord(dir_, "old-boot", other_boot).ok());
  ASSERT_TRUE(WriteGroupRecord(dir_, "garbage", {"x", 0, 0}).ok());

  absl::StatusOr<int> reaped = ReapRecordedGroups(dir_);
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(*reaped, 0);
  EXPECT_EQ(kill(pid, 0), 0) << "the process must still live";
  EXPECT_FALSE(Exists("reused"));
  EXPECT_FALSE(Exists("old-boot"));
  EXPECT_FALSE(Exists("garbage"));
  kill(-pid, SIGKILL);
  EXPECT_EQ(KilledBy(pid), SIGKILL);
}

TEST_F(GroupRecordTest, ReapCreatesAMissingDirectory) {
  const std::string missing = dir_ + "/sub";
  absl::StatusOr<int> reaped = ReapRecordedGroups(missing);
  ASSERT_TRUE(reaped.ok()) << reaped.status();
  EXPECT_EQ(*reaped, 0);
  EXPECT_TRUE(std::filesystem::is_directory(missing));
}

}  // namespace
}  // namespace dts::execution
