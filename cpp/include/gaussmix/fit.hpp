#pragma once
/// @file fit.hpp
/// Expectation-maximisation with restarts, and the k-means used to initialise it.
///
/// One EM driver, em_fit(), iterates model -> statistics -> model over a *source* of statistics
/// and owns the convergence rule, the lower-bound history and the restarts. fit() is em_fit()
/// over X in memory (an OpenMP E-step); the Python package runs the same driver over chunks of
/// a file and over the blocks of a Dask array.

#include <functional>
#include <limits>
#include <vector>

#include "gaussmix/statistics.hpp"

#include "gaussmix/model.hpp"
#include "gaussmix/options.hpp"
#include "gaussmix/types.hpp"

namespace gaussmix {

/// Optional initial parameters; an empty member means "derive it from options.init".
/// `precisions` is stored like covariances (see options.hpp).
template <typename Scalar>
struct InitialParameters {
  Vector<Scalar> weights;
  Matrix<Scalar> means;
  Matrix<Scalar> precisions;
  /// init = kmeans with k-means on all rows: the rows Lloyd's iterations start from, instead of
  /// a k-means++ seeding, one row of indices per restart (the first n_components of each are
  /// used). For one seed, k-means++ for n clusters chooses the first n rows of what it chooses
  /// for any m > n clusters with the same kmeans_plusplus_trials(), so a sweep over
  /// n_components can seed every fit from one seeding per trial count (restart i's seed is
  /// detail::derive_seed(seed, i)) and get the fits it would get without.
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> kmeans_seeds;
};

/// How one initialisation ended (for verbose reporting).
struct InitReport {
  double lower_bound;
  bool converged;
  int n_iter;
  double seconds;
};

template <typename Scalar>
struct FitResult {
  Model<Scalar> model;              ///< parameters of the best initialisation
  bool converged = false;
  int n_iter = 0;
  double lower_bound = -std::numeric_limits<double>::infinity();
  std::vector<double> lower_bounds; ///< per-iteration lower bounds of the best initialisation
  std::vector<InitReport> inits;    ///< one entry per initialisation, in order
};

/// Fits a mixture to X by EM: options.n_init initialisations, each iterated until the mean
/// log-likelihood (the lower bound) changes by less than tol or max_iter is reached; keeps the
/// best. With sample_weight, sample i counts w_i times (integer weights equal repeating rows).
/// @throws InvalidArgument for bad shapes, values or options; NumericalError when EM produces
/// a covariance that is not positive definite (raise reg_covar).
template <typename Scalar>
FitResult<Scalar> fit(MatrixCRef<Scalar> X, const FitOptions& options,
                      VectorCRef<Scalar> sample_weight = Vector<Scalar>(),
                      const InitialParameters<Scalar>& init = {});

/// Continues EM from `start` (scikit-learn's warm_start): one run, n_init and init ignored;
/// convergence is measured against `initial_lower_bound`.
template <typename Scalar>
FitResult<Scalar> fit_from(const Model<Scalar>& start, NoDeduce<MatrixCRef<Scalar>> X,
                           const FitOptions& options,
                           NoDeduce<VectorCRef<Scalar>> sample_weight = Vector<Scalar>(),
                           double initial_lower_bound = -std::numeric_limits<double>::infinity());

/// One E-step over all the data under `model`: statistics about the model's means, with
/// log_likelihood_sum and weight_sum filled. The reference must stay valid until the next call.
template <typename Scalar>
using StatisticsSource = std::function<const SufficientStatistics&(const Model<Scalar>&)>;
/// The starting model of restart i, given the seed derive_seed(options.seed, i).
template <typename Scalar>
using InitialModel = std::function<Model<Scalar>(std::uint64_t seed)>;

/// The EM driver: options.n_init restarts from initial_model(seed_i), each iterated
/// (E-step by `source`, M-step with options.reg_covar) until the mean log-likelihood changes by
/// less than options.tol or options.max_iter is reached; keeps the best. options.init is unused
/// (initial_model decides) and options.n_components must match the models.
/// @throws InvalidArgument for bad options or statistics that do not fit the model;
/// NumericalError when the lower bound becomes NaN or a covariance cannot be factorised.
template <typename Scalar>
FitResult<Scalar> em_fit(const StatisticsSource<Scalar>& source, const InitialModel<Scalar>& initial_model,
                         const FitOptions& options);

/// One EM run of the driver from `start`, convergence measured against initial_lower_bound.
template <typename Scalar>
FitResult<Scalar> em_fit_from(const StatisticsSource<Scalar>& source, const Model<Scalar>& start,
                              const FitOptions& options,
                              double initial_lower_bound = -std::numeric_limits<double>::infinity());

template <typename Scalar>
struct KMeansResult {
  Matrix<Scalar> centers;  ///< (n_clusters, n_features)
  LabelVector labels;      ///< (n_samples,)
  double inertia = 0.0;    ///< weighted sum of squared distances to the closest center
  int n_iter = 0;
};

/// k-means++ seeding (greedy, 2 + log k candidates per step), weighted by sample_weight.
/// Returns the indices of the chosen rows.
template <typename Scalar>
std::vector<Index> kmeans_plusplus(MatrixCRef<Scalar> X, Index n_clusters, std::uint64_t seed,
                                   VectorCRef<Scalar> sample_weight = Vector<Scalar>());

/// Lloyd's k-means from a k-means++ seeding; stops when labels no longer change or the centers
/// move less than tol times the mean feature variance (scikit-learn's criterion).
template <typename Scalar>
KMeansResult<Scalar> kmeans(MatrixCRef<Scalar> X, Index n_clusters, std::uint64_t seed,
                            VectorCRef<Scalar> sample_weight = Vector<Scalar>(),
                            int max_iter = 300, double tol = 1e-4);

/// The k-means of fit()'s kmeans start on all of X (kmeans_sample_size 0): the best by inertia
/// of kmeans_start_runs() runs, Lloyd's iterations then going on over X. Sources that are not in
/// memory start from it on their bounded sample.
template <typename Scalar>
KMeansResult<Scalar> kmeans_start(MatrixCRef<Scalar> X, Index n_clusters, std::uint64_t seed,
                                  VectorCRef<Scalar> sample_weight = Vector<Scalar>());

}  // namespace gaussmix
