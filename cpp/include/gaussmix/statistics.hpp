#pragma once
/// @file statistics.hpp
/// The two halves of EM as separate, reusable pieces.
///
/// expectation_step() makes one pass over the data and returns mergeable sufficient statistics;
/// maximization_step() turns statistics into parameters. Statistics of disjoint chunks of data
/// (blocks, files, machines) add up with merge(), so the same two functions fit streams or
/// distributed data.
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
};

/// One E-step pass: statistics of X (weighted by sample_weight when non-empty) under `model`,
/// with the model's means as shifts. Parallel over blocks of rows with OpenMP.
template <typename Scalar>
SufficientStatistics expectation_step(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                                      NoDeduce<VectorCRef<Scalar>> sample_weight = Vector<Scalar>());

/// The M-step: weights, means and covariances (+ reg_covar on the diagonal) from statistics.
/// @throws NumericalError when a covariance cannot be factorised.
template <typename Scalar>
Model<Scalar> maximization_step(const SufficientStatistics& stats, double reg_covar);

}  // namespace gaussmix
