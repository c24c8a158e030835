#pragma once
// Blocked, OpenMP-parallel loops over rows. The only header that includes <omp.h>.
//
// Rows are cut into blocks of a fixed size and thread t owns a contiguous run of blocks, which
// it processes in order: each thread's partial sums, reduced in thread order afterwards, are the
// same on every run with the same thread count.

#include <algorithm>
#include <atomic>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "gaussmix/types.hpp"

namespace gaussmix::detail {

/// False in a child forked after this process ran a parallel region (see parallel.cpp).
bool threads_allowed();
/// Records that a team of threads was started (for the fork check).
void note_team_started();
/// Calls the calling thread's interrupt hook when one is installed and ~20 ms have passed;
/// throws Interrupted when it asks to stop. A no-op on threads without a hook (OpenMP workers).
void poll_interrupt();

/// Threads a parallel region may use: omp_get_max_threads() per call (so OMP_NUM_THREADS and
/// threadpoolctl apply), capped, and 1 in a child forked after a parallel region.
inline int max_threads() {
#ifdef _OPENMP
  if (!threads_allowed()) return 1;
  return std::clamp(omp_get_max_threads(), 1, 256);
#else
  return 1;
#endif
}

/// Features up to which a block of rows is sized to stay in L1 (see block_rows()).
constexpr Index kSmallFeatures = 16;

/// Rows per block, a multiple of 64 (the kernels' lane groups), at most 512. Few features: about
/// 32 KiB of float64 per block, so that the transposed block and its per-component temporaries
/// stay near L1 while the kernels sweep them. More: about 256 KiB, so that the block and its
/// scaled copy for the second moments stay in L2 while the product tiles read them many times
/// over (with 512 KiB blocks a W3 iteration, D = 64, took 15% longer). Each block ends in one
/// horizontal sum per statistic and component, so longer blocks spend less on them: going from
/// 16 and 128 KiB to these sizes made a W2 iteration (D = 16) 10% faster, W3's 8% (17% in
/// float32); 1024 rows made W4's float32 iteration (D = 32) 7% slower.
inline Index block_rows(Index n_features) {
  const Index D = std::max<Index>(n_features, 1);
  const Index budget = D <= kSmallFeatures ? 4096 : 32768;
  return std::clamp<Index>(budget / D / 64 * 64, 64, 512);
}

inline Index block_count(Index n_rows, Index rows_per_block) {
  return (n_rows + rows_per_block - 1) / rows_per_block;
}

/// Threads worth starting for n_rows: one per few blocks, at most omp_get_max_threads().
inline int threads_for(Index n_rows, Index rows_per_block) {
  const Index n_blocks = block_count(n_rows, rows_per_block);
  return static_cast<int>(std::clamp<Index>(std::min<Index>(max_threads(), n_blocks / 2), 1, 1024));
}

/// Calls body(thread, begin, end) for every block [begin, end) of rows, thread < n_threads.
/// An exception thrown by body (or an interrupt) stops every thread at its next block and is
/// rethrown here, after the parallel region.
template <typename Body>
void for_each_block(Index n_rows, Index rows_per_block, int n_threads, Body&& body) {
  const Index n_blocks = block_count(n_rows, rows_per_block);
  const auto run = [&](Index thread, Index team, std::atomic<bool>& stop) {
    const Index first = n_blocks * thread / team;
    const Index last = n_blocks * (thread + 1) / team;
    for (Index b = first; b < last && !stop.load(std::memory_order_relaxed); ++b) {
      poll_interrupt();
      const Index begin = b * rows_per_block;
      body(static_cast<int>(thread), begin, std::min(n_rows, begin + rows_per_block));
    }
  };
  std::atomic<bool> stop{false};
  n_threads = std::clamp<int>(n_threads, 1, max_threads());
  if (n_threads == 1) {  // no OpenMP region at all: nothing to start, nothing to survive a fork
    run(0, 1, stop);
    return;
  }
  note_team_started();
  std::exception_ptr error;
#pragma omp parallel num_threads(n_threads)
  {
#ifdef _OPENMP
    const Index thread = omp_get_thread_num();
    const Index team = omp_get_num_threads();
#else
    const Index thread = 0;
    const Index team = 1;
#endif
    try {
      run(thread, team, stop);
    } catch (...) {
      stop.store(true);
#pragma omp critical(gaussmix_parallel_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

/// Threads for n_blocks independent D x D factorisations (M-step, model construction): one
/// below about a million flops, where starting a team costs more than it saves.
inline int threads_for_factors(Index n_blocks, Index D) {
  if (n_blocks * D * D * D < (Index(1) << 20)) return 1;
  return static_cast<int>(std::min<Index>(max_threads(), n_blocks));
}

/// Calls body(i) for every i in [0, n), thread t taking the t-th contiguous range.
template <typename Body>
void for_each_index(Index n, int n_threads, Body&& body) {
  for_each_block(n, 1, n_threads, [&](int, Index i, Index) { body(i); });
}

}  // namespace gaussmix::detail
