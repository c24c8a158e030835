#include <Eigen/Core>
#include <string>

#include "gaussmix/gaussmix.hpp"
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

}  // namespace gaussmix
