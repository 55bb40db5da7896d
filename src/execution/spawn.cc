#include "execution/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dts::execution {
namespace {

// Where the child failed; sent to the parent over the status pipe.
enum class Step : int {
  kCgroup,
  kSetgroups,
  kSetgid,
  kSetuid,
  kSetsid,
  kStdio,
  kChdir,
  kRlimit,
  kRlimitAs,
  kNoNewPrivs,
  kDeathSignal,
  kExec
};

struct ChildFailure {
  Step step;
  int err;
  int exec_index;  // for kExec: which exec_paths entry the error is about
};

// Everything the child touches, as plain pointers and ints prepared before
// fork(): the child must not allocate or take locks.
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  const char* const* exec_paths;
  int exec_path_count;
  const char* working_dir;  // nullptr: keep the parent's
  int stdin_fd;             // all three are >= 3 and close-on-exec
  int output_fd;
  int status_fd;
  bool no_new_privs;
  int cgroup_procs_fd;  // -1: none
  bool switch_user;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t group_count;
  rlim_t address_space_limit;  // 0: unchanged
  pid_t parent_pid;
  int max_fd;  // highest descriptor to close if close_range() is unavailable
};

// --- Child side: async-signal-safe calls only. ---

[[noreturn]] void ChildFail(const ChildPlan& plan, Step step, int err, int exec_index = -1) {
  ChildFailure failure{step, err, exec_index};
  // One write below PIPE_BUF is atomic; the parent reads all or nothing.
  ssize_t written = write(plan.status_fd, &failure, sizeof failure);
  (void)written;
  _exit(127);
}

// Dispositions set to SIG_IGN survive execve (a server ignoring SIGPIPE would
// make `yes | head` misbehave); handlers are reset by execve anyway. Every
// signal is blocked here, so no handler of the parent can run in the child.
void ResetSignalDispositions() {
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // glibc's reserved signals fail harmlessly
  }
}

// Closes every descriptor >= 3 except `keep` (the close-on-exec status pipe),
// so descriptors other libraries opened without O_CLOEXEC do not leak.
void CloseOtherFds(int keep, int max_fd) {
  bool done = (keep == 3 || close_range(3, keep - 1, 0) == 0) &&
              close_range(keep + 1, UINT_MAX, 0) == 0;
  if (done) return;
  for (int fd = 3; fd <= max_fd; ++fd) {
    if (fd != keep) close(fd);
  }
}

[[noreturn]] void ExecFirstFound(const ChildPlan& plan) {
  // execvp's rules: skip entries that do not exist, remember EACCES, and stop
  // at any other error.
  int soft_err = ENOENT, eacces_index = -1;
  for (int i = 0; i < plan.exec_path_count; ++i) {
    execve(plan.exec_paths[i], plan.argv, plan.envp);
    int err = errno;
    if (err == EACCES) {
      if (eacces_index < 0) eacces_index = i;
    } else if (err == ENOENT || err == ENOTDIR || err == ESTALE || err == ENODEV ||
               err == ETIMEDOUT) {
      if (i == 0) soft_err = err;
    } else {
      ChildFail(plan, Step::kExec, err, i);
    }
  }
  if (eacces_index >= 0) ChildFail(plan, Step::kExec, EACCES, eacces_index);
  ChildFail(plan, Step::kExec, soft_err, 0);
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  ResetSignalDispositions();
  // Writing 0 to cgroup.procs moves the writing process.
  if (plan.cgroup_procs_fd >= 0 && write(plan.cgroup_procs_fd, "0", 1) != 1) {
    ChildFail(plan, Step::kCgroup, errno);
  }
  // Raw system calls, not glibc's wrappers: those signal every thread of
  // the process to change credentials together (setxid), machinery that is
  // not async-signal-safe; this child has one thread. Groups first, uid last:
  // once the uid is not root, neither can change any more. Joining the
  // cgroup above needed root; PR_SET_PDEATHSIG below must come after, since
  // a credential change clears it.
  if (plan.switch_user) {
    if (syscall(SYS_setgroups, plan.group_count, plan.groups) != 0) {
      ChildFail(plan, Step::kSetgroups, errno);
    }
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) {
      ChildFail(plan, Step::kSetgid, errno);
    }
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) {
      ChildFail(plan, Step::kSetuid, errno);
    }
  }
  if (setsid() < 0) ChildFail(plan, Step::kSetsid, errno);
  if (dup2(plan.stdin_fd, 0) < 0 || dup2(plan.output_fd, 1) < 0 || dup2(plan.output_fd, 2) < 0) {
    ChildFail(plan, Step::kStdio, errno);
  }
  if (plan.working_dir != nullptr && chdir(plan.working_dir) < 0) {
    ChildFail(plan, Step::kChdir, errno);
  }
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) < 0) ChildFail(plan, Step::kRlimit, errno);
  if (plan.address_space_limit != 0) {
    struct rlimit as = {plan.address_space_limit, plan.address_space_limit};
    if (setrlimit(RLIMIT_AS, &as) < 0) ChildFail(plan, Step::kRlimitAs, errno);
  }
  if (plan.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    ChildFail(plan, Step::kNoNewPrivs, errno);
  }
  // If this server dies (even by SIGKILL) the command's leader dies with it,
  // instead of running on unsupervised while the run is retried elsewhere.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) ChildFail(plan, Step::kDeathSignal, errno);
  if (getppid() != plan.parent_pid) _exit(127);  // the parent died before prctl
  CloseOtherFds(plan.status_fd, plan.max_fd);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  ExecFirstFound(plan);
}

// --- Parent side. ---

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int MaxFd() {
  struct rlimit limit = {};
  if (getrlimit(RLIMIT_NOFILE, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY) return 65535;
  return static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 65536) - 1);
}

void Reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Reads the status pipe until EOF (exec succeeded: the pipe was close-on-exec)
// or a ChildFailure arrives. Returns the number of bytes read, or -errno.
ssize_t ReadStatus(int fd, ChildFailure* failure) {
  while (true) {
    ssize_t n = read(fd, failure, sizeof *failure);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

std::string FailureMessage(const SpawnSpec& spec, const ChildFailure& failure) {
  std::string text = ErrnoText(failure.err);
  switch (failure.step) {
    case Step::kCgroup:
      return absl::StrCat("joining the run's cgroup: ", text);
    case Step::kRlimitAs:
      return absl::StrCat("setrlimit(RLIMIT_AS): ", text);
    case Step::kSetgroups:
      return absl::StrCat("setgroups: ", text);
    case Step::kSetgid:
      return absl::StrCat("setresgid(", spec.credentials ? spec.credentials->gid : 0, "): ", text);
    case Step::kSetuid:
      return absl::StrCat("setresuid(", spec.credentials ? spec.credentials->uid : 0, "): ", text);
    case Step::kSetsid:
      return absl::StrCat("setsid: ", text);
    case Step::kStdio:
      return absl::StrCat("dup2: ", text);
    case Step::kChdir:
      return absl::StrCat("chdir ", spec.working_dir, ": ", text);
    case Step::kRlimit:
      return absl::StrCat("setrlimit(RLIMIT_CORE): ", text);
    case Step::kNoNewPrivs:
      return absl::StrCat("prctl(PR_SET_NO_NEW_PRIVS): ", text);
    case Step::kDeathSignal:
      return absl::StrCat("prctl(PR_SET_PDEATHSIG): ", text);
    case Step::kExec:
      break;
  }
  if (!spec.searched_path.empty() && failure.err == ENOENT) {
    return absl::StrCat("execve ", spec.argv[0], ": ", text, " (searched PATH=", spec.searched_path,
                        ")");
  }
  int index = std::clamp(failure.exec_index, 0, static_cast<int>(spec.exec_paths.size()) - 1);
  return absl::StrCat("execve ", spec.exec_paths[index], ": ", text);
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return ErrnoStatus(errno, "pipe2");
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  absl::StatusOr<UniqueFd> write_end = AboveStdio(std::move(pipe.write_end));
  if (!write_end.ok()) return write_end.status();
  pipe.write_end = *std::move(write_end);
  return pipe;
}

absl::StatusOr<UniqueFd> OpenDevNull() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open /dev/null");
  return AboveStdio(UniqueFd(fd));
}

// Forks with every signal blocked in the forking thread, so that no signal
// handler of this process can run in the child before it resets them.
pid_t ForkChild(const ChildPlan& plan) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) RunChild(plan);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = fork_errno;
  return pid;
}

}  // namespace

std::vector<std::string> ExecPaths(absl::string_view program, absl::string_view path) {
  if (program.find('/') != absl::string_view::npos) return {std::string(program)};
  std::vector<std::string> out;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    out.push_back(absl::StrCat(dir.empty() ? "." : dir, "/", program));
  }
  return out;
}

absl::StatusOr<Child> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty() || spec.exec_paths.empty()) {
    return absl::InvalidArgumentError("nothing to execute");
  }
  absl::StatusOr<UniqueFd> dev_null = OpenDevNull();
  if (!dev_null.ok()) return dev_null.status();
  absl::StatusOr<Pipe> output = MakePipe();
  if (!output.ok()) return output.status();
  absl::StatusOr<Pipe> status = MakePipe();
  if (!status.ok()) return status.status();

  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  std::vector<char*> exec_paths = CStrings(spec.exec_paths);
  ChildPlan plan{argv.data(),
                 envp.data(),
                 exec_paths.data(),
                 static_cast<int>(spec.exec_paths.size()),
                 spec.working_dir.empty() ? nullptr : spec.working_dir.c_str(),
                 dev_null->get(),
                 output->write_end.get(),
                 status->write_end.get(),
                 spec.no_new_privs,
                 spec.cgroup_procs_fd,
                 spec.credentials.has_value(),
                 spec.credentials ? spec.credentials->uid : 0,
                 spec.credentials ? spec.credentials->gid : 0,
                 spec.credentials ? spec.credentials->groups.data() : nullptr,
                 spec.credentials ? spec.credentials->groups.size() : 0,
                 static_cast<rlim_t>(spec.address_space_limit),
                 getpid(),
                 MaxFd()};
  pid_t pid = ForkChild(plan);
  if (pid < 0) return ErrnoStatus(errno, "fork");
  // Only the child keeps these: EOF on the pipes then means the child (and
  // whatever it started) closed them.
  dev_null->Reset();
  output->write_end.Reset();
  status->write_end.Reset();

  ChildFailure failure;
  ssize_t n = ReadStatus(status->read_end.get(), &failure);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    Reap(pid);
    return absl::FailedPreconditionError(FailureMessage(spec, failure));
  }
  if (n != 0) {
    kill(-pid, SIGKILL);
    Reap(pid);
    return n < 0 ? ErrnoStatus(static_cast<int>(-n), "reading the exec status")
                 : absl::InternalError("short read of the exec status");
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    kill(-pid, SIGKILL);
    Reap(pid);
    return ErrnoStatus(err, "pidfd_open");
  }
  fcntl(output->read_end.get(), F_SETFL, O_NONBLOCK);
  return Child{pid, UniqueFd(pidfd), std::move(output->read_end)};
}

}  // namespace dts::execution
