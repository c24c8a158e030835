#pragma once
/// @file statistics.hpp
/// The two halves of EM as separate, reusable pieces, and the one accumulator of statistics.
///
/// statistics_from_responsibilities() sums the statistics of rows under responsibilities of
/// any kind (posteriors, one-hot labels, given weights); expectation_step() is that accumulator
/// fed with the posteriors of a model. maximization_step() turns statistics into parameters.
/// Statistics of disjoint chunks of data (blocks, files, machines) add up with merge() when
/// they were accumulated about the same shifts; recentred() moves them to other shifts. Their
/// members are plain arrays, so they travel between processes as such (the Python bindings
/// convert them to a dict of NumPy arrays).
///
/// Second moments are accumulated about a per-component shift s_k (the current means) and
/// corrected in the M-step: Cov_k = S2_k / N_k - d d^T with d = S1_k / N_k. Accumulating
/// E[x x^T] - mu mu^T instead cancels catastrophically in float32.

#include "gaussmix/model.hpp"
#include "gaussmix/options.hpp"
#include "gaussmix/types.hpp"

namespace gaussmix {

struct SufficientStatistics {
  SufficientStatistics() = default;
  /// Zero statistics about the given shifts, shape (n_components, n_features).
  SufficientStatistics(CovarianceType type, const Matrix<double>& shift);

  CovarianceType covariance_type = CovarianceType::full;
  Matrix<double> shift;       ///< (K, D) s_k
  Vector<double> resp_sum;    ///< (K) N_k = sum_i w_i r_ik
  Matrix<double> first;       ///< (K, D) S1_k = sum_i w_i r_ik (x_i - s_k)
  /// S2: full (K*D, D) per-component sum_i w_i r_ik (x_i - s_k)(x_i - s_k)^T;
  /// tied (D, D) the same summed over k; diag / spherical (K, D) the diagonals only.
  Matrix<double> second;
  double log_likelihood_sum = 0.0;  ///< sum_i w_i log p(x_i) under the model that made them
  double weight_sum = 0.0;          ///< sum_i w_i

  Index n_components() const { return shift.rows(); }
  Index n_features() const { return shift.cols(); }
  /// Mean log-likelihood of the data seen (EM's lower bound).
  double mean_log_likelihood() const { return log_likelihood_sum / weight_sum; }
  /// Adds another chunk's statistics. @throws InvalidArgument unless type and shifts match.
  void merge(const SufficientStatistics& other);
  /// The same statistics about `new_shift` (K, D), exactly in exact arithmetic: with
  /// d_k = s_k - s'_k, S1'_k = S1_k + N_k d_k and S2'_k = S2_k + S1_k d_k^T + d_k S1_k^T + N_k d_k d_k^T
  /// (diagonals only for diag / spherical, summed over k for tied).
  /// @throws InvalidArgument when new_shift's shape differs or it is not finite.
  SufficientStatistics recentred(const Matrix<double>& new_shift) const;
  /// Throws InvalidArgument unless every member has the shape its type, K and D call for and
  /// every value is finite with resp_sum >= 0 (for statistics rebuilt from arrays).
  void check(const char* caller) const;
};

/// The accumulator: statistics of X about `shift` (n_components, n_features) under the
/// responsibilities `resp` (n_samples, n_components), non-negative (rows need not sum to one),
/// weighted by sample_weight when non-empty: N_k = sum_i w_i r_ik, S1_k = sum_i w_i r_ik (x_i - s_k),
/// S2 as documented above. log_likelihood_sum stays 0. Blocked and parallel like the E-step.
/// @throws InvalidArgument for bad shapes or non-finite or negative values.
template <typename Scalar>
SufficientStatistics statistics_from_responsibilities(MatrixCRef<Scalar> X, MatrixCRef<Scalar> resp,
                                                      VectorCRef<Scalar> sample_weight, CovarianceType type,
                                                      MatrixCRef<Scalar> shift);

/// statistics_from_responsibilities() with one-hot responsibilities: row i belongs wholly to
/// component labels[i] (k-means labels, hard assignments). @throws InvalidArgument for labels
/// outside [0, n_components) and as above.
template <typename Scalar>
SufficientStatistics statistics_from_labels(MatrixCRef<Scalar> X, const LabelVector& labels,
                                            VectorCRef<Scalar> sample_weight, CovarianceType type,
                                            MatrixCRef<Scalar> shift);

/// One E-step pass: statistics of X (weighted by sample_weight when non-empty) under `model`,
/// with the model's means as shifts. Parallel over blocks of rows with OpenMP. Responsibilities
/// below 2^-100 of their row's largest are left out: each count N_k and log-likelihood equals
/// that of every term kept to rounding (a pass in which some N_k would be made of such terms
/// keeps them all).
template <typename Scalar>
SufficientStatistics expectation_step(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                                      NoDeduce<VectorCRef<Scalar>> sample_weight = Vector<Scalar>());

/// The M-step: weights, means and covariances (+ reg_covar on the diagonal) from statistics.
/// @throws NumericalError when a covariance cannot be factorised.
template <typename Scalar>
Model<Scalar> maximization_step(const SufficientStatistics& stats, double reg_covar);
/// The same, built in the storage of `spent` (a model no longer needed; see Model::Storage).
template <typename Scalar>
Model<Scalar> maximization_step(const SufficientStatistics& stats, double reg_covar, Model<Scalar>&& spent);

}  // namespace gaussmix
