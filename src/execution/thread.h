#pragma once

#include <pthread.h>

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace dts::execution {

// A joinable thread whose failure to start is a Status rather than the
// std::system_error that std::thread throws. The destructor joins; neither
// Join() nor the destructor may run on the thread itself.
class Thread {
 public:
  // Starts `body` on a new thread. On failure `body` is left untouched, so the
  // caller still owns whatever it captured.
  static absl::StatusOr<std::unique_ptr<Thread>> Start(absl::AnyInvocable<void() &&>& body);

  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  ~Thread();

  void Join();

 private:
  explicit Thread(pthread_t handle) : handle_(handle) {}

  pthread_t handle_;
  bool joined_ = false;
};

}  // namespace dts::execution
