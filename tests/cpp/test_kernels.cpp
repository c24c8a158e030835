// The blocked E-step kernels on shapes the two-blob tests do not reach: feature counts on both
// sides of the small-D dot-product path and of the SIMD lane widths, row counts that leave
// partial blocks and partial lane groups, dense (non-diagonal) Cholesky factors, float32, data
// far from the origin, and NaN input. Everything against direct per-sample formulas in double.

#include <Eigen/Cholesky>
#include <cmath>
#include <limits>

#include "check.hpp"
#include "gaussmix/gaussmix.hpp"
#include "testdata.hpp"

using namespace gaussmix;

namespace {

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

/// K components with means spread over a few standard deviations and correlated covariances.
Model<double> random_model(CovarianceType type, Index K, Index D, double offset) {
  std::srand(static_cast<unsigned>(17 * D + K));
  Vector<double> weights = (Vector<double>::Random(K).array() + 2.0).matrix();
  weights /= weights.sum();
  const Matrix<double> means = (Matrix<double>::Random(K, D).array() * 3.0 + offset).matrix();
  Matrix<double> cov(covariance_rows(type, K, D), covariance_cols(type, D));
  if (type == CovarianceType::full || type == CovarianceType::tied) {
    for (Index k = 0; k < cov.rows() / D; ++k) {
      const Eigen::MatrixXd A = Eigen::MatrixXd::Random(D, D) * 0.4;
      cov.middleRows(k * D, D) = A * A.transpose() + 0.5 * Eigen::MatrixXd::Identity(D, D);
    }
  } else {
    cov = (Matrix<double>::Random(cov.rows(), cov.cols()).array() * 0.4 + 1.0).matrix();
  }
  return Model<double>::from_covariances(type, weights, means, cov);
}

/// log pi_k + log N(x_i | k) from a fresh Cholesky factorisation of each covariance.
Matrix<double> naive_log_prob(const Model<double>& model, const Matrix<double>& X) {
  const Index K = model.n_components(), D = model.n_features();
  Matrix<double> out(X.rows(), K);
  for (Index k = 0; k < K; ++k) {
    const Eigen::LLT<Eigen::MatrixXd> llt(testdata::dense_covariance(model, k));
    const double log_det = 2.0 * llt.matrixL().toDenseMatrix().diagonal().array().log().sum();
    const Eigen::MatrixXd centered = (X.rowwise() - model.means().row(k)).transpose();
    const Eigen::MatrixXd z = llt.matrixL().solve(centered);
    out.col(k) = (std::log(model.weights()[k]) - 0.5 * (D * kLog2Pi + log_det) -
                  0.5 * z.colwise().squaredNorm().array())
                     .matrix()
                     .transpose();
  }
  return out;
}

double relative(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  return (a - b).norm() / std::max(1e-300, b.norm());
}

template <typename Scalar>
void check_shape(CovarianceType type, Index N, Index K, Index D, double offset, double tol) {
  const Model<double> model = random_model(type, K, D, offset);
  const Matrix<double> X = model.sample(N, 5).X;
  const Vector<double> weight = Vector<double>::LinSpaced(N, 0.25, 2.0);

  // The model and data in Scalar, and the double reference computed on exactly those values.
  const auto model_s = Model<Scalar>::from_covariances(type, model.weights().cast<Scalar>(),
                                                       model.means().cast<Scalar>(),
                                                       model.covariances().cast<Scalar>());
  const Matrix<Scalar> X_s = X.cast<Scalar>();
  const Vector<Scalar> weight_s = weight.cast<Scalar>();
  const Model<double> reference =
      Model<double>::from_covariances(type, model_s.weights().template cast<double>(),
                                      model_s.means().template cast<double>(),
                                      model_s.covariances().template cast<double>());
  const Matrix<double> X_r = X_s.template cast<double>();
  const Matrix<double> log_prob = naive_log_prob(reference, X_r);

  const Eigen::MatrixXd got = model_s.weighted_log_prob(X_s).template cast<double>();
  CHECK(relative(got, log_prob) < tol);

  // Responsibilities and statistics about the means, weighted.
  const Eigen::VectorXd log_norm =
      log_prob.rowwise().maxCoeff() +
      (log_prob.colwise() - log_prob.rowwise().maxCoeff()).array().exp().rowwise().sum().log().matrix();
  const Eigen::MatrixXd resp = (log_prob.colwise() - log_norm).array().exp();
  CHECK(relative(model_s.predict_proba(X_s).template cast<double>(), resp) < tol);

  const SufficientStatistics stats = expectation_step(model_s, X_s, weight_s);
  CHECK_CLOSE(stats.log_likelihood_sum, log_norm.dot(weight), tol);
  // Unweighted, a full or tied E-step with D <= 4 keeps only the sum of log p(x), with one
  // logarithm per many packets of rows (LogNormSum): every row still counts once.
  const SufficientStatistics plain = expectation_step(model_s, X_s, Vector<Scalar>());
  CHECK_CLOSE(plain.log_likelihood_sum, log_norm.sum(), tol);
  CHECK_CLOSE(plain.weight_sum, static_cast<double>(N), 0.0);
  for (Index k = 0; k < K; ++k) {
    const Eigen::VectorXd wr = resp.col(k).cwiseProduct(weight);
    CHECK_CLOSE(stats.resp_sum[k], wr.sum(), tol);
    const Eigen::MatrixXd centered = X_r.rowwise() - reference.means().row(k);
    const Eigen::RowVectorXd first = wr.transpose() * centered;
    // First moments about the mean nearly cancel: compare on the scale of the sum of |terms|.
    const double first_scale = wr.transpose() * centered.cwiseAbs().rowwise().sum();
    CHECK((stats.first.row(k) - first).norm() <= tol * first_scale);
    const Eigen::MatrixXd second = centered.transpose() * wr.asDiagonal() * centered;
    if (type == CovarianceType::full)
      CHECK(relative(stats.second.middleRows(k * D, D), second) < tol);
    if (type == CovarianceType::diag || type == CovarianceType::spherical)
      CHECK(relative(stats.second.row(k).transpose(), second.diagonal()) < tol);
  }
}

}  // namespace

int main() {
  const CovarianceType types[] = {CovarianceType::full, CovarianceType::tied, CovarianceType::diag,
                                  CovarianceType::spherical};
  // D = 4 and 5 straddle the one-pass statistics of add_small_moments(), 16 and 17 the small-D
  // dot-product path; 1037 rows leave partial blocks, lane groups and packets.
  for (const Index D : {1, 2, 3, 4, 5, 16, 17, 40, 70})
    for (const auto type : types) {
      check_shape<double>(type, 1037, 3, D, 0.0, 1e-10);
      check_shape<float>(type, 1037, 3, D, 0.0, 2e-4);
    }
  // Far from the origin: the centred forms keep float32 accurate.
  for (const auto type : types) check_shape<float>(type, 700, 4, 5, 1e4, 2e-4);

  // NaN or infinity anywhere in X is still reported, by the check after the pass.
  const Model<double> model = random_model(CovarianceType::full, 2, 20, 0.0);
  Matrix<double> X = model.sample(3000, 1).X;
  X(2500, 7) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS(InvalidArgument, expectation_step(model, X));
  X(2500, 7) = -std::numeric_limits<double>::infinity();
  CHECK_THROWS(InvalidArgument, expectation_step(model, X));

  // Rows far from every component in a small-D E-step: the one-pass kernel of D <= 4 hands
  // their block to the general path, which rescores them: log p(x) = -inf, never NaN, and
  // every row's responsibilities still sum to one.
  for (const auto type : {CovarianceType::full, CovarianceType::tied}) {
    const Model<double> small = random_model(type, 3, 2, 0.0);
    Matrix<double> Y = small.sample(1037, 2).X;
    Y(5, 0) = 1e200;
    Y(1030, 1) = -1e300;
    Y(1036, 0) = 1e250;  // the last, partial packet
    const SufficientStatistics stats = expectation_step(small, Y);
    CHECK(stats.log_likelihood_sum == -std::numeric_limits<double>::infinity());
    CHECK(stats.resp_sum.allFinite());
    CHECK_CLOSE(stats.resp_sum.sum(), 1037.0, 1e-9);
  }
  return check::finish("test_kernels");
}
