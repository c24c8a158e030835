#include "gaussmix/conditioning.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <Eigen/Cholesky>

#include "checks.hpp"
#include "gaussmix/errors.hpp"
#include "parallel.hpp"

namespace gaussmix {

namespace {

void check_features(const std::vector<Index>& features, Index D, const char* caller, const char* name) {
  std::vector<bool> seen(static_cast<std::size_t>(D), false);
  for (const Index f : features) {
    if (f < 0 || f >= D)
      detail::fail(caller, std::string(name) + " contains " + std::to_string(f) + ", expected indices in [0, " +
                               std::to_string(D) + ")");
    if (seen[static_cast<std::size_t>(f)]) detail::fail(caller, std::string(name) + " contains " + std::to_string(f) + " twice");
    seen[static_cast<std::size_t>(f)] = true;
  }
}

/// Component k's dense covariance in double (the shared one for tied, diagonal for diag and
/// spherical).
template <typename Scalar>
Eigen::MatrixXd dense_covariance(const Model<Scalar>& model, Index k) {
  const Index D = model.n_features();
  const auto& cov = model.covariances();
  switch (model.covariance_type()) {
    case CovarianceType::full: return cov.middleRows(k * D, D).template cast<double>();
    case CovarianceType::tied: return cov.template cast<double>();
    case CovarianceType::diag: return cov.row(k).transpose().template cast<double>().asDiagonal();
    case CovarianceType::spherical: break;
  }
  return static_cast<double>(cov(k, 0)) * Eigen::MatrixXd::Identity(D, D);
}

Eigen::MatrixXd submatrix(const Eigen::MatrixXd& A, const std::vector<Index>& rows, const std::vector<Index>& cols) {
  Eigen::MatrixXd out(rows.size(), cols.size());
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < cols.size(); ++j) out(i, j) = A(rows[i], cols[j]);
  return out;
}

}  // namespace

template <typename Scalar>
Model<Scalar> marginal(const Model<Scalar>& model, const std::vector<Index>& features) {
  const char* caller = "marginal()";
  const Index K = model.n_components(), D = model.n_features();
  detail::require(K > 0, caller, "the model has no components");
  detail::require(!features.empty(), caller, "features is empty; a marginal needs at least one feature");
  check_features(features, D, caller, "features");
  const Index F = static_cast<Index>(features.size());
  const CovarianceType type = model.covariance_type();
  Matrix<Scalar> means(K, F);
  for (Index j = 0; j < F; ++j) means.col(j) = model.means().col(features[j]);
  Matrix<Scalar> covariances(covariance_rows(type, K, F), covariance_cols(type, F));
  switch (type) {
    case CovarianceType::full:
      for (Index k = 0; k < K; ++k)
        covariances.middleRows(k * F, F) = submatrix(dense_covariance(model, k), features, features).template cast<Scalar>();
      break;
    case CovarianceType::tied:
      covariances = submatrix(dense_covariance(model, 0), features, features).template cast<Scalar>();
      break;
    case CovarianceType::diag:
      for (Index j = 0; j < F; ++j) covariances.col(j) = model.covariances().col(features[j]);
      break;
    case CovarianceType::spherical:
      covariances = model.covariances();
      break;
  }
  return Model<Scalar>::from_covariances(type, model.weights(), means, covariances);
}

template <typename Scalar>
ConditionalMixtures<Scalar> condition_batch(const Model<Scalar>& model, const std::vector<Index>& given,
                                            MatrixCRef<Scalar> values) {
  const char* caller = "condition_batch()";
  const Index K = model.n_components(), D = model.n_features();
  detail::require(K > 0, caller, "the model has no components");
  check_features(given, D, caller, "given");
  const Index G = static_cast<Index>(given.size()), R = D - G;
  detail::require(R > 0, caller, "every feature is given; nothing is left to condition");
  detail::require(values.rows() > 0, caller, "values has no rows");
  if (values.cols() != G)
    detail::fail(caller, "values has " + std::to_string(values.cols()) + " columns, expected one per given feature (" +
                             std::to_string(G) + ")");
  detail::require_finite(values, caller, "values");
  const Index n = values.rows();
  const CovarianceType type = model.covariance_type();

  ConditionalMixtures<Scalar> result;
  result.covariance_type = type;
  std::vector<bool> is_given(static_cast<std::size_t>(D), false);
  for (const Index f : given) is_given[static_cast<std::size_t>(f)] = true;
  for (Index f = 0; f < D; ++f)
    if (!is_given[static_cast<std::size_t>(f)]) result.features.push_back(f);
  const auto& rest = result.features;

  // Weights: the posterior of the components under the marginal model of the given features,
  // by the same log-space kernels as predict_proba.
  if (G > 0) {
    result.weights = marginal(model, given).predict_proba(values);
  } else {
    result.weights = model.weights().transpose().replicate(n, 1);
  }

  // Per component (once for tied): the regression matrix A_k = S_rg S_gg^-1 and the Schur
  // complement S_rr - A_k S_gr, by Cholesky solves with S_gg. Diag and spherical have S_rg = 0.
  const bool coupled = (type == CovarianceType::full || type == CovarianceType::tied) && G > 0;
  const Index n_blocks = type == CovarianceType::tied ? 1 : K;
  std::vector<Eigen::MatrixXd> regression(static_cast<std::size_t>(n_blocks));
  Matrix<Scalar> covariances(covariance_rows(type, K, R), covariance_cols(type, R));
  for (Index k = 0; k < n_blocks; ++k) {
    const Eigen::MatrixXd S = dense_covariance(model, k);
    if (type == CovarianceType::diag) {
      for (Index j = 0; j < R; ++j) covariances(k, j) = model.covariances()(k, rest[j]);
      continue;
    }
    if (type == CovarianceType::spherical) {
      covariances(k, 0) = model.covariances()(k, 0);
      continue;
    }
    Eigen::MatrixXd schur = submatrix(S, rest, rest);
    if (coupled) {
      Eigen::LLT<Eigen::MatrixXd> llt(submatrix(S, given, given));
      if (llt.info() != Eigen::Success)
        throw NumericalError(std::string(caller) + ": the covariance of the given features is not positive definite");
      const Eigen::MatrixXd S_gr = submatrix(S, given, rest);
      const Eigen::MatrixXd Y = llt.solve(S_gr);  // S_gg^-1 S_gr
      regression[static_cast<std::size_t>(k)] = Y.transpose();
      schur -= S_gr.transpose() * Y;
      schur = 0.5 * (schur + schur.transpose()).eval();
    }
    covariances.middleRows(k * R, R) = schur.cast<Scalar>();
  }
  // The factors, and a clear error when a Schur complement lost positive definiteness.
  Matrix<Scalar> means0(K, R);
  for (Index j = 0; j < R; ++j) means0.col(j) = model.means().col(rest[j]);
  Model<Scalar> rest_model;
  try {
    rest_model = Model<Scalar>::from_covariances(type, model.weights(), means0, covariances);
  } catch (const NumericalError&) {
    throw NumericalError(std::string(caller) +
                         ": a conditional covariance is not positive definite: the given features (nearly) determine "
                         "the others; raise reg_covar or condition on fewer features");
  }
  result.covariances = rest_model.covariances();
  result.precisions_cholesky = rest_model.precisions_cholesky();

  // Means, the mixture mean and its variance, row blocks in parallel.
  result.means.resize(n, K * R);
  result.mean.resize(n, R);
  result.variance.resize(n, R);
  Eigen::MatrixXd component_variance(K, R);
  for (Index k = 0; k < K; ++k) component_variance.row(k) = dense_covariance(rest_model, k).diagonal().transpose();
  Eigen::MatrixXd mu_g(K, G);
  for (Index j = 0; j < G; ++j) mu_g.col(j) = model.means().col(given[j]).template cast<double>();
  const Eigen::MatrixXd mu_r = means0.template cast<double>();
  // Blocks of rows in parallel; within a block every component is one (rows, G) x (G, R)
  // product, and the variance is summed about the mixture mean (no cancellation).
  const Index rows = 2048;
  detail::for_each_block(n, rows, detail::threads_for(n, rows), [&](int, Index begin, Index end) {
    const Index m = end - begin;
    const Eigen::MatrixXd v = values.middleRows(begin, m).template cast<double>();
    const Eigen::MatrixXd w = result.weights.middleRows(begin, m).template cast<double>();
    Eigen::MatrixXd component_means(m, K * R);
    Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(m, R);
    for (Index k = 0; k < K; ++k) {
      auto mk = component_means.middleCols(k * R, R);
      if (coupled) {
        const auto& A = regression[static_cast<std::size_t>(type == CovarianceType::tied ? 0 : k)];
        mk.noalias() = (v.rowwise() - mu_g.row(k)) * A.transpose();
        mk.rowwise() += mu_r.row(k);
      } else {
        mk.rowwise() = mu_r.row(k);
      }
      mean.array() += mk.array().colwise() * w.col(k).array();
    }
    Eigen::MatrixXd second = Eigen::MatrixXd::Zero(m, R);
    for (Index k = 0; k < K; ++k) {
      const auto mk = component_means.middleCols(k * R, R);
      second.array() += ((mk - mean).array().square().rowwise() + component_variance.row(k).array()).colwise() *
                        w.col(k).array();
    }
    result.means.middleRows(begin, m) = component_means.cast<Scalar>();
    result.mean.middleRows(begin, m) = mean.cast<Scalar>();
    result.variance.middleRows(begin, m) = second.cast<Scalar>();
  });
  return result;
}

template <typename Scalar>
Model<Scalar> condition(const Model<Scalar>& model, const std::vector<Index>& given, VectorCRef<Scalar> values) {
  const char* caller = "condition()";
  if (given.empty()) {
    detail::require(values.size() == 0, caller, "values has entries but no feature is given");
    return model;
  }
  const auto batch = condition_batch<Scalar>(model, given, values.transpose());
  const Index K = model.n_components(), R = static_cast<Index>(batch.features.size());
  Vector<Scalar> weights = batch.weights.row(0).transpose();
  Matrix<Scalar> means = Eigen::Map<const Matrix<Scalar>>(batch.means.data(), K, R);
  return Model<Scalar>::from_parameters(batch.covariance_type, std::move(weights), std::move(means), batch.covariances,
                                        batch.precisions_cholesky);
}

template <typename Scalar>
double icl(const Model<Scalar>& model, MatrixCRef<Scalar> X) {
  const double bic = model.bic(X);
  const Matrix<Scalar> log_prob = model.weighted_log_prob(X);
  double entropy = 0.0;
  for (Index i = 0; i < log_prob.rows(); ++i) {
    const Eigen::RowVectorXd l = log_prob.row(i).template cast<double>();
    const double top = l.maxCoeff();
    const double lse = top + std::log((l.array() - top).exp().sum());
    const Eigen::ArrayXd log_tau = l.array().transpose() - lse;
    entropy -= (log_tau.exp() * log_tau).sum();
  }
  return bic + 2.0 * entropy;
}

template Model<float> marginal<float>(const Model<float>&, const std::vector<Index>&);
template Model<double> marginal<double>(const Model<double>&, const std::vector<Index>&);
template ConditionalMixtures<float> condition_batch<float>(const Model<float>&, const std::vector<Index>&, MatrixCRef<float>);
template ConditionalMixtures<double> condition_batch<double>(const Model<double>&, const std::vector<Index>&,
                                                             MatrixCRef<double>);
template Model<float> condition<float>(const Model<float>&, const std::vector<Index>&, VectorCRef<float>);
template Model<double> condition<double>(const Model<double>&, const std::vector<Index>&, VectorCRef<double>);
template double icl<float>(const Model<float>&, MatrixCRef<float>);
template double icl<double>(const Model<double>&, MatrixCRef<double>);

}  // namespace gaussmix
