#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dts/common/clock.h"
#include "dts/execution/resources.h"
#include "dts/execution/run_as.h"
#include "dts/model/ids.h"
#include "dts/model/job.h"
#include "dts/v1/common.pb.h"

namespace dts::execution {

// One run's work. The scheduling engine decides when; an Executor only runs it.
struct RunRequest {
  RunId run_id;
  v1::Executor executor;
  // Zero (or negative): no timeout. HTTP requests are still capped by
  // ExecutorOptions::http_default_timeout.
  absl::Duration timeout = absl::ZeroDuration();
  // How much output to keep: the last this many bytes.
  size_t max_output_bytes = 64 * 1024;
  // What the run may use (commands only; zero: unlimited). Enforcement is
  // described in docs/resources.md and reported by Executor::Enforcement().
  ResourceGrant resources;
  // The run's job, scheduled time (InfinitePast: unknown) and the job's
  // metadata. Only kafka runs use them: they are part of the message.
  JobId job_id;
  absl::Time scheduled_time = absl::InfinitePast();
  std::map<std::string, std::string> metadata;
};

// What a kafka run publishes (ExecutorOptions::kafka_publish): the job's
// KafkaExecutor and the run's identity. The messaging module's hook
// (dts/messaging/run_publisher.h) turns it into one Kafka message: topic
// kafka.topic, key kafka.key or else the job id, a JSON value with job_id,
// run_id, scheduled_time, metadata and payload, and dts-* headers.
struct KafkaPublishRequest {
  v1::KafkaExecutor kafka;
  JobId job_id;
  RunId run_id;
  absl::Time scheduled_time = absl::InfinitePast();  // InfinitePast: unknown
  std::map<std::string, std::string> metadata;
  // How long to wait for the broker's acknowledgement; zero: the hook's own
  // default.
  absl::Duration timeout = absl::ZeroDuration();
};

// Publishes a kafka run's message and returns once the broker acknowledged it
// (OK) or `request.timeout` passed (DEADLINE_EXCEEDED).
using KafkaPublishFn = std::function<absl::Status(const KafkaPublishRequest& request)>;

struct RunOutcome {
  // COMPLETED, FAILED, TIMED_OUT or CANCELLED.
  RunStatus status = RunStatus::kFailed;
  // The process exit code, or the HTTP status of an http run. Unset when there
  // is none (killed by a signal, exec failed, no HTTP response, noop).
  std::optional<int> exit_code;
  // The last max_output_bytes of stdout and stderr interleaved, or of the HTTP
  // response body. Raw bytes: a command may print anything, so this is not
  // guaranteed to be UTF-8 (truncation never splits a UTF-8 sequence, though).
  std::string output;
  // Why the run did not complete ("exited with status 3", "timed out after 2s",
  // "execve /nonexistent: No such file or directory", "HTTP 500 (expected 2xx)").
  // Empty when COMPLETED.
  std::string error;
  // From the injected Clock: when the work started and when its outcome was known.
  absl::Time start_time;
  absl::Time end_time;
};

// Receives a run's outcome. Called exactly once per accepted Start(), on an
// executor thread, never while the executor holds a lock: it may call Start()
// and Cancel(), but not Shutdown() or the executor's destructor.
using DoneCallback = absl::AnyInvocable<void(RunOutcome) &&>;

// Runs the work of runs. Thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;

  // Begins the run and returns without waiting for the work. OK: `done` will be
  // called exactly once. FAILED_PRECONDITION after Shutdown(), ALREADY_EXISTS
  // while a run with this id is running, INVALID_ARGUMENT for an empty `done`:
  // `done` is then never called. Anything wrong with the run itself (empty
  // argv, no thread or descriptor to be had) is not an error here: the run
  // FAILS through `done`, with the reason in RunOutcome::error.
  virtual absl::Status Start(RunRequest request, DoneCallback done) = 0;

  // Stops the run; its outcome is CANCELLED unless it already finished. A
  // command's process group gets SIGTERM, then SIGKILL after the grace. No-op
  // for unknown or finished runs, and for kafka publishes (they are not
  // interruptible and simply finish).
  virtual void Cancel(const RunId& id) = 0;

  // Cancels every running run, waits until every callback has returned, and
  // refuses later Start()s. Idempotent. Must not be called from a callback.
  virtual void Shutdown() = 0;

  // Which resource grants this executor enforces, and how.
  virtual EnforcementCapabilities Enforcement() const { return {}; }
};

struct ExecutorOptions {
  // After SIGTERM (timeout or cancel), how long a command's process group has
  // before SIGKILL.
  absl::Duration kill_grace = absl::Seconds(5);
  // Upper bound on an http run without a timeout of its own.
  absl::Duration http_default_timeout = absl::Minutes(5);
  // Redirects an http run follows (http and https only).
  int http_max_redirects = 5;
  // Proxy for http runs ("http://proxy:3128"); empty means direct. The
  // server's http_proxy/https_proxy environment is never consulted.
  std::string http_proxy;
  // User-Agent of http runs unless the job sets its own header.
  std::string http_user_agent = "dts";
  // Sets PR_SET_NO_NEW_PRIVS on commands, so setuid binaries and file
  // capabilities cannot raise their privileges.
  bool no_new_privs = true;
  // The user commands run as (ResolveRunAs: --run-as, --allow-root). Set:
  // the child switches to it before exec, and the scratch directory is
  // created for it; needs this process to be root. Unset: commands run as
  // this process.
  std::optional<RunAsUser> run_as;
  // Publishes a kafka run's message, waiting for the broker's acknowledgement
  // for at most request.timeout (the run's timeout; zero: the hook's own
  // default). DEADLINE_EXCEEDED makes the run TIMED_OUT, any other error
  // FAILED. Called on an executor thread, concurrently for concurrent runs.
  // Unset: kafka runs FAIL with "kafka executor not available in this
  // deployment". dts::messaging::MakeKafkaPublish builds it from a producer.
  KafkaPublishFn kafka_publish;

  // --- Resource enforcement (docs/resources.md). ---
  // Parent of the per-run scratch directories <scratch_root>/<run id>, which
  // commands get as TMPDIR and DTS_SCRATCH_DIR and which are removed after the
  // run. Created if missing. Empty: no scratch directories, and storage grants
  // are not enforced.
  std::string scratch_root;
  // Where the process group of each running command is recorded (a small
  // file per run), so that the next executor created on it kills the groups
  // a crashed server left behind. Created if missing. Empty: no records.
  std::string group_record_dir;
  // Use cgroup v2 for memory and CPU grants when this process can create
  // cgroups. False: never touch cgroups (memory falls back to sampling, CPU is
  // not limited).
  bool use_cgroups = true;
  // The cgroup v2 directory under which per-run cgroups are created, instead
  // of the detected one. It must have, or be able to enable, the memory
  // controller in its cgroup.subtree_control. This process is never moved
  // when it is set.
  std::string cgroup_parent;
  // Without cgroups: how often a run's process group memory is sampled, and
  // the RLIMIT_AS backstop as a multiple of the memory grant (0: no RLIMIT_AS).
  absl::Duration memory_poll_interval = absl::Milliseconds(100);
  int address_space_factor = 8;
  // How often the size of a scratch directory with a storage grant is checked
  // (it is also checked when the command ends).
  absl::Duration storage_poll_interval = absl::Seconds(1);
};

// The executor of a worker: runs commands as child processes of this process,
// http requests with libcurl, kafka publishes through the hook, and completes
// runs without an executor at once. `clock` must outlive the executor.
// FAILED_PRECONDITION when the kernel lacks what it needs (pidfd, Linux 5.3+).
// Detects cgroup v2 support once, here (see ExecutorOptions::use_cgroups); an
// error in options.scratch_root (cannot be created) is INVALID_ARGUMENT, and
// so is run_as in a process that is not root.
absl::StatusOr<std::unique_ptr<Executor>> CreateLocalExecutor(const Clock* clock,
                                                              ExecutorOptions options);

}  // namespace dts::execution
