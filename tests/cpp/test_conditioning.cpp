// Marginals and conditionals against the textbook formulas with explicit inverses and
// determinants (an independent oracle: the library uses Cholesky solves and log-space kernels),
// for every covariance type; conditioning on nothing returns the model; bad input throws.

#include <cmath>
#include <vector>

#include <Eigen/LU>

#include "check.hpp"
#include "gaussmix/conditioning.hpp"
#include "testdata.hpp"

using namespace gaussmix;

namespace {

/// A 4-feature, 3-component model of each type with correlated features.
Model<double> model_of(CovarianceType type) {
  Vector<double> weights(3);
  weights << 0.2, 0.5, 0.3;
  Matrix<double> means(3, 4);
  means << 0, 1, 2, 3, -1, 0.5, 4, 0, 2, -2, 1, 1;
  Eigen::MatrixXd base[3];
  for (int k = 0; k < 3; ++k) {
    Eigen::MatrixXd B(4, 4);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) B(i, j) = std::sin(1.0 + i + 3.0 * j + 7.0 * k);
    base[k] = B * B.transpose() + 0.5 * Eigen::MatrixXd::Identity(4, 4);
  }
  Matrix<double> cov(covariance_rows(type, 3, 4), covariance_cols(type, 4));
  for (int k = 0; k < 3; ++k) {
    if (type == CovarianceType::full) cov.middleRows(k * 4, 4) = base[k];
    if (type == CovarianceType::diag) cov.row(k) = base[k].diagonal().transpose();
    if (type == CovarianceType::spherical) cov(k, 0) = 0.5 + k;
  }
  if (type == CovarianceType::tied) cov = base[0];
  return Model<double>::from_covariances(type, weights, means, cov);
}

double log_normal(const Eigen::VectorXd& x, const Eigen::VectorXd& mu, const Eigen::MatrixXd& S) {
  const Eigen::VectorXd d = x - mu;
  return -0.5 * (x.size() * std::log(2 * M_PI) + std::log(S.determinant()) + d.dot(S.inverse() * d));
}

void against_textbook(CovarianceType type) {
  const Model<double> model = model_of(type);
  const std::vector<Index> given = {2, 0}, rest = {1, 3};
  Eigen::VectorXd v(2);
  v << 1.5, -0.3;
  const Model<double> cond = condition<double>(model, given, v);
  CHECK(cond.n_features() == 2 && cond.n_components() == 3);
  CHECK(cond.covariance_type() == type);
  CHECK_CLOSE(cond.weights().sum(), 1.0, 1e-12);
  // Oracle: Bayes' rule with explicit determinants, inverse-based Schur complement.
  Eigen::VectorXd log_w(3);
  for (Index k = 0; k < 3; ++k) {
    const Eigen::MatrixXd S = testdata::dense_covariance(model, k);
    Eigen::MatrixXd Sgg(2, 2), Srg(2, 2), Srr(2, 2);
    Eigen::VectorXd mg(2), mr(2);
    for (int i = 0; i < 2; ++i) {
      mg[i] = model.means()(k, given[i]);
      mr[i] = model.means()(k, rest[i]);
      for (int j = 0; j < 2; ++j) {
        Sgg(i, j) = S(given[i], given[j]);
        Srg(i, j) = S(rest[i], given[j]);
        Srr(i, j) = S(rest[i], rest[j]);
      }
    }
    log_w[k] = std::log(model.weights()[k]) + log_normal(v, mg, Sgg);
    const Eigen::VectorXd mean = mr + Srg * Sgg.inverse() * (v - mg);
    const Eigen::MatrixXd cov = Srr - Srg * Sgg.inverse() * Srg.transpose();
    for (int i = 0; i < 2; ++i) {
      CHECK_CLOSE(cond.means()(k, i), mean[i], 1e-10);
      for (int j = 0; j < 2; ++j) CHECK(std::abs(testdata::dense_covariance(cond, k)(i, j) - cov(i, j)) < 1e-10);
    }
  }
  const Eigen::VectorXd w = (log_w.array() - log_w.maxCoeff()).exp();
  for (Index k = 0; k < 3; ++k) CHECK_CLOSE(cond.weights()[k], w[k] / w.sum(), 1e-10);

  // The batch form agrees row by row, and its mixture mean and variance follow from it.
  Matrix<double> values(2, 2);
  values << 1.5, -0.3, -2.0, 4.0;
  const auto batch = condition_batch<double>(model, given, values);
  CHECK(batch.features == rest);
  for (Index k = 0; k < 3; ++k) CHECK_CLOSE(batch.weights(0, k), cond.weights()[k], 1e-12);
  for (Index i = 0; i < 2; ++i) {
    const Model<double> row = condition<double>(model, given, values.row(i).transpose());
    for (Index j = 0; j < 2; ++j) {
      double mean = 0, second = 0;
      for (Index k = 0; k < 3; ++k) {
        mean += row.weights()[k] * row.means()(k, j);
        second += row.weights()[k] * (testdata::dense_covariance(row, k)(j, j) + std::pow(row.means()(k, j), 2));
      }
      CHECK_CLOSE(batch.mean(i, j), mean, 1e-10);
      CHECK_CLOSE(batch.variance(i, j), second - mean * mean, 1e-8);
    }
  }

  // The marginal: selected means and covariance blocks, the same weights.
  const Model<double> m = marginal<double>(model, {3, 1});
  for (Index k = 0; k < 3; ++k) {
    CHECK(m.means()(k, 0) == model.means()(k, 3) && m.means()(k, 1) == model.means()(k, 1));
    const Eigen::MatrixXd S = testdata::dense_covariance(model, k), Sm = testdata::dense_covariance(m, k);
    CHECK_CLOSE(Sm(0, 1), S(3, 1), 1e-12);
    CHECK_CLOSE(Sm(0, 0), S(3, 3), 1e-12);
  }
}

}  // namespace

int main() {
  for (const auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical})
    against_textbook(type);

  const Model<double> model = model_of(CovarianceType::full);
  const Model<double> same = condition<double>(model, {}, Eigen::VectorXd());
  CHECK(same.means() == model.means() && same.covariances() == model.covariances() && same.weights() == model.weights());

  CHECK_THROWS(InvalidArgument, condition<double>(model, {0, 0}, Eigen::VectorXd::Zero(2)));
  CHECK_THROWS(InvalidArgument, condition<double>(model, {4}, Eigen::VectorXd::Zero(1)));
  CHECK_THROWS(InvalidArgument, condition<double>(model, {-1}, Eigen::VectorXd::Zero(1)));
  CHECK_THROWS(InvalidArgument, condition<double>(model, {0, 1, 2, 3}, Eigen::VectorXd::Zero(4)));
  CHECK_THROWS(InvalidArgument, condition<double>(model, {0}, Eigen::VectorXd::Zero(2)));
  Eigen::VectorXd nan(1);
  nan[0] = std::nan("");
  CHECK_THROWS(InvalidArgument, condition<double>(model, {0}, nan));
  CHECK_THROWS(InvalidArgument, condition<double>(model, {}, Eigen::VectorXd::Zero(1)));
  CHECK_THROWS(InvalidArgument, marginal<double>(model, {}));
  CHECK_THROWS(InvalidArgument, marginal<double>(model, {5}));

  // ICL = BIC + twice the classification entropy, by the direct formula from the posterior.
  const Model<double> blobs = testdata::three_blobs();
  const Matrix<double> X = blobs.sample(500, 4).X;
  const Matrix<double> tau = blobs.predict_proba(X);
  double entropy = 0;
  for (Index i = 0; i < tau.rows(); ++i)
    for (Index k = 0; k < tau.cols(); ++k)
      if (tau(i, k) > 0) entropy -= tau(i, k) * std::log(tau(i, k));
  CHECK_CLOSE(icl<double>(blobs, X), blobs.bic(X) + 2 * entropy, 1e-10);
  return check::finish("test_conditioning");
}
