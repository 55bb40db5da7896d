// The `command` executor: one child process per run, supervised by the run's
// thread with poll() on its pidfd, its output pipe and a wake-up eventfd.

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "execution/cgroup.h"
#include "execution/memory_sample.h"
#include "execution/output_tail.h"
#include "execution/posix.h"
#include "execution/run_task.h"
#include "execution/group_record.h"
#include "execution/scratch.h"
#include "execution/spawn.h"

namespace dts::execution {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Reads per wake-up before deadlines are looked at again, so a command that
// writes without pause (`yes`) cannot starve its own timeout.
constexpr int kReadsPerWake = 64;
// Reads after the process group is gone: what is left in the pipe, bounded in
// case a process that left the group keeps writing.
constexpr int kReadsAfterExit = 1024;
// Longer timeouts are treated as none (keeps steady-clock arithmetic in range).
constexpr absl::Duration kMaxTimeout = absl::Hours(24 * 365 * 100);

constexpr int64_t kMiB = 1024 * 1024;

// Why we are stopping the process group, once we are.
struct Termination {
  RunStatus status;    // TIMED_OUT, CANCELLED, or FAILED for a limit
  std::string reason;  // "timed out after 2s", "cancelled", "memory limit exceeded (64 MiB)"
  SteadyClock::time_point kill_at;
  bool killed = false;  // SIGKILL sent
  bool limit = false;   // a resource limit: SIGKILL at once, no grace
};

std::string MemoryExceeded(int64_t mib) {
  return absl::StrCat("memory limit exceeded (", mib, " MiB)");
}
std::string StorageExceeded(int64_t mib) {
  return absl::StrCat("storage limit exceeded (", mib, " MiB)");
}

// The limits the executor checks itself while a command runs: memory without
// cgroups (sampling the process group), and the scratch directory's size.
struct WatchConfig {
  int64_t memory_mib = 0;  // 0: not sampled
  SteadyClock::duration memory_every{};
  std::string scratch_root;  // with scratch_name: the directory to measure
  std::string scratch_name;
  int64_t storage_mib = 0;  // 0: not measured
  SteadyClock::duration storage_every{};
};

class ResourceWatch {
 public:
  ResourceWatch(pid_t pgid, WatchConfig config) : pgid_(pgid), config_(std::move(config)) {
    SteadyClock::time_point now = SteadyClock::now();
    if (config_.memory_mib > 0) memory_due_ = now + config_.memory_every;
    if (config_.storage_mib > 0) storage_due_ = now + config_.storage_every;
  }

  std::optional<SteadyClock::time_point> NextDue() const {
    if (memory_due_ && storage_due_) return std::min(*memory_due_, *storage_due_);
    return memory_due_ ? memory_due_ : storage_due_;
  }

  // Runs the checks due at `now`; the violation, if any.
  std::optional<std::string> Check(SteadyClock::time_point now) {
    if (memory_due_ && now >= *memory_due_) {
      memory_due_ = now + config_.memory_every;
      if (ProcessGroupMemoryBytes(pgid_) > config_.memory_mib * kMiB) {
        return MemoryExceeded(config_.memory_mib);
      }
    }
    if (storage_due_ && now >= *storage_due_) {
      storage_due_ = now + config_.storage_every;
      return CheckStorage();
    }
    return std::nullopt;
  }

  std::optional<std::string> CheckStorage() const {
    if (config_.storage_mib <= 0) return std::nullopt;
    absl::StatusOr<int64_t> used = ScratchUsageBytes(config_.scratch_root, config_.scratch_name);
    if (!used.ok()) return absl::StrCat("storage check failed: ", used.status().message());
    if (*used > config_.storage_mib * kMiB) return StorageExceeded(config_.storage_mib);
    return std::nullopt;
  }

 private:
  const pid_t pgid_;
  const WatchConfig config_;
  std::optional<SteadyClock::time_point> memory_due_;
  std::optional<SteadyClock::time_point> storage_due_;
};

// Watches one child until it has exited and is reaped: collects its output,
// enforces the timeout and a cancel. Lives on the run's thread; only
// `cancelled` and the eventfd are shared with Cancel().
class Supervisor {
 public:
  Supervisor(Child child, int wake_fd, const std::atomic<bool>* cancelled,
             std::optional<SteadyClock::time_point> timeout_at, absl::Duration timeout,
             absl::Duration grace, size_t max_output, const WatchConfig& watch)
      : watch_(child.pid, watch),
        child_(std::move(child)),
        wake_fd_(wake_fd),
        cancelled_(cancelled),
        timeout_at_(timeout_at),
        timeout_(timeout),
        grace_(absl::ToChronoNanoseconds(grace)),
        output_(max_output) {}

  // Returns once the child has exited and been reaped.
  void Run();

  const siginfo_t& exit_info() const { return exit_info_; }
  const std::optional<Termination>& termination() const { return termination_; }
  OutputTail& output() { return output_; }

 private:
  void ReadOutput(int max_reads);
  void DrainWake();
  void BeginTermination(RunStatus status, std::string reason);
  void KillForLimit(std::string reason);
  void CheckDeadlines();
  int PollTimeoutMs() const;
  void SignalGroup(int sig) { kill(-child_.pid, sig); }
  void Reap();

  ResourceWatch watch_;
  Child child_;
  const int wake_fd_;
  const std::atomic<bool>* const cancelled_;
  const std::optional<SteadyClock::time_point> timeout_at_;
  const absl::Duration timeout_;
  const SteadyClock::duration grace_;
  OutputTail output_;
  std::optional<Termination> termination_;
  siginfo_t exit_info_ = {};
};

void Supervisor::Run() {
  bool exited = false;
  while (!exited) {
    pollfd fds[3] = {{child_.pidfd.get(), POLLIN, 0},
                     {wake_fd_, POLLIN, 0},
                     {child_.output.valid() ? child_.output.get() : -1, POLLIN, 0}};
    if (poll(fds, 3, PollTimeoutMs()) < 0) {
      if (errno == EINTR) continue;
      SignalGroup(SIGKILL);  // cannot watch it any more: do not leave it running
      break;
    }
    if (fds[2].revents != 0) ReadOutput(kReadsPerWake);
    if (fds[1].revents != 0) DrainWake();
    CheckDeadlines();
    exited = fds[0].revents != 0;
  }
  // The leader has exited but is not reaped yet, so its pid still names our
  // process group and cannot have been reused: kill whatever it left behind.
  SignalGroup(SIGKILL);
  ReadOutput(kReadsAfterExit);
  Reap();
}

void Supervisor::ReadOutput(int max_reads) {
  char buffer[16 * 1024];
  for (int i = 0; i < max_reads && child_.output.valid(); ++i) {
    ssize_t n = read(child_.output.get(), buffer, sizeof buffer);
    if (n > 0) {
      output_.Append(absl::string_view(buffer, static_cast<size_t>(n)));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      child_.output.Reset();  // EOF: every writer has closed it
    }
  }
}

void Supervisor::DrainWake() {
  uint64_t count;
  ssize_t n = read(wake_fd_, &count, sizeof count);
  (void)n;
  if (cancelled_->load() && !termination_) BeginTermination(RunStatus::kCancelled, "cancelled");
}

void Supervisor::BeginTermination(RunStatus status, std::string reason) {
  termination_ = Termination{status, std::move(reason), SteadyClock::now() + grace_};
  SignalGroup(SIGTERM);
  SignalGroup(SIGCONT);  // a stopped process acts on SIGTERM only once continued
}

void Supervisor::KillForLimit(std::string reason) {
  termination_ = Termination{RunStatus::kFailed, std::move(reason), SteadyClock::now(), true, true};
  SignalGroup(SIGKILL);
}

void Supervisor::CheckDeadlines() {
  SteadyClock::time_point now = SteadyClock::now();
  if (!termination_) {
    std::optional<SteadyClock::time_point> due = watch_.NextDue();
    if (due && now >= *due) {
      if (std::optional<std::string> violation = watch_.Check(now)) {
        KillForLimit(*std::move(violation));
      }
    }
  }
  if (!termination_ && timeout_at_ && now >= *timeout_at_) {
    BeginTermination(RunStatus::kTimedOut, TimedOutMessage(timeout_));
  }
  if (termination_ && !termination_->killed && now >= termination_->kill_at) {
    SignalGroup(SIGKILL);
    termination_->killed = true;
  }
}

int PollTimeoutUntil(SteadyClock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT_MAX));
}

int Supervisor::PollTimeoutMs() const {
  if (termination_) return termination_->killed ? -1 : PollTimeoutUntil(termination_->kill_at);
  std::optional<SteadyClock::time_point> next = watch_.NextDue();
  if (timeout_at_ && (!next || *timeout_at_ < *next)) next = timeout_at_;
  return next ? PollTimeoutUntil(*next) : -1;
}

void Supervisor::Reap() {
  while (waitid(P_PID, static_cast<id_t>(child_.pid), &exit_info_, WEXITED) < 0 &&
         errno == EINTR) {
  }
}

std::string SignalText(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  if (abbrev == nullptr) return absl::StrCat("killed by signal ", sig);
  return absl::StrCat("killed by signal ", sig, " (SIG", abbrev, ")");
}

// Fills status, exit_code and error from how the child ended.
void Classify(const Supervisor& supervisor, absl::Duration grace, RunOutcome& outcome) {
  const siginfo_t& info = supervisor.exit_info();
  bool exited = info.si_code == CLD_EXITED;
  if (exited) outcome.exit_code = info.si_status;
  if (const std::optional<Termination>& t = supervisor.termination()) {
    outcome.status = t->status;
    outcome.error = t->reason;
    if (t->killed && !t->limit) {
      absl::StrAppend(&outcome.error, "; SIGKILL after ", absl::FormatDuration(grace), " grace");
    }
  } else if (exited && info.si_status == 0) {
    outcome.status = RunStatus::kCompleted;
  } else {
    outcome.status = RunStatus::kFailed;
    outcome.error = exited ? absl::StrCat("exited with status ", info.si_status)
                           : SignalText(info.si_status);
  }
}

// What a command needs for its grant, decided when the task is made.
struct CommandResources {
  ResourceGrant grant;
  // Who owns the scratch directory (the run-as user); unset: this process.
  std::optional<std::pair<uid_t, gid_t>> scratch_owner;
  std::string scratch_root;  // with scratch_name: the run's scratch directory
  std::string scratch_name;
  std::string record_dir;  // with record_name: where the process group is recorded
  std::string record_name;
  // Set when the grant gets a per-run cgroup.
  std::optional<CgroupParent> cgroup;
  std::string cgroup_name;
  WatchConfig watch;
};

class CommandTask final : public RunTask {
 public:
  CommandTask(SpawnSpec spec, CommandResources resources, const RunRequest& request,
              const TaskContext& context, UniqueFd wake)
      : spec_(std::move(spec)),
        resources_(std::move(resources)),
        timeout_(request.timeout > absl::ZeroDuration() && request.timeout < kMaxTimeout
                     ? request.timeout
                     : absl::ZeroDuration()),
        max_output_(request.max_output_bytes),
        clock_(context.clock),
        grace_(std::max(context.options->kill_grace, absl::ZeroDuration())),
        wake_(std::move(wake)) {}

  RunOutcome Run() override;

 private:
  // Creates the scratch directory and the cgroup; the run FAILS with the error.
  absl::Status Prepare();
  // Best effort: without the record, a crash of the server leaves the
  // command's background processes running, as before records existed.
  void RecordGroup(pid_t pgid) const {
    if (resources_.record_dir.empty()) return;
    if (absl::StatusOr<GroupRecord> record = CurrentGroupRecord(pgid); record.ok()) {
      (void)WriteGroupRecord(resources_.record_dir, resources_.record_name, *record);
    }
  }
  // After the child is reaped: the outcome of limits the kernel enforced or
  // that are checked at the end, then removes the cgroup and the scratch dir.
  void Finish(bool terminated, RunOutcome& outcome);

 public:
  void Cancel() override {
    cancelled_.store(true);
    uint64_t one = 1;
    ssize_t n = write(wake_.get(), &one, sizeof one);  // wakes Supervisor::Run's poll()
    (void)n;
  }

 private:
  SpawnSpec spec_;  // cgroup_procs_fd is filled in by Prepare()
  const CommandResources resources_;
  std::unique_ptr<RunCgroup> cgroup_;
  bool scratch_created_ = false;
  const absl::Duration timeout_;  // zero: none
  const size_t max_output_;
  const Clock* const clock_;
  const absl::Duration grace_;
  const UniqueFd wake_;  // eventfd, written by Cancel()
  std::atomic<bool> cancelled_{false};
};

RunOutcome CommandTask::Run() {
  RunOutcome outcome;
  outcome.start_time = clock_->Now();
  std::optional<SteadyClock::time_point> timeout_at;
  if (timeout_ > absl::ZeroDuration()) {
    timeout_at = SteadyClock::now() + absl::ToChronoNanoseconds(timeout_);
  }
  if (cancelled_.load()) {
    outcome.status = RunStatus::kCancelled;
    outcome.error = "cancelled before it started";
  } else if (absl::Status prepared = Prepare(); !prepared.ok()) {
    outcome.status = RunStatus::kFailed;
    outcome.error = std::string(prepared.message());
    Finish(true, outcome);
  } else if (absl::StatusOr<Child> child = Spawn(spec_); !child.ok()) {
    outcome.status = RunStatus::kFailed;
    outcome.error = std::string(child.status().message());
    Finish(true, outcome);
  } else {
    RecordGroup(child->pid);
    Supervisor supervisor(*std::move(child), wake_.get(), &cancelled_, timeout_at, timeout_,
                          grace_, max_output_, resources_.watch);
    supervisor.Run();
    if (!resources_.record_dir.empty()) RemoveGroupRecord(resources_.record_dir, resources_.record_name);
    outcome.output = std::move(supervisor.output()).Take();
    Classify(supervisor, grace_, outcome);
    Finish(supervisor.termination().has_value(), outcome);
  }
  outcome.end_time = clock_->Now();
  return outcome;
}

absl::Status CommandTask::Prepare() {
  if (!resources_.scratch_name.empty()) {
    absl::Status status = CreateScratchDir(resources_.scratch_root, resources_.scratch_name,
                                           resources_.scratch_owner);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat("scratch directory: ", status.message()));
    }
    scratch_created_ = true;
  }
  if (resources_.cgroup) {
    absl::StatusOr<std::unique_ptr<RunCgroup>> cgroup =
        RunCgroup::Create(*resources_.cgroup, resources_.cgroup_name, resources_.grant);
    if (!cgroup.ok()) {
      return absl::Status(cgroup.status().code(),
                          absl::StrCat("run cgroup: ", cgroup.status().message()));
    }
    cgroup_ = *std::move(cgroup);
    spec_.cgroup_procs_fd = cgroup_->procs_fd();
  }
  return absl::OkStatus();
}

void CommandTask::Finish(bool terminated, RunOutcome& outcome) {
  // A kill or a timeout we started decides the outcome; otherwise a limit
  // the kernel enforced, or one found exceeded at the end, does.
  if (cgroup_ != nullptr) {
    if (!terminated && resources_.grant.memory_mib > 0 && cgroup_->OomKilled()) {
      outcome.status = RunStatus::kFailed;
      outcome.error = MemoryExceeded(resources_.grant.memory_mib);
      terminated = true;
    }
    cgroup_->Destroy();  // kills what left the process group
  }
  if (scratch_created_) {
    if (!terminated) {
      ResourceWatch final_check(-1, resources_.watch);
      if (std::optional<std::string> violation = final_check.CheckStorage()) {
        outcome.status = RunStatus::kFailed;
        outcome.error = *std::move(violation);
      }
    }
    // Best effort: a leftover is removed when the same name is created again.
    (void)RemoveScratchDir(resources_.scratch_root, resources_.scratch_name);
  }
}

// --- Turning the spec into a SpawnSpec. ---

bool ValidEnvName(absl::string_view name) {
  return !name.empty() && name.find('=') == absl::string_view::npos &&
         name.find('\0') == absl::string_view::npos;
}

absl::Status CheckNoNul(absl::string_view value, absl::string_view field) {
  if (value.find('\0') == absl::string_view::npos) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " contains a NUL byte"));
}

// The base environment overlaid with the job's: never this process's own.
absl::StatusOr<std::map<std::string, std::string>> MergeEnv(const v1::CommandExecutor& command,
                                                            const TaskContext& context) {
  std::map<std::string, std::string> env = *context.base_env;
  for (const auto& [name, value] : command.env()) {
    if (!ValidEnvName(name)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("command.env: invalid variable name \"%s\"", absl::CHexEscape(name)));
    }
    absl::Status status = CheckNoNul(value, absl::StrCat("command.env[", name, "]"));
    if (!status.ok()) return status;
    env[name] = value;
  }
  return env;
}

absl::Status CheckArgv(const v1::CommandExecutor& command) {
  if (command.argv().empty()) return absl::InvalidArgumentError("command.argv is empty");
  if (command.shell() && command.argv_size() != 1) {
    return absl::InvalidArgumentError(
        "command.shell needs argv to hold exactly one element, the script");
  }
  for (int i = 0; i < command.argv_size(); ++i) {
    absl::Status status = CheckNoNul(command.argv(i), absl::StrCat("command.argv[", i, "]"));
    if (!status.ok()) return status;
  }
  if (command.argv(0).empty()) return absl::InvalidArgumentError("command.argv[0] is empty");
  if (!command.working_dir().empty() && command.working_dir()[0] != '/') {
    return absl::InvalidArgumentError("command.working_dir must be an absolute path");
  }
  return CheckNoNul(command.working_dir(), "command.working_dir");
}

absl::StatusOr<SpawnSpec> MakeSpawnSpec(const RunRequest& request, const TaskContext& context,
                                        const CommandResources& resources) {
  const v1::CommandExecutor& command = request.executor.command();
  absl::Status status = CheckArgv(command);
  if (!status.ok()) return status;
  absl::StatusOr<std::map<std::string, std::string>> env = MergeEnv(command, context);
  if (!env.ok()) return env.status();
  if (!resources.scratch_name.empty()) {
    // The executor's values win over the job's: the grant covers this
    // directory. HOME too, unless the job sets it: the run-as user's home
    // (nobody's is /nonexistent) is rarely writable, and dot-files a
    // command writes there are then removed with the run.
    std::string dir = absl::StrCat(resources.scratch_root, "/", resources.scratch_name);
    if (command.env().count("HOME") == 0) (*env)["HOME"] = dir;
    (*env)["TMPDIR"] = dir;
    (*env)["DTS_SCRATCH_DIR"] = dir;
  }
  // Which run this is, for the command's own logs and idempotency keys.
  (*env)["DTS_RUN_ID"] = request.run_id.value();
  if (!request.job_id.value().empty()) (*env)["DTS_JOB_ID"] = request.job_id.value();

  SpawnSpec spec;
  if (command.shell()) {
    spec.argv = {"/bin/sh", "-c", command.argv(0)};
    spec.exec_paths = {"/bin/sh"};
  } else {
    spec.argv.assign(command.argv().begin(), command.argv().end());
    const std::string& path = (*env)["PATH"];
    spec.exec_paths = ExecPaths(spec.argv[0], path);
    if (spec.argv[0].find('/') == std::string::npos) spec.searched_path = path;
  }
  for (const auto& [name, value] : *env) spec.env.push_back(absl::StrCat(name, "=", value));
  spec.working_dir = command.working_dir();
  spec.no_new_privs = context.options->no_new_privs;
  if (const std::optional<RunAsUser>& user = context.options->run_as) {
    spec.credentials = SpawnSpec::Credentials{user->uid, user->gid, user->groups};
  }
  const ResourceGrant& grant = resources.grant;
  if (grant.memory_mib > 0 && !resources.cgroup && context.options->address_space_factor > 0) {
    spec.address_space_limit = static_cast<uint64_t>(grant.memory_mib) * kMiB *
                               static_cast<uint64_t>(context.options->address_space_factor);
  }
  return spec;
}

SteadyClock::duration PollInterval(absl::Duration interval) {
  return absl::ToChronoNanoseconds(std::max(interval, absl::Milliseconds(1)));
}

absl::StatusOr<CommandResources> MakeResources(const RunRequest& request,
                                               const TaskContext& context) {
  const ExecutorOptions& options = *context.options;
  const EnforcementContext& enforcement = *context.enforcement;
  CommandResources resources;
  resources.grant = request.resources;
  if (options.run_as) resources.scratch_owner = std::make_pair(options.run_as->uid, options.run_as->gid);
  const ResourceGrant& grant = resources.grant;
  if (!options.scratch_root.empty() || !options.group_record_dir.empty()) {
    absl::StatusOr<std::string> name = ScratchDirName(request.run_id.value());
    if (!name.ok()) return name.status();
    if (!options.scratch_root.empty()) {
      resources.scratch_root = options.scratch_root;
      resources.scratch_name = *name;
    }
    if (!options.group_record_dir.empty()) {
      resources.record_dir = options.group_record_dir;
      resources.record_name = *std::move(name);
    }
  }
  if (enforcement.cgroup &&
      (grant.memory_mib > 0 || (grant.cpu_millicores > 0 && enforcement.cgroup->cpu))) {
    resources.cgroup = enforcement.cgroup;
    resources.cgroup_name =
        RunCgroupName(getpid(), enforcement.next_cgroup.fetch_add(1), request.run_id.value());
  }
  WatchConfig& watch = resources.watch;
  if (grant.memory_mib > 0 && !resources.cgroup) {
    watch.memory_mib = grant.memory_mib;
    watch.memory_every = PollInterval(options.memory_poll_interval);
  }
  if (grant.storage_mib > 0 && !resources.scratch_name.empty()) {
    watch.scratch_root = resources.scratch_root;
    watch.scratch_name = resources.scratch_name;
    watch.storage_mib = grant.storage_mib;
    watch.storage_every = PollInterval(options.storage_poll_interval);
  }
  return resources;
}

}  // namespace

std::string TimedOutMessage(absl::Duration timeout) {
  return absl::StrCat("timed out after ", absl::FormatDuration(timeout));
}

absl::StatusOr<std::unique_ptr<RunTask>> CreateCommandTask(RunRequest request,
                                                           const TaskContext& context) {
  absl::StatusOr<CommandResources> resources = MakeResources(request, context);
  if (!resources.ok()) return resources.status();
  absl::StatusOr<SpawnSpec> spec = MakeSpawnSpec(request, context, *resources);
  if (!spec.ok()) return spec.status();
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return ErrnoStatus(errno, "eventfd");
  return std::make_unique<CommandTask>(*std::move(spec), *std::move(resources), request, context,
                                       UniqueFd(wake));
}

}  // namespace dts::execution
