#pragma once
/// @file missing.hpp
/// EM, scoring and imputation for data with missing values, marked by NaN entries.
///
/// Under missing-at-random, a row x with observed features o and missing features m has the
/// marginal likelihood p(x_o) = sum_k pi_k N(x_o | mu_k[o], Sigma_k[o, o]); the E-step uses it,
/// and the M-step uses expected statistics: with the conditional mean and covariance
///   E[x_m | x_o, k] = mu_k[m] + Sigma_k[m, o] Sigma_k[o, o]^-1 (x_o - mu_k[o]),
///   C_k = Cov[x_m | x_o, k] = Sigma_k[m, m] - Sigma_k[m, o] Sigma_k[o, o]^-1 Sigma_k[o, m],
/// the row enters component k's first moment with x_m replaced by E[x_m | x_o, k] and its second
/// moment with r_ik C_k added on the (m, m) block. The statistics are the SufficientStatistics
/// of statistics.hpp, so maximization_step() and merge() serve unchanged.
///
/// Rows are grouped by their pattern of missing features, so that the conditional quantities are
/// computed once per (pattern, component) and the blocked density kernels run over each group.
/// The per-pattern work is O(min(|o|, |m|)^3 + |o| |m|^2): from the precision P when few
/// features are missing (Sigma[o,o]^-1 involves only P[m,m]), from Sigma when few are observed,
/// so a pattern seen once costs about as much as a few rows, never a D^3 factorisation.
///
/// A row with every feature missing has likelihood one: it scores log p = 0, its posterior is
/// the mixture weights, its imputation the mixture's mean, and it contributes nothing to a fit
/// (fitting X with such rows equals fitting X without them).
///
/// With no NaN in X every function here returns exactly what its complete-data counterpart
/// returns (fit(), Model::score_samples(), ...), bit for bit.

#include <cstdint>
#include <limits>

#include "gaussmix/fit.hpp"
#include "gaussmix/model.hpp"
#include "gaussmix/options.hpp"
#include "gaussmix/statistics.hpp"
#include "gaussmix/types.hpp"

namespace gaussmix {

/// One E-step pass over X with NaN entries: expected statistics about the model's means, with
/// log_likelihood_sum the marginal log-likelihood of the observed entries. Rows with no
/// observed entry are skipped (they do not enter weight_sum).
/// @throws InvalidArgument for bad shapes, infinite entries or bad sample_weight.
template <typename Scalar>
SufficientStatistics expectation_step_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                                              NoDeduce<VectorCRef<Scalar>> sample_weight = Vector<Scalar>());

/// EM on X with NaN entries, otherwise as fit(): restarts, sample_weight, initial parameters.
/// Each initialisation runs options.init on X with every NaN replaced by its column's
/// (weighted) mean, then exact EM on the incomplete data.
/// @throws InvalidArgument when a column has no observed value, fewer rows than components have
/// an observed value, or as fit(); NumericalError as fit().
template <typename Scalar>
FitResult<Scalar> fit_missing(MatrixCRef<Scalar> X, const FitOptions& options,
                              VectorCRef<Scalar> sample_weight = Vector<Scalar>(),
                              const InitialParameters<Scalar>& init = {});

/// fit_from() (warm start) on X with NaN entries.
template <typename Scalar>
FitResult<Scalar> fit_from_missing(const Model<Scalar>& start, NoDeduce<MatrixCRef<Scalar>> X,
                                   const FitOptions& options,
                                   NoDeduce<VectorCRef<Scalar>> sample_weight = Vector<Scalar>(),
                                   double initial_lower_bound = -std::numeric_limits<double>::infinity());

/// log p(x_o) per row, shape (n_samples,); 0 for a row with nothing observed.
template <typename Scalar>
Vector<Scalar> score_samples_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X);
/// log pi_k + log N(x_o | k), shape (n_samples, n_components).
template <typename Scalar>
Matrix<Scalar> weighted_log_prob_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X);
/// p(k | x_o), shape (n_samples, n_components); the weights for a row with nothing observed.
template <typename Scalar>
Matrix<Scalar> predict_proba_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X);
/// Most probable component given the observed entries.
template <typename Scalar>
LabelVector predict_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X);
/// Mean of score_samples_missing(), weighted by sample_weight when it is non-empty.
template <typename Scalar>
double score_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                     NoDeduce<VectorCRef<Scalar>> sample_weight = Vector<Scalar>());

/// X with each NaN replaced by its conditional mean given the row's observed entries,
/// E[x_m | x_o] = sum_k p(k | x_o) E[x_m | x_o, k]. Observed entries are returned unchanged.
template <typename Scalar>
Matrix<Scalar> impute(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X);
/// X with each row's NaNs replaced by one draw from p(x_m | x_o): a component k ~ p(k | x_o),
/// then x_m ~ N(E[x_m | x_o, k], C_k). Row i's draws depend only on (seed, i), so results do not
/// depend on the thread count.
template <typename Scalar>
Matrix<Scalar> impute_sample(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X, std::uint64_t seed);

}  // namespace gaussmix
