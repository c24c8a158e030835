#pragma once
/// @file model.hpp
/// A Gaussian mixture with fixed parameters: density, posterior, sampling and criteria.
///
/// The model keeps, per component k, the weight pi_k, the mean mu_k and an upper-triangular
/// factor U_k of the precision (P_k = U_k U_k^T, scikit-learn's `precisions_cholesky_`), so
///   log N(x | mu_k, P_k^-1) = -D/2 log(2 pi) + sum_i log U_k[i,i] - 1/2 ||(x - mu_k)^T U_k||^2.
/// The log-determinant enters with a plus because U_k factors the precision, not the covariance.

#include <cstdint>
#include <limits>

#include "gaussmix/options.hpp"
#include "gaussmix/types.hpp"

namespace gaussmix {

/// Draws from a mixture: samples grouped by component (component 0 first), as scikit-learn does.
template <typename Scalar>
struct Sample {
  Matrix<Scalar> X;    ///< (n_samples, n_features)
  LabelVector labels;  ///< (n_samples,) component of each sample
};

template <typename Scalar>
class Model {
 public:
  Model() = default;

  /// Builds a model from covariances (stored as described in options.hpp).
  /// @throws InvalidArgument on bad shapes, non-finite values or weights outside the simplex;
  /// @throws NumericalError when a covariance is not positive definite.
  static Model from_covariances(CovarianceType type, VectorCRef<Scalar> weights,
                                MatrixCRef<Scalar> means, MatrixCRef<Scalar> covariances);
  /// Builds a model from precisions (inverse covariances), stored like covariances.
  static Model from_precisions(CovarianceType type, VectorCRef<Scalar> weights,
                               MatrixCRef<Scalar> means, MatrixCRef<Scalar> precisions);
  /// Builds a model from precision Cholesky factors U (P = U U^T; full/tied: triangular
  /// with a positive diagonal; diag/spherical: 1/sigma, positive).
  static Model from_precisions_cholesky(CovarianceType type, VectorCRef<Scalar> weights,
                                        MatrixCRef<Scalar> means,
                                        MatrixCRef<Scalar> precisions_cholesky);

  /// Builds a model from covariances together with their precision Cholesky factors, as the
  /// M-step produces them, without refactorising. Shapes, finiteness, weights and the factors'
  /// triangular form are checked; that U U^T inverts the covariance is the caller's promise.
  /// The arguments are taken by value so that a caller can move its matrices in.
  static Model from_parameters(CovarianceType type, Vector<Scalar> weights, Matrix<Scalar> means,
                               Matrix<Scalar> covariances, Matrix<Scalar> precisions_cholesky);

  /// A model's large matrices, given up so that the next model of the same shape is built in
  /// them (maximization_step(stats, reg_covar, spent)): an EM iteration then allocates, and
  /// first touches, no new pages for its K D x D matrices (a sixth of a W5 M-step went to
  /// page faults).
  struct Storage {
    Matrix<Scalar> covariances, precisions_cholesky, precisions_cholesky_transposed;
  };
  /// This model's storage; the model is left empty.
  Storage release_storage() &&;
  /// from_parameters(), the transposed factors written into `spare` (any size) rather than a
  /// new matrix.
  static Model from_parameters(CovarianceType type, Vector<Scalar> weights, Matrix<Scalar> means,
                               Matrix<Scalar> covariances, Matrix<Scalar> precisions_cholesky,
                               Matrix<Scalar> spare_transposed);

  CovarianceType covariance_type() const { return type_; }
  Index n_components() const { return means_.rows(); }
  Index n_features() const { return means_.cols(); }
  const Vector<Scalar>& weights() const { return weights_; }
  const Matrix<Scalar>& means() const { return means_; }
  const Matrix<Scalar>& precisions_cholesky() const { return precisions_cholesky_; }
  /// Full and tied: each U_k transposed, (K*D, D) or (D, D), so that column j of U_k is the
  /// contiguous row k*D + j (the layout the density kernels read). Empty for diag and spherical.
  const Matrix<Scalar>& precisions_cholesky_transposed() const { return precisions_cholesky_t_; }
  /// log pi_k + log det U_k - D/2 log(2 pi): the constant part of each component's log-density.
  const Vector<double>& log_normalizers() const { return log_normalizers_; }

  /// Covariances, stored like the precision factors (see options.hpp).
  const Matrix<Scalar>& covariances() const { return covariances_; }
  /// Precisions U U^T, computed on demand.
  Matrix<Scalar> precisions() const;

  /// log p(x_i) for each row of X, shape (n_samples,).
  Vector<Scalar> score_samples(MatrixCRef<Scalar> X) const;
  /// log pi_k + log N(x_i | k), shape (n_samples, n_components).
  Matrix<Scalar> weighted_log_prob(MatrixCRef<Scalar> X) const;
  /// Posterior p(k | x_i), shape (n_samples, n_components); rows sum to one.
  Matrix<Scalar> predict_proba(MatrixCRef<Scalar> X) const;
  /// Most probable component of each row.
  LabelVector predict(MatrixCRef<Scalar> X) const;
  /// Mean log-likelihood, weighted by sample_weight when it is non-empty.
  double score(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight = Vector<Scalar>()) const;

  Index n_parameters() const;
  /// Bayesian information criterion: -2 n score(X) + n_parameters log n.
  double bic(MatrixCRef<Scalar> X) const;
  /// Akaike information criterion: -2 n score(X) + 2 n_parameters.
  double aic(MatrixCRef<Scalar> X) const;

  /// n_samples draws; reproducible for a given seed.
  Sample<Scalar> sample(Index n_samples, std::uint64_t seed) const;

  /// Throws InvalidArgument unless X is non-empty, finite and has n_features() columns.
  void check_data(MatrixCRef<Scalar> X, const char* caller) const;

 private:
  void finish_construction();

  CovarianceType type_ = CovarianceType::full;
  Vector<Scalar> weights_;
  Matrix<Scalar> means_;
  Matrix<Scalar> covariances_;
  Matrix<Scalar> precisions_cholesky_;
  Matrix<Scalar> precisions_cholesky_t_;
  Vector<double> log_normalizers_;
};

extern template class Model<float>;
extern template class Model<double>;

}  // namespace gaussmix
