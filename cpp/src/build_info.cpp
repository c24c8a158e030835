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
  return info;
}

}  // namespace gaussmix
