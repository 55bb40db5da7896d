// LocalExecutor: one thread per running command, http or kafka run, plus one
// completion thread that delivers the outcomes of runs needing no work (noop,
// invalid specs). See README.md for the threading rules.

#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "dts/execution/executor.h"
#include "execution/cgroup.h"
#include "execution/posix.h"
#include "execution/run_task.h"
#include "execution/group_record.h"
#include "execution/scratch.h"
#include "execution/thread.h"

namespace dts::execution {
namespace {

constexpr char kBasePath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// HOME comes from the password database, not from this process's environment:
// nothing of the server's environment (it may hold API tokens) reaches a job.
std::string HomeDirectory() {
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd entry;
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr || found->pw_dir == nullptr || found->pw_dir[0] == '\0') {
    return "/";
  }
  return found->pw_dir;
}

// The variables of this process a command may see: they describe how to
// present text and time, never a secret. Read once, at creation.
constexpr const char* kPassedThrough[] = {"LANG", "LC_ALL", "TZ"};

// Every command's environment before the job's own and the run's DTS_*
// values (command_task.cc): an allowlist, never this process's environment.
// HOME is the run's scratch directory when it has one (set per run).
std::map<std::string, std::string> BaseEnvironment(const ExecutorOptions& options) {
  std::map<std::string, std::string> env = {
      {"PATH", kBasePath},
      {"LANG", "C.UTF-8"},
      {"HOME", options.run_as ? options.run_as->home : HomeDirectory()}};
  for (const char* name : kPassedThrough) {
    const char* value = getenv(name);
    if (value != nullptr && value[0] != '\0') env[name] = value;
  }
  return env;
}

// Commands are watched through a pidfd (poll()able, Linux 5.3+).
absl::Status CheckPidfdSupport() {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("pidfd_open: ", ErrnoText(errno), " (commands need Linux 5.3 or later)"));
  }
  close(fd);
  return absl::OkStatus();
}

// Decides, once, how grants are enforced (docs/resources.md).
void DetectEnforcement(const ExecutorOptions& options, EnforcementContext& enforcement) {
  EnforcementCapabilities& caps = enforcement.capabilities;
  std::string cgroups;
  if (!options.use_cgroups) {
    cgroups = "cgroups disabled by configuration";
  } else if (absl::StatusOr<CgroupParent> parent = DetectCgroupParent(options.cgroup_parent);
             parent.ok()) {
    cgroups = parent->detail;
    enforcement.cgroup = *std::move(parent);
  } else {
    cgroups = absl::StrCat("no cgroup v2 enforcement: ", parent.status().message());
  }
  caps.memory_cgroup = enforcement.cgroup.has_value();
  caps.cpu_limited = caps.memory_cgroup && enforcement.cgroup->cpu;
  caps.storage_limited = !options.scratch_root.empty();
  caps.detail = absl::StrCat(
      cgroups, "; memory: ",
      caps.memory_cgroup ? "cgroup memory.max"
                         : (options.address_space_factor > 0
                                ? absl::StrCat("sampled process-group memory, RLIMIT_AS ",
                                               options.address_space_factor, "x the grant")
                                : std::string("sampled process-group memory")),
      "; cpu: ", caps.cpu_limited ? "cgroup cpu.max" : "not limited", "; storage: ",
      caps.storage_limited ? absl::StrCat("scratch directories under ", options.scratch_root)
                           : std::string("not limited (no scratch_root)"));
}

class LocalExecutor final : public Executor {
 public:
  LocalExecutor(const Clock* clock, ExecutorOptions options)
      : clock_(clock),
        options_(std::move(options)),
        base_env_(BaseEnvironment(options_)),
        context_{clock_, &options_, &base_env_, &enforcement_} {
    DetectEnforcement(options_, enforcement_);
  }
  ~LocalExecutor() override { Shutdown(); }

  absl::Status StartCompletionThread();

  absl::Status Start(RunRequest request, DoneCallback done) override;
  void Cancel(const RunId& id) override;
  void Shutdown() override;
  EnforcementCapabilities Enforcement() const override { return enforcement_.capabilities; }

 private:
  struct Running {
    std::shared_ptr<RunTask> task;
    DoneCallback done;               // moved out by the run's thread when it begins
    std::unique_ptr<Thread> thread;  // likewise
  };
  struct Ready {
    RunOutcome outcome;
    DoneCallback done;
  };

  // The task for `request`; nullptr for a run without an executor; an error
  // (its message is the run's error) for a run that cannot be attempted.
  absl::StatusOr<std::unique_ptr<RunTask>> MakeTask(RunRequest request) const;
  RunOutcome ImmediateOutcome(RunStatus status, absl::string_view error) const;
  void Launch(const RunId& id, std::unique_ptr<RunTask> task, DoneCallback done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunThread(const RunId& id) ABSL_LOCKS_EXCLUDED(mu_);
  void CompletionLoop() ABSL_LOCKS_EXCLUDED(mu_);
  void JoinFinishedThreads() ABSL_LOCKS_EXCLUDED(mu_);
  bool CompletionHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !ready_.empty() || stop_completion_;
  }
  bool Idle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return running_.empty() && ready_.empty() && callbacks_in_progress_ == 0;
  }

  const Clock* const clock_;
  const ExecutorOptions options_;
  const std::map<std::string, std::string> base_env_;
  EnforcementContext enforcement_;  // set by the constructor, then read-only
  const TaskContext context_;       // points into the four fields above

  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<RunId, Running> running_ ABSL_GUARDED_BY(mu_);
  std::deque<Ready> ready_ ABSL_GUARDED_BY(mu_);  // for the completion thread
  int callbacks_in_progress_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_completion_ ABSL_GUARDED_BY(mu_) = false;
  // Threads whose run is over; joined by the next Start() or by Shutdown().
  std::vector<std::unique_ptr<Thread>> finished_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Thread> completion_thread_ ABSL_GUARDED_BY(mu_);
};

absl::Status LocalExecutor::StartCompletionThread() {
  absl::AnyInvocable<void() &&> body = [this] { CompletionLoop(); };
  absl::StatusOr<std::unique_ptr<Thread>> thread = Thread::Start(body);
  if (!thread.ok()) return thread.status();
  absl::MutexLock lock(&mu_);
  completion_thread_ = *std::move(thread);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RunTask>> LocalExecutor::MakeTask(RunRequest request) const {
  switch (request.executor.kind_case()) {
    case v1::Executor::kCommand:
      return CreateCommandTask(std::move(request), context_);
    case v1::Executor::kHttp:
      return CreateHttpTask(std::move(request), context_);
    case v1::Executor::kKafka:
      if (!options_.kafka_publish) {
        return absl::FailedPreconditionError("kafka executor not available in this deployment");
      }
      return CreateKafkaTask(std::move(request), context_);
    case v1::Executor::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

RunOutcome LocalExecutor::ImmediateOutcome(RunStatus status, absl::string_view error) const {
  RunOutcome outcome;
  outcome.status = status;
  outcome.error = std::string(error);
  outcome.start_time = outcome.end_time = clock_->Now();
  return outcome;
}

absl::Status LocalExecutor::Start(RunRequest request, DoneCallback done) {
  if (done == nullptr) return absl::InvalidArgumentError("Start: done callback is empty");
  JoinFinishedThreads();
  RunId id = request.run_id;
  // Built before taking the lock: creating a task makes system calls.
  absl::StatusOr<std::unique_ptr<RunTask>> task = MakeTask(std::move(request));
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return absl::FailedPreconditionError("executor is shut down");
  if (running_.contains(id)) {
    return absl::AlreadyExistsError(absl::StrCat("run ", id.value(), " is already running"));
  }
  if (!task.ok()) {
    ready_.push_back({ImmediateOutcome(RunStatus::kFailed, task.status().message()),
                      std::move(done)});
  } else if (*task == nullptr) {
    ready_.push_back({ImmediateOutcome(RunStatus::kCompleted, ""), std::move(done)});
  } else {
    Launch(id, *std::move(task), std::move(done));
  }
  return absl::OkStatus();
}

// The new thread blocks on mu_ (held here) until its slot is complete.
void LocalExecutor::Launch(const RunId& id, std::unique_ptr<RunTask> task, DoneCallback done) {
  Running& slot = running_[id];
  slot.task = std::move(task);
  slot.done = std::move(done);
  absl::AnyInvocable<void() &&> body = [this, id] { RunThread(id); };
  absl::StatusOr<std::unique_ptr<Thread>> thread = Thread::Start(body);
  if (thread.ok()) {
    slot.thread = *std::move(thread);
    return;
  }
  ready_.push_back({ImmediateOutcome(RunStatus::kFailed, thread.status().message()),
                    std::move(slot.done)});
  running_.erase(id);
}

void LocalExecutor::RunThread(const RunId& id) {
  std::shared_ptr<RunTask> task;
  DoneCallback done;
  std::unique_ptr<Thread> self;
  {
    absl::MutexLock lock(&mu_);
    Running& slot = running_.at(id);
    task = slot.task;
    done = std::move(slot.done);
    self = std::move(slot.thread);
  }
  RunOutcome outcome = task->Run();
  {
    // Out of running_ before the callback, so that it may start the same id again.
    absl::MutexLock lock(&mu_);
    running_.erase(id);
    ++callbacks_in_progress_;
  }
  std::move(done)(std::move(outcome));
  done = nullptr;  // whatever the callback captured dies before Shutdown() returns
  task.reset();
  absl::MutexLock lock(&mu_);
  --callbacks_in_progress_;
  finished_.push_back(std::move(self));
}

void LocalExecutor::CompletionLoop() {
  while (true) {
    Ready item;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &LocalExecutor::CompletionHasWork));
      if (ready_.empty()) return;
      item = std::move(ready_.front());
      ready_.pop_front();
      ++callbacks_in_progress_;
    }
    std::move(item.done)(std::move(item.outcome));
    item.done = nullptr;
    absl::MutexLock lock(&mu_);
    --callbacks_in_progress_;
  }
}

void LocalExecutor::Cancel(const RunId& id) {
  absl::MutexLock lock(&mu_);
  auto it = running_.find(id);
  if (it != running_.end()) it->second.task->Cancel();
}

void LocalExecutor::Shutdown() {
  std::unique_ptr<Thread> completion;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [id, slot] : running_) slot.task->Cancel();
    mu_.Await(absl::Condition(this, &LocalExecutor::Idle));
    stop_completion_ = true;
    completion = std::move(completion_thread_);
  }
  if (completion != nullptr) completion->Join();
  JoinFinishedThreads();
}

void LocalExecutor::JoinFinishedThreads() {
  std::vector<std::unique_ptr<Thread>> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(finished_);
  }
  for (std::unique_ptr<Thread>& thread : threads) thread->Join();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Executor>> CreateLocalExecutor(const Clock* clock,
                                                              ExecutorOptions options) {
  if (clock == nullptr) return absl::InvalidArgumentError("CreateLocalExecutor: clock is null");
  absl::Status status = CheckPidfdSupport();
  if (!status.ok()) return status;
  if (options.run_as && geteuid() != 0 && options.run_as->uid != geteuid()) {
    return absl::InvalidArgumentError(absl::StrCat("run_as ", options.run_as->name,
                                                   ": switching users needs root"));
  }
  if (!options.scratch_root.empty()) {
    status = EnsureScratchRoot(options.scratch_root);
    // Another user's commands must pass through to their own directory
    // (listing it, or the others in it, stays root's).
    if (status.ok() && options.run_as) status = AllowSearch(options.scratch_root);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("scratch_root: ", status.message()));
    }
  }
  if (!options.group_record_dir.empty()) {
    // Before any run of ours starts: what is recorded there was left behind.
    absl::StatusOr<int> reaped = ReapRecordedGroups(options.group_record_dir);
    if (!reaped.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("group_record_dir: ", reaped.status().message()));
    }
  }
  auto executor = std::make_unique<LocalExecutor>(clock, std::move(options));
  status = executor->StartCompletionThread();
  if (!status.ok()) return status;
  return executor;
}

}  // namespace dts::execution
