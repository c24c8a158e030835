// Missing values: the pattern-grouped E-step against a naive per-row computation (dense
// covariance blocks, LU solves and determinants, no Cholesky factors), identity with the
// complete-data functions when nothing is missing, rows with nothing observed, hostile input.

#include <Eigen/LU>
#include <cmath>
#include <limits>

#include "check.hpp"
#include "testdata.hpp"

using namespace gaussmix;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Expected statistics, one row at a time, straight from the formulas of missing.hpp.
SufficientStatistics naive_statistics(const Model<double>& model, const Matrix<double>& X, const Vector<double>& w) {
  const Index K = model.n_components(), D = model.n_features();
  const CovarianceType type = model.covariance_type();
  SufficientStatistics stats(type, model.means());
  for (Index i = 0; i < X.rows(); ++i) {
    std::vector<Index> o, m;
    for (Index d = 0; d < D; ++d) (std::isnan(X(i, d)) ? m : o).push_back(d);
    if (o.empty()) continue;
    Eigen::VectorXd log_p(K);
    std::vector<Eigen::VectorXd> filled(K);
    std::vector<Eigen::MatrixXd> conditional(K);
    for (Index k = 0; k < K; ++k) {
      const Eigen::MatrixXd S = testdata::dense_covariance(model, k);
      const Eigen::VectorXd mu = model.means().row(k).transpose();
      Eigen::MatrixXd S_oo(o.size(), o.size()), S_mo(m.size(), o.size()), S_mm(m.size(), m.size());
      Eigen::VectorXd delta(o.size());
      for (std::size_t a = 0; a < o.size(); ++a) {
        delta[a] = X(i, o[a]) - mu[o[a]];
        for (std::size_t b = 0; b < o.size(); ++b) S_oo(a, b) = S(o[a], o[b]);
      }
      for (std::size_t a = 0; a < m.size(); ++a) {
        for (std::size_t b = 0; b < o.size(); ++b) S_mo(a, b) = S(m[a], o[b]);
        for (std::size_t b = 0; b < m.size(); ++b) S_mm(a, b) = S(m[a], m[b]);
      }
      const Eigen::FullPivLU<Eigen::MatrixXd> lu(S_oo);
      const Eigen::VectorXd solved = lu.solve(delta);
      log_p[k] = std::log(model.weights()[k]) - 0.5 * o.size() * std::log(2 * M_PI) -
                 0.5 * std::log(lu.determinant()) - 0.5 * delta.dot(solved);
      filled[k] = mu;
      for (std::size_t b = 0; b < o.size(); ++b) filled[k][o[b]] = X(i, o[b]);
      const Eigen::VectorXd cond_mean = S_mo * solved;
      conditional[k] = Eigen::MatrixXd::Zero(D, D);
      // Eigen's solve with an empty right-hand side binds a null reference (UBSan says so).
      const Eigen::MatrixXd cond_cov = m.empty() ? S_mm : Eigen::MatrixXd(S_mm - S_mo * lu.solve(S_mo.transpose()));
      for (std::size_t a = 0; a < m.size(); ++a) {
        filled[k][m[a]] += cond_mean[a];
        for (std::size_t b = 0; b < m.size(); ++b) conditional[k](m[a], m[b]) = cond_cov(a, b);
      }
    }
    const double top = log_p.maxCoeff();
    const double log_norm = top + std::log((log_p.array() - top).exp().sum());
    stats.log_likelihood_sum += w[i] * log_norm;
    stats.weight_sum += w[i];
    for (Index k = 0; k < K; ++k) {
      const double r = w[i] * std::exp(log_p[k] - log_norm);
      const Eigen::VectorXd c = filled[k] - model.means().row(k).transpose();
      const Eigen::MatrixXd second = r * (c * c.transpose() + conditional[k]);
      stats.resp_sum[k] += r;
      stats.first.row(k) += r * c.transpose();
      if (type == CovarianceType::full) stats.second.middleRows(k * D, D) += second;
      if (type == CovarianceType::tied) stats.second += second;
      if (type == CovarianceType::diag || type == CovarianceType::spherical)
        stats.second.row(k) += second.diagonal().transpose();
    }
  }
  return stats;
}

double relative(const Matrix<double>& a, const Matrix<double>& b) { return (a - b).norm() / (1.0 + b.norm()); }

/// A 4-feature mixture with correlated full covariances, so conditioning matters.
Model<double> four_features(CovarianceType type) {
  const Model<double> base = testdata::three_blobs(CovarianceType::full);
  Matrix<double> means(3, 4);
  means << 0, 0, 1, -1, 6, 2, 0, 3, -3, 7, 2, 0;
  Matrix<double> covariances(covariance_rows(type, 3, 4), covariance_cols(type, 4));
  for (Index k = 0; k < 3; ++k) {
    Eigen::MatrixXd A = Eigen::MatrixXd::Identity(4, 4);
    A(1, 0) = 0.8 - 0.3 * k;
    A(2, 1) = 0.5;
    A(3, 0) = -0.4 + 0.2 * k;
    A(3, 2) = 0.7;
    const Eigen::MatrixXd S = A * A.transpose() * (1.0 + 0.5 * k);
    switch (type) {
      case CovarianceType::full: covariances.middleRows(k * 4, 4) = S; break;
      case CovarianceType::tied: if (k == 0) covariances = S; break;
      case CovarianceType::diag: covariances.row(k) = S.diagonal().transpose(); break;
      case CovarianceType::spherical: covariances(k, 0) = S.diagonal().mean(); break;
    }
  }
  return Model<double>::from_covariances(type, base.weights(), means, covariances);
}

}  // namespace

int main() {
  for (auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical}) {
    const Model<double> model = four_features(type);
    Matrix<double> X = model.sample(1500, 3).X;
    // Every pattern, from nothing missing to nothing observed, with pseudo-random holes.
    for (Index i = 0; i < X.rows(); ++i)
      for (Index d = 0; d < 4; ++d)
        if (((i * 7 + d * 13) % 11) < 3 || (i % 97 == 0)) X(i, d) = kNaN;
    const Vector<double> w = Vector<double>::LinSpaced(X.rows(), 0.5, 2.0);

    const SufficientStatistics stats = expectation_step_missing(model, X, w);
    const SufficientStatistics naive = naive_statistics(model, X, w);
    CHECK(relative(stats.resp_sum, naive.resp_sum) < 1e-10);
    CHECK(relative(stats.first, naive.first) < 1e-10);
    CHECK(relative(stats.second, naive.second) < 1e-10);
    CHECK_CLOSE(stats.log_likelihood_sum, naive.log_likelihood_sum, 1e-10);
    CHECK_CLOSE(stats.weight_sum, naive.weight_sum, 1e-12);

    // Scoring agrees with the statistics' log-likelihood; rows with nothing observed score 0
    // and have the weights as their posterior.
    const Vector<double> log_density = score_samples_missing(model, X);
    double sum = 0.0;
    for (Index i = 0; i < X.rows(); ++i) sum += w[i] * log_density[i];
    CHECK_CLOSE(sum, naive.log_likelihood_sum, 1e-10);
    const Matrix<double> proba = predict_proba_missing(model, X);
    CHECK(std::abs(log_density[0]) < 1e-12);  // row 0 has every feature missing
    CHECK((proba.row(0).transpose() - model.weights()).norm() < 1e-12);
    CHECK((proba.rowwise().sum().array() - 1.0).abs().maxCoeff() < 1e-12);

    // Imputation: observed entries untouched, missing ones the mixture of conditional means,
    // which for a row with nothing observed is the mixture mean.
    const Matrix<double> imputed = impute(model, X);
    CHECK(imputed.allFinite());
    for (Index d = 0; d < 4; ++d) CHECK_CLOSE(imputed(0, d), model.weights().dot(model.means().col(d)), 1e-12);
    for (Index i = 0; i < X.rows(); ++i)
      for (Index d = 0; d < 4; ++d)
        if (!std::isnan(X(i, d))) CHECK(imputed(i, d) == X(i, d));
    const Matrix<double> drawn = impute_sample(model, X, 5);
    CHECK(drawn.allFinite());
    CHECK(drawn == impute_sample(model, X, 5));

    // Nothing missing: exactly the complete-data functions.
    const Matrix<double> complete = model.sample(700, 4).X;
    const SufficientStatistics plain = expectation_step(model, complete);
    const SufficientStatistics same = expectation_step_missing(model, complete);
    CHECK(plain.second == same.second && plain.first == same.first && plain.resp_sum == same.resp_sum);
    CHECK(score_samples_missing(model, complete) == model.score_samples(complete));
    FitOptions options;
    options.n_components = 3;
    options.covariance_type = type;
    const auto a = fit<double>(complete, options), b = fit_missing<double>(complete, options);
    CHECK(a.model.means() == b.model.means() && a.model.covariances() == b.model.covariances());

    // The fit ignores rows with nothing observed, and the likelihood never decreases.
    Matrix<double> padded(X.rows() + 5, 4);
    padded << X, Matrix<double>::Constant(5, 4, kNaN);
    options.tol = 0.0;
    options.max_iter = 15;
    const auto with_empty = fit_missing<double>(padded, options);
    const auto without = fit_missing<double>(X, options);
    CHECK(relative(with_empty.model.means(), without.model.means()) < 1e-12);
    for (std::size_t t = 1; t < without.lower_bounds.size(); ++t)
      CHECK(without.lower_bounds[t] >= without.lower_bounds[t - 1] - 1e-10);
  }

  // Hostile input: infinity, a column never observed, nothing observed at all.
  const Model<double> model = four_features(CovarianceType::full);
  Matrix<double> X = model.sample(50, 1).X;
  X(3, 1) = kNaN;
  FitOptions options;
  options.n_components = 2;
  Matrix<double> bad = X;
  bad(2, 2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS(InvalidArgument, fit_missing<double>(bad, options));
  CHECK_THROWS(InvalidArgument, score_samples_missing(model, bad));
  bad = X;
  bad.col(2).setConstant(kNaN);
  CHECK_THROWS(InvalidArgument, fit_missing<double>(bad, options));
  CHECK(score_samples_missing(model, bad).allFinite());
  bad.setConstant(kNaN);
  CHECK_THROWS(InvalidArgument, fit_missing<double>(bad, options));
  CHECK(score_samples_missing(model, bad).cwiseAbs().maxCoeff() < 1e-12);
  CHECK_THROWS(InvalidArgument, score_samples_missing(model, Matrix<double>(X.leftCols(3))));

  // float32 follows float64.
  const Matrix<float> Xf = X.cast<float>();
  const Model<float> model_f = Model<float>::from_covariances(CovarianceType::full, model.weights().cast<float>(),
                                                               model.means().cast<float>(),
                                                               model.covariances().cast<float>());
  const SufficientStatistics stats_f = expectation_step_missing(model_f, Xf);
  const SufficientStatistics stats_d = expectation_step_missing(model, X);
  CHECK(relative(stats_f.second, stats_d.second) < 1e-4);
  CHECK_CLOSE(stats_f.log_likelihood_sum, stats_d.log_likelihood_sum, 1e-4);
  return check::finish("test_missing");
}
