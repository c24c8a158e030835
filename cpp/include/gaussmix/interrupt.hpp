#pragma once
/// @file interrupt.hpp
/// Cooperative cancellation of long computations (a fit, k-means, scoring a large X).
///
/// While a ScopedInterruptHook is alive on a thread, every computation started on that thread
/// calls the hook from that same thread between blocks of work, at most about every 20 ms, and
/// stops by throwing Interrupted as soon as the hook returns true. Hooks belong to one thread:
/// computations on other threads are unaffected. The Python bindings install a hook that polls
/// Python's signal handlers, so Ctrl-C stops a fit.

#include <functional>
#include <stdexcept>

namespace gaussmix {

/// Thrown when an interrupt hook asked a computation to stop.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("gaussmix: the computation was interrupted") {}
};

/// Installs `hook` on the calling thread for the lifetime of this object (hooks nest: the
/// previous one is restored on destruction). The hook must not throw.
class ScopedInterruptHook {
 public:
  explicit ScopedInterruptHook(std::function<bool()> hook);
  ~ScopedInterruptHook();
  ScopedInterruptHook(const ScopedInterruptHook&) = delete;
  ScopedInterruptHook& operator=(const ScopedInterruptHook&) = delete;

 private:
  std::function<bool()> hook_;
  const std::function<bool()>* previous_;
};

}  // namespace gaussmix
