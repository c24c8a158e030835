#pragma once
/// @file options.hpp
/// Covariance types, initialisation methods and the options of an EM fit, spelled like
/// scikit-learn's GaussianMixture so the two APIs read the same.

#include <cstdint>
#include <string>

#include "gaussmix/types.hpp"

namespace gaussmix {

/// Shape of the component covariances, as in scikit-learn.
/// Parameter storage (covariances and precision Cholesky factors) per type:
///   full: (n_components * n_features, n_features), one upper factor per block of rows;
///   tied: (n_features, n_features); diag: (n_components, n_features); spherical: (n_components, 1).
enum class CovarianceType { full, tied, diag, spherical };

/// How EM starts when no initial parameters are given.
enum class InitMethod {
  kmeans,            ///< responsibilities from Lloyd's k-means with k-means++ seeding
  kmeans_plusplus,   ///< one component on each k-means++ seed, covariance reg_covar * I
  random,            ///< uniform random responsibilities, normalised per sample
  random_from_data,  ///< one component on each of n_components random samples
};

/// Parses "full" | "tied" | "diag" | "spherical". @throws InvalidArgument otherwise.
CovarianceType parse_covariance_type(const std::string& name);
/// Parses "kmeans" | "k-means++" | "random" | "random_from_data". @throws InvalidArgument.
InitMethod parse_init_method(const std::string& name);
std::string to_string(CovarianceType type);
std::string to_string(InitMethod method);

/// Options of gaussmix::fit. Defaults equal scikit-learn's.
struct FitOptions {
  Index n_components = 1;
  CovarianceType covariance_type = CovarianceType::full;
  double tol = 1e-3;        ///< stop when the lower bound changes by less than tol
  double reg_covar = 1e-6;  ///< added to the diagonal of every covariance
  int max_iter = 100;       ///< EM iterations per initialisation (0: return the initial model)
  int n_init = 1;           ///< restarts; the one with the best lower bound is kept
  InitMethod init = InitMethod::kmeans;
  std::uint64_t seed = 0;   ///< all randomness derives from this seed
  /// init = kmeans: rows of the uniform sample k-means runs on before one assignment of every
  /// row (0: all rows, as scikit-learn; kAutomaticSample: automatic_kmeans_sample()).
  Index kmeans_sample_size = kAutomaticSample;
  static constexpr Index kAutomaticSample = -1;
};

/// The sample the automatic k-means start uses for n_samples rows and n_clusters clusters.
Index automatic_kmeans_sample(Index n_samples, Index n_clusters);

/// Runs of k-means (each from its own seeding) the kmeans start keeps the best of, by inertia,
/// for n_samples rows, n_clusters clusters and FitOptions::kmeans_sample_size: 3 when the rows
/// k-means sees hold at least 512 per cluster, else 1 (a small fit's start is most of its time).
/// With all rows asked for, the runs are on 256 rows per cluster and Lloyd's iterations on all
/// rows continue from the best.
Index kmeans_start_runs(Index n_samples, Index n_clusters, Index kmeans_sample_size);

/// Candidates greedy k-means++ tries per step for n_clusters clusters (scikit-learn's 2 + log k).
Index kmeans_plusplus_trials(Index n_clusters);

/// Number of free parameters of a mixture (scikit-learn's `_n_parameters`).
Index n_parameters(CovarianceType type, Index n_components, Index n_features);

/// Number of rows of the stored covariance / precision Cholesky matrix for a type.
Index covariance_rows(CovarianceType type, Index n_components, Index n_features);
/// Number of columns of the stored covariance / precision Cholesky matrix for a type.
Index covariance_cols(CovarianceType type, Index n_features);

}  // namespace gaussmix
