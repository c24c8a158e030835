#pragma once
/// @file gaussmix.hpp
/// Umbrella header: Gaussian mixture models fitted by expectation-maximisation.
///
///   gaussmix::FitOptions options;
///   options.n_components = 3;
///   auto result = gaussmix::fit<double>(X, options);   // X: (n_samples, n_features)
///   auto labels = result.model.predict(X);

#include "gaussmix/conditioning.hpp"
#include "gaussmix/errors.hpp"
#include "gaussmix/fit.hpp"
#include "gaussmix/interrupt.hpp"
#include "gaussmix/io.hpp"
#include "gaussmix/missing.hpp"
#include "gaussmix/model.hpp"
#include "gaussmix/options.hpp"
#include "gaussmix/statistics.hpp"
#include "gaussmix/types.hpp"
#include "gaussmix/version.hpp"

#include <string>
#include <vector>

namespace gaussmix {

/// Build and run-time facts: OpenMP, threads available, SIMD instruction sets compiled in.
struct BuildInfo {
  bool openmp;
  int max_threads;          ///< omp_get_max_threads() now (1 without OpenMP)
  std::string simd;         ///< Eigen's SIMD instruction sets for this build
  std::string eigen_version;
  /// Instruction sets this CPU (and OS) can run among "avx2" (with FMA) and "avx512"
  /// (F, CD, VL, BW, DQ): what the Python package uses to pick its build of the core.
  std::vector<std::string> cpu_supports;
};
BuildInfo build_info();

/// Seconds per value of the E-step's vectorised exp() (the one normalising log-probabilities)
/// on one thread, float64 and float32, timed now: what an exp-bound fit (few features, as W1 of
/// the benchmarks) cannot go below, N * K of them per EM iteration.
struct ExpThroughput {
  double float64_seconds;
  double float32_seconds;
};
ExpThroughput measure_exp_throughput();

}  // namespace gaussmix
