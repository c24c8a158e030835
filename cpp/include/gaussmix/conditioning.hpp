#pragma once
/// @file conditioning.hpp
/// Marginals and conditionals of a Gaussian mixture, and the integrated completed likelihood.
///
/// Split the features into given ones g and the rest r. Component k's marginal on g is
/// N(mu_kg, S_kgg); its conditional on x_g = v is N(mu_kr + S_krg S_kgg^-1 (v - mu_kg),
/// S_krr - S_krg S_kgg^-1 S_kgr) (the Schur complement), computed by Cholesky solves with S_kgg.
/// The conditional mixture's weights are the posterior of the components given v,
///   w_k(v) = pi_k N(v | mu_kg, S_kgg) / sum_j pi_j N(v | mu_jg, S_jgg),
/// computed in log space by the density kernels of the marginal model. Diag and spherical
/// components stay diagonal (the rest's covariance is unchanged), tied stays tied (the Schur
/// complement is the same for every component) and full stays full.

#include <vector>

#include "gaussmix/model.hpp"

namespace gaussmix {

/// The mixture of the given features (in the order given): the same weights, the selected
/// means, the selected rows and columns of each covariance; the same covariance type.
/// @throws InvalidArgument unless features is non-empty, unique and within [0, n_features).
template <typename Scalar>
Model<Scalar> marginal(const Model<Scalar>& model, const std::vector<Index>& features);

/// Conditionals of a mixture given many rows of values at once.
template <typename Scalar>
struct ConditionalMixtures {
  std::vector<Index> features;    ///< the remaining features, increasing: the conditionals' features
  CovarianceType covariance_type = CovarianceType::full;
  Matrix<Scalar> weights;         ///< (n_samples, n_components): w_k(v_i), rows sum to one
  Matrix<Scalar> means;           ///< (n_samples, n_components * R): component k's mean at columns k*R ...
  Matrix<Scalar> covariances;     ///< stored as options.hpp describes for R features; the same for every row
  Matrix<Scalar> precisions_cholesky;  ///< their factors, stored alike
  Matrix<Scalar> mean;            ///< (n_samples, R): E[x_r | x_g = v_i]
  Matrix<Scalar> variance;        ///< (n_samples, R): the diagonal of Cov[x_r | x_g = v_i]
};

/// Conditions on x_given = values.row(i) for every row i (values: (n_samples, given.size()),
/// columns in the order of given). Rows are processed in parallel blocks.
/// @throws InvalidArgument when given has duplicates or indices out of range, leaves no feature,
/// or values has the wrong shape or non-finite entries; NumericalError when a Schur complement
/// is not positive definite (the given features determine the rest).
template <typename Scalar>
ConditionalMixtures<Scalar> condition_batch(const Model<Scalar>& model, const std::vector<Index>& given,
                                            MatrixCRef<Scalar> values);

/// The conditional mixture p(x_rest | x_given = values) over the remaining features (increasing
/// order). Conditioning on no features returns the model itself.
/// @throws as condition_batch.
template <typename Scalar>
Model<Scalar> condition(const Model<Scalar>& model, const std::vector<Index>& given, VectorCRef<Scalar> values);

/// Integrated completed likelihood in scikit-learn's lower-is-better convention (mclust's ICL
/// with its sign flipped): bic(X) + 2 sum_i sum_k -tau_ik log tau_ik, tau the posterior, the
/// entropy summed from log-posteriors so that tau_ik = 0 contributes exactly zero.
/// @throws InvalidArgument as Model::score_samples.
template <typename Scalar>
double icl(const Model<Scalar>& model, MatrixCRef<Scalar> X);

}  // namespace gaussmix
