#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gaussmix/gaussmix.hpp"
#include "packet_math.hpp"
#include "parallel.hpp"

namespace gaussmix {

BuildInfo build_info() {
  BuildInfo info;
#ifdef _OPENMP
  info.openmp = true;
#else
  info.openmp = false;
#endif
  info.max_threads = detail::max_threads();
  info.simd = Eigen::SimdInstructionSetsInUse();
  info.eigen_version = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                       std::to_string(EIGEN_MINOR_VERSION);
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) info.cpu_supports.push_back("avx2");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq"))
    info.cpu_supports.push_back("avx512");
#endif
  return info;
}

namespace {

/// Best of several timings of exp_nonpositive() over an L1-resident array spanning its range.
template <typename Scalar>
double exp_seconds_per_value() {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size, n = 2048;
  const Scalar low = std::log(std::numeric_limits<Scalar>::min());
  std::vector<Scalar> x(n), y(n);
  for (Index i = 0; i < n; ++i) x[i] = low * Scalar(i) / Scalar(n);
  double best = std::numeric_limits<double>::infinity(), check = 0.0;
  for (int repeat = 0; repeat < 15; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    for (int pass = 0; pass < 100; ++pass) {
      for (Index i = 0; i < n; i += width) pstoreu(y.data() + i, detail::exp_nonpositive(ploadu<Packet>(x.data() + i)));
      check += static_cast<double>(y[pass % n]);
    }
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  volatile double sink = check;  // keeps the passes from being optimised away
  (void)sink;
  return best / (100.0 * n);
}

}  // namespace

ExpThroughput measure_exp_throughput() {
  return {exp_seconds_per_value<double>(), exp_seconds_per_value<float>()};
}

}  // namespace gaussmix
