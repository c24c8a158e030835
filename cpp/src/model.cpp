#include "gaussmix/model.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <vector>

#include "checks.hpp"
#include "cholesky.hpp"
#include "gaussmix/detail/random.hpp"
#include "gaussmix/errors.hpp"
#include "kernels.hpp"
#include "parallel.hpp"

namespace gaussmix {

namespace {

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

template <typename Scalar>
void check_weights_and_means(VectorCRef<Scalar> weights, MatrixCRef<Scalar> means, const char* caller) {
  detail::require(means.rows() > 0 && means.cols() > 0, caller,
                  "means has shape " + detail::shape(means.rows(), means.cols()) +
                      ", expected (n_components, n_features) with both positive");
  detail::require_finite(means, caller, "means");
  detail::require_shape(weights, means.rows(), 1, caller, "weights");
  detail::require_finite(weights, caller, "weights");
  detail::require((weights.array() >= Scalar(0)).all(), caller, "weights has negative entries");
  const double total = weights.template cast<double>().sum();
  if (std::abs(total - 1.0) > 1e-4) {
    std::ostringstream out;
    out << "weights must sum to 1, got sum(weights) = " << total;
    detail::fail(caller, out.str());
  }
}

/// Component k's D x D block (full), the shared matrix (tied) or row k (diag/spherical) as double.
template <typename Scalar>
Eigen::MatrixXd component_block(const Matrix<Scalar>& stored, CovarianceType type, Index k, Index D) {
  if (type == CovarianceType::full) return stored.middleRows(k * D, D).template cast<double>();
  return stored.template cast<double>();
}

std::string component_name(CovarianceType type, Index k) {
  return type == CovarianceType::tied ? std::string("the tied component") : "component " + std::to_string(k);
}

/// Shape, finiteness and form of precision Cholesky factors: upper triangular with a positive
/// diagonal (full, tied), positive (diag, spherical).
template <typename Scalar>
void check_precisions_cholesky(CovarianceType type, Index K, Index D, MatrixCRef<Scalar> factors,
                               const char* caller) {
  detail::require_shape(factors, covariance_rows(type, K, D), covariance_cols(type, D), caller,
                        "precisions_cholesky");
  detail::require_finite(factors, caller, "precisions_cholesky");
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    const Index n_blocks = type == CovarianceType::full ? K : 1;
    for (Index k = 0; k < n_blocks; ++k) {
      const auto U = factors.middleRows(k * D, D);
      bool upper = (U.diagonal().array() > Scalar(0)).all();
      for (Index row = 1; row < D && upper; ++row) upper = U.row(row).head(row).isZero(0.0);
      detail::require(upper,
                      caller,
                      "precisions_cholesky of " + component_name(type, k) +
                          " must be upper triangular with a positive diagonal");
    }
  } else {
    detail::require((factors.array() > Scalar(0)).all(), caller, "precisions_cholesky must be positive");
  }
}

}  // namespace

template <typename Scalar>
Model<Scalar> Model<Scalar>::from_covariances(CovarianceType type, VectorCRef<Scalar> weights,
                                              MatrixCRef<Scalar> means, MatrixCRef<Scalar> covariances) {
  const char* caller = "Model::from_covariances()";
  check_weights_and_means(weights, means, caller);
  const Index K = means.rows(), D = means.cols();
  detail::require_shape(covariances, covariance_rows(type, K, D), covariance_cols(type, D), caller, "covariances");
  detail::require_finite(covariances, caller, "covariances");
  Model model;
  model.type_ = type;
  model.weights_ = weights;
  model.means_ = means;
  model.covariances_ = covariances;
  model.precisions_cholesky_.resizeLike(covariances);
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    const Index n_blocks = type == CovarianceType::full ? K : 1;
    for (Index k = 0; k < n_blocks; ++k) {
      const Eigen::MatrixXd cov = component_block(model.covariances_, type, k, D);
      Eigen::MatrixXd U;
      if (!detail::is_symmetric(cov) || !detail::precision_cholesky_from_covariance(cov, U))
        throw NumericalError(std::string(caller) + ": the covariance of " + component_name(type, k) +
                             " is not symmetric positive definite");
      model.precisions_cholesky_.middleRows(k * D, D) = U.cast<Scalar>();
    }
  } else {
    detail::require((covariances.array() > Scalar(0)).all(), caller, "covariances must be positive");
    model.precisions_cholesky_ = covariances.array().rsqrt();
  }
  model.finish_construction();
  return model;
}

template <typename Scalar>
Model<Scalar> Model<Scalar>::from_precisions(CovarianceType type, VectorCRef<Scalar> weights,
                                             MatrixCRef<Scalar> means, MatrixCRef<Scalar> precisions) {
  const char* caller = "Model::from_precisions()";
  check_weights_and_means(weights, means, caller);
  const Index K = means.rows(), D = means.cols();
  detail::require_shape(precisions, covariance_rows(type, K, D), covariance_cols(type, D), caller, "precisions");
  detail::require_finite(precisions, caller, "precisions");
  Matrix<Scalar> cholesky(precisions.rows(), precisions.cols());
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    const Index n_blocks = type == CovarianceType::full ? K : 1;
    for (Index k = 0; k < n_blocks; ++k) {
      const Eigen::MatrixXd P = precisions.middleRows(k * D, D).template cast<double>();
      Eigen::MatrixXd U;
      if (!detail::is_symmetric(P) || !detail::precision_cholesky_from_precision(P, U))
        throw NumericalError(std::string(caller) + ": the precision of " + component_name(type, k) +
                             " is not symmetric positive definite");
      cholesky.middleRows(k * D, D) = U.cast<Scalar>();
    }
  } else {
    detail::require((precisions.array() > Scalar(0)).all(), caller, "precisions must be positive");
    cholesky = precisions.array().sqrt();
  }
  return from_precisions_cholesky(type, weights, means, cholesky);
}

template <typename Scalar>
Model<Scalar> Model<Scalar>::from_precisions_cholesky(CovarianceType type, VectorCRef<Scalar> weights,
                                                      MatrixCRef<Scalar> means,
                                                      MatrixCRef<Scalar> precisions_cholesky) {
  const char* caller = "Model::from_precisions_cholesky()";
  check_weights_and_means(weights, means, caller);
  const Index K = means.rows(), D = means.cols();
  check_precisions_cholesky(type, K, D, precisions_cholesky, caller);
  Model model;
  model.type_ = type;
  model.weights_ = weights;
  model.means_ = means;
  model.precisions_cholesky_ = precisions_cholesky;
  model.covariances_.resizeLike(precisions_cholesky);
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    const Index n_blocks = type == CovarianceType::full ? K : 1;
    detail::for_each_index(n_blocks, detail::threads_for_factors(n_blocks, D), [&](Index k) {
      const Eigen::MatrixXd U = component_block(model.precisions_cholesky_, type, k, D);
      model.covariances_.middleRows(k * D, D) = detail::covariance_from_precision_cholesky(U).cast<Scalar>();
    });
  } else {
    model.covariances_ = precisions_cholesky.array().square().inverse();
  }
  model.finish_construction();
  return model;
}

template <typename Scalar>
Model<Scalar> Model<Scalar>::from_parameters(CovarianceType type, Vector<Scalar> weights, Matrix<Scalar> means,
                                             Matrix<Scalar> covariances, Matrix<Scalar> precisions_cholesky) {
  return from_parameters(type, std::move(weights), std::move(means), std::move(covariances),
                         std::move(precisions_cholesky), Matrix<Scalar>());
}

template <typename Scalar>
Model<Scalar> Model<Scalar>::from_parameters(CovarianceType type, Vector<Scalar> weights, Matrix<Scalar> means,
                                             Matrix<Scalar> covariances, Matrix<Scalar> precisions_cholesky,
                                             Matrix<Scalar> spare_transposed) {
  const char* caller = "Model::from_parameters()";
  check_weights_and_means<Scalar>(weights, means, caller);
  const Index K = means.rows(), D = means.cols();
  detail::require_shape(covariances, covariance_rows(type, K, D), covariance_cols(type, D), caller, "covariances");
  detail::require_finite(covariances, caller, "covariances");
  check_precisions_cholesky<Scalar>(type, K, D, precisions_cholesky, caller);
  Model model;
  model.type_ = type;
  model.weights_ = std::move(weights);
  model.means_ = std::move(means);
  model.covariances_ = std::move(covariances);
  model.precisions_cholesky_ = std::move(precisions_cholesky);
  model.precisions_cholesky_t_ = std::move(spare_transposed);
  model.finish_construction();
  return model;
}

template <typename Scalar>
typename Model<Scalar>::Storage Model<Scalar>::release_storage() && {
  Storage storage{std::move(covariances_), std::move(precisions_cholesky_), std::move(precisions_cholesky_t_)};
  *this = Model();
  return storage;
}

template <typename Scalar>
void Model<Scalar>::finish_construction() {
  const Index K = n_components(), D = n_features();
  if (type_ == CovarianceType::full || type_ == CovarianceType::tied) {
    precisions_cholesky_t_.resizeLike(precisions_cholesky_);  // a no-op on recycled storage of this shape
    for (Index k = 0; k < precisions_cholesky_.rows() / D; ++k)
      precisions_cholesky_t_.middleRows(k * D, D) = precisions_cholesky_.middleRows(k * D, D).transpose();
  } else {
    precisions_cholesky_t_.resize(0, 0);
  }
  log_normalizers_.resize(K);
  for (Index k = 0; k < K; ++k) {
    double log_det = 0.0;
    switch (type_) {
      case CovarianceType::full:
        log_det = precisions_cholesky_.middleRows(k * D, D).diagonal().template cast<double>().array().log().sum();
        break;
      case CovarianceType::tied:
        log_det = precisions_cholesky_.diagonal().template cast<double>().array().log().sum();
        break;
      case CovarianceType::diag:
        log_det = precisions_cholesky_.row(k).template cast<double>().array().log().sum();
        break;
      case CovarianceType::spherical:
        log_det = static_cast<double>(D) * std::log(static_cast<double>(precisions_cholesky_(k, 0)));
        break;
    }
    log_normalizers_[k] = std::log(static_cast<double>(weights_[k])) + log_det - 0.5 * static_cast<double>(D) * kLog2Pi;
  }
}

template <typename Scalar>
Matrix<Scalar> Model<Scalar>::precisions() const {
  const Index K = n_components(), D = n_features();
  Matrix<Scalar> result(precisions_cholesky_.rows(), precisions_cholesky_.cols());
  if (type_ == CovarianceType::full || type_ == CovarianceType::tied) {
    const Index n_blocks = type_ == CovarianceType::full ? K : 1;
    for (Index k = 0; k < n_blocks; ++k) {
      const Eigen::MatrixXd U = component_block(precisions_cholesky_, type_, k, D);
      result.middleRows(k * D, D) = (U * U.transpose()).cast<Scalar>();
    }
  } else {
    result = precisions_cholesky_.array().square();
  }
  return result;
}

template <typename Scalar>
void Model<Scalar>::check_data(MatrixCRef<Scalar> X, const char* caller) const {
  detail::require(n_components() > 0, caller, "the model has no components");
  detail::require_data<Scalar>(X, caller);
  if (X.cols() != n_features()) {
    std::ostringstream out;
    out << "X has " << X.cols() << " features, but the model has " << n_features();
    detail::fail(caller, out.str());
  }
}

namespace {

/// Checks X's shape against the model, runs the log-density kernel over blocks of X and hands
/// each block to visit(begin, workspace). Finiteness is checked block by block inside the
/// parallel pass, where the block is read anyway, rather than by a serial scan of X first.
template <typename Scalar, typename Visit>
void for_each_scored_block(const Model<Scalar>& model, MatrixCRef<Scalar> X, bool normalize, const char* caller,
                           Visit&& visit, Scalar log_floor = detail::subnormal_log_floor<Scalar>()) {
  model.check_data(X.topRows(std::min<Index>(X.rows(), 1)), caller);
  const Index rows = detail::block_rows(X.cols());
  const int n_threads = detail::threads_for(X.rows(), rows);
  std::vector<detail::Workspace<Scalar>> workspaces(n_threads);
  detail::for_each_block(X.rows(), rows, n_threads, [&](int thread, Index begin, Index end) {
    auto& ws = workspaces[thread];
    const auto X_blk = X.middleRows(begin, end - begin);
    detail::require_finite(X_blk, caller, "X");
    // Posteriors and log p(x) of a full or tied model with D <= 4 in one pass (see kernels.hpp).
    if (!normalize || !detail::small_dense_posteriors(model, X_blk, ws, log_floor)) {
      detail::weighted_log_prob(model, X_blk, ws, normalize, log_floor);
      if (normalize) detail::normalize_log_prob(ws, log_floor);
    }
    visit(begin, ws);
  });
}

}  // namespace

template <typename Scalar>
Matrix<Scalar> Model<Scalar>::weighted_log_prob(MatrixCRef<Scalar> X) const {
  Matrix<Scalar> result(X.rows(), n_components());
  for_each_scored_block(*this, X, false, "Model::weighted_log_prob()",
                        [&](Index begin, const detail::Workspace<Scalar>& ws) {
    result.middleRows(begin, ws.log_prob.rows()) = ws.log_prob;
    for (const auto& [i, offset] : ws.far_rows)
      result.row(begin + i) = (ws.log_prob.row(i).template cast<double>().array() + offset).template cast<Scalar>();
  });
  return result;
}

template <typename Scalar>
Vector<Scalar> Model<Scalar>::score_samples(MatrixCRef<Scalar> X) const {
  Vector<Scalar> result(X.rows());
  // log p(x) leaves out the terms below 2^-100 of the row's largest, as the E-step of a fit does:
  // under a rounding unit of the sum they would enter, so the result is the same, and most
  // quadratic forms of separated components stop after a few columns.
  for_each_scored_block(*this, X, true, "Model::score_samples()",
                        [&](Index begin, const detail::Workspace<Scalar>& ws) {
    result.segment(begin, ws.log_norm.size()) = ws.log_norm;
  }, detail::fit_log_floor<Scalar>());
  return result;
}

template <typename Scalar>
Matrix<Scalar> Model<Scalar>::predict_proba(MatrixCRef<Scalar> X) const {
  Matrix<Scalar> result(X.rows(), n_components());
  for_each_scored_block(*this, X, true, "Model::predict_proba()",
                        [&](Index begin, const detail::Workspace<Scalar>& ws) {
    result.middleRows(begin, ws.log_prob.rows()) = ws.log_prob;
  });
  return result;
}

template <typename Scalar>
LabelVector Model<Scalar>::predict(MatrixCRef<Scalar> X) const {
  LabelVector labels(X.rows());
  for_each_scored_block(*this, X, false, "Model::predict()",
                        [&](Index begin, const detail::Workspace<Scalar>& ws) {
    for (Index i = 0; i < ws.log_prob.rows(); ++i) {
      Index best = 0;
      ws.log_prob.row(i).maxCoeff(&best);
      labels[begin + i] = best;
    }
  });
  return labels;
}

template <typename Scalar>
double Model<Scalar>::score(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight) const {
  const char* caller = "Model::score()";
  check_data(X, caller);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  const Vector<Scalar> log_density = score_samples(X);
  if (sample_weight.size() == 0) return log_density.template cast<double>().mean();
  // Scaled by the largest weight first, so that the sums cannot overflow.
  const Vector<double> weight = sample_weight.template cast<double>() / static_cast<double>(sample_weight.maxCoeff());
  Vector<double> terms = log_density.template cast<double>().cwiseProduct(weight);
  for (Index i = 0; i < terms.size(); ++i)
    if (weight[i] == 0.0) terms[i] = 0.0;  // a zero weight drops the sample, even at -inf
  return terms.sum() / weight.sum();
}

template <typename Scalar>
Index Model<Scalar>::n_parameters() const {
  return gaussmix::n_parameters(type_, n_components(), n_features());
}

template <typename Scalar>
double Model<Scalar>::bic(MatrixCRef<Scalar> X) const {
  const double n = static_cast<double>(X.rows());
  return -2.0 * score(X) * n + static_cast<double>(n_parameters()) * std::log(n);
}

template <typename Scalar>
double Model<Scalar>::aic(MatrixCRef<Scalar> X) const {
  const double n = static_cast<double>(X.rows());
  return -2.0 * score(X) * n + 2.0 * static_cast<double>(n_parameters());
}

template <typename Scalar>
Sample<Scalar> Model<Scalar>::sample(Index n_samples, std::uint64_t seed) const {
  const char* caller = "Model::sample()";
  detail::require(n_components() > 0, caller, "the model has no components");
  detail::require(n_samples >= 1, caller, "n_samples must be at least 1, got " + std::to_string(n_samples));
  const Index K = n_components(), D = n_features();
  // The result's size is checked (and allocated) before anything is drawn, so that an
  // impossible request fails at once rather than after hours of drawing.
  const Index limit = std::numeric_limits<Index>::max() / static_cast<Index>(sizeof(Scalar) * D + sizeof(std::int64_t));
  detail::require(n_samples <= limit, caller, "n_samples = " + std::to_string(n_samples) + " is too large to store");
  Sample<Scalar> result{Matrix<Scalar>(n_samples, D), LabelVector(n_samples)};
  detail::Random rng(seed);

  // Component counts: one multinomial draw, as a chain of binomials.
  std::vector<Index> counts(K, 0);
  double mass_left = weights_.template cast<double>().sum();
  Index left = n_samples;
  for (Index k = 0; k < K && left > 0; ++k) {
    const double w = static_cast<double>(weights_[k]);
    counts[k] = k + 1 == K ? left : rng.binomial(left, mass_left > 0.0 ? std::min(1.0, w / mass_left) : 1.0);
    left -= counts[k];
    mass_left -= w;
  }

  // x = mu + U^-T z, i.e. the row x^T = mu^T + z^T U^-1, with z standard normal.
  Eigen::MatrixXd U_inv;
  Index row = 0;
  for (Index k = 0; k < K; ++k) {
    if (type_ == CovarianceType::full || (type_ == CovarianceType::tied && k == 0)) {
      const Eigen::MatrixXd U = component_block(precisions_cholesky_, type_, k, D);
      U_inv = U.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd::Identity(D, D));
    }
    Eigen::RowVectorXd z(D);
    for (Index i = 0; i < counts[k]; ++i, ++row) {
      for (Index d = 0; d < D; ++d) z[d] = rng.normal();
      Eigen::RowVectorXd x;
      if (type_ == CovarianceType::full || type_ == CovarianceType::tied)
        x = z * U_inv;
      else if (type_ == CovarianceType::diag)
        x = z.cwiseQuotient(precisions_cholesky_.row(k).template cast<double>());
      else
        x = z / static_cast<double>(precisions_cholesky_(k, 0));
      result.X.row(row) = (x + means_.row(k).template cast<double>()).template cast<Scalar>();
      result.labels[row] = k;
    }
  }
  return result;
}

template class Model<float>;
template class Model<double>;

}  // namespace gaussmix
