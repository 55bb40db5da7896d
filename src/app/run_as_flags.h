#pragma once

// --run-as and --allow-root: who the commands of a worker (`dts server`,
// `dts execution-service`) run as. docs/security.md, "Execution".

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dts/execution/executor.h"

namespace dts::app {

struct RunAsFlags {
  std::string user;  // empty: "nobody" when root, else this process's user
  bool allow_root = false;
};

void AddRunAsFlags(CLI::App& cmd, RunAsFlags* flags);

// Sets options->run_as from the flags and this process's uid. Warns on `err`
// ("<name>: warning: ...") when commands will run as root, and when the
// run-as user cannot reach options->scratch_root. INVALID_ARGUMENT (exit 2)
// naming the flag: an unknown user, a user other than itself for a process
// that is not root, root without --allow-root.
absl::Status ApplyRunAs(const RunAsFlags& flags, absl::string_view name,
                        execution::ExecutorOptions* options, std::ostream& err);

}  // namespace dts::app
