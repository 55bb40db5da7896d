#include "execution/thread.h"

#include <utility>

#include "execution/posix.h"

namespace dts::execution {
namespace {

void* RunBody(void* arg) {
  std::unique_ptr<absl::AnyInvocable<void() &&>> body(
      static_cast<absl::AnyInvocable<void() &&>*>(arg));
  std::move (*body)();
  return nullptr;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Thread>> Thread::Start(absl::AnyInvocable<void() &&>& body) {
  auto heap = std::make_unique<absl::AnyInvocable<void() &&>>(std::move(body));
  pthread_t handle;
  int err = pthread_create(&handle, nullptr, &RunBody, heap.get());
  if (err != 0) {
    body = std::move(*heap);
    return ErrnoStatus(err, "cannot start a thread");
  }
  heap.release();  // RunBody owns it now
  return std::unique_ptr<Thread>(new Thread(handle));
}

Thread::~Thread() { Join(); }

void Thread::Join() {
  if (joined_) return;
  pthread_join(handle_, nullptr);
  joined_ = true;
}

}  // namespace dts::execution
