// Process- and thread-level state of the parallel layer: fork detection and interrupt hooks.

#include "parallel.hpp"

#include <atomic>
#include <chrono>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define GAUSSMIX_HAVE_ATFORK 1
#endif

#include "gaussmix/interrupt.hpp"

namespace gaussmix {

namespace {

thread_local const std::function<bool()>* current_hook = nullptr;
thread_local std::chrono::steady_clock::time_point last_poll{};

// libgomp's thread pool does not survive fork(): a child that starts a team after its parent
// did waits forever for threads that only existed in the parent. Such a child runs serially.
std::atomic<bool> started_team{false};
std::atomic<bool> forked_after_team{false};

#ifdef GAUSSMIX_HAVE_ATFORK
void on_fork_in_child() {
  if (started_team.load()) forked_after_team.store(true);
}
#endif

}  // namespace

ScopedInterruptHook::ScopedInterruptHook(std::function<bool()> hook)
    : hook_(std::move(hook)), previous_(current_hook) {
  current_hook = hook_ ? &hook_ : nullptr;
  last_poll = std::chrono::steady_clock::now();
}

ScopedInterruptHook::~ScopedInterruptHook() { current_hook = previous_; }

namespace detail {

bool threads_allowed() {
#ifdef GAUSSMIX_HAVE_ATFORK
  static const bool registered = pthread_atfork(nullptr, nullptr, on_fork_in_child) == 0;
  (void)registered;
#endif
  return !forked_after_team.load(std::memory_order_relaxed);
}

void note_team_started() { started_team.store(true, std::memory_order_relaxed); }

void poll_interrupt() {
  if (!current_hook) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_poll < std::chrono::milliseconds(20)) return;
  last_poll = now;
  if ((*current_hook)()) throw Interrupted();
}

}  // namespace detail
}  // namespace gaussmix
