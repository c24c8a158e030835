// The E-step's early stop of full and tied quadratic forms (full_quadratic() with `best`): on
// well separated components most forms stop after a few columns, and the responsibilities and
// log p(x) must still be bitwise those of the complete forms.

#include <cstdio>
#include <limits>

#include "check.hpp"
#include "gaussmix/gaussmix.hpp"
#include "kernels.hpp"

using namespace gaussmix;

namespace {

/// K components whose means lie about spread / 2 standard deviations apart, correlated covariances.
Model<double> separated_model(CovarianceType type, Index K, Index D, double spread) {
  std::srand(static_cast<unsigned>(31 * D + K));
  const Vector<double> weights = Vector<double>::Constant(K, 1.0 / K);
  const Matrix<double> means = Matrix<double>::Random(K, D) * spread;
  Matrix<double> cov(covariance_rows(type, K, D), D);
  for (Index k = 0; k < cov.rows() / D; ++k) {
    const Eigen::MatrixXd A = Eigen::MatrixXd::Random(D, D) * 0.3;
    cov.middleRows(k * D, D) = A * A.transpose() + 0.5 * Eigen::MatrixXd::Identity(D, D);
  }
  return Model<double>::from_covariances(type, weights, means, cov);
}

template <typename Scalar>
void check_early_stop(CovarianceType type, Index K, Index D, double spread = 60.0) {
  const Model<double> reference = separated_model(type, K, D, spread);
  const auto model = Model<Scalar>::from_covariances(type, reference.weights().cast<Scalar>(),
                                                     reference.means().cast<Scalar>(),
                                                     reference.covariances().cast<Scalar>());
  Matrix<Scalar> X = reference.sample(1037, 3).X.cast<Scalar>();
  // Rows where no form may stop: halfway between two means, and (double) one whose every
  // form overflows, rescored in long double.
  X.row(5) = (model.means().row(0) + model.means().row(1)) / Scalar(2);
  if (std::is_same_v<Scalar, double>) X.row(7).setConstant(Scalar(1e170));

  detail::Workspace<Scalar> complete, stopped;
  detail::weighted_log_prob(model, X, complete, false);
  detail::weighted_log_prob(model, X, stopped, true);
  // Stopped forms are partial sums: their log-probabilities are upper bounds, and there are some.
  const auto exact = complete.log_prob.array(), bound = stopped.log_prob.array();
  const Index stops = (bound != exact).count();
  CHECK(stops > 0 || spread < 30.0);
  CHECK((bound >= exact).all());
  std::printf("  %s K=%d D=%d %s: %d of %d forms stopped early\n", to_string(type).c_str(), static_cast<int>(K),
              static_cast<int>(D), sizeof(Scalar) == 4 ? "float32" : "float64", static_cast<int>(stops),
              static_cast<int>(exact.size()));

  detail::normalize_log_prob(complete);
  detail::normalize_log_prob(stopped);
  CHECK((stopped.log_prob.array() == complete.log_prob.array()).all());
  CHECK((stopped.log_norm.array() == complete.log_norm.array()).all());
  CHECK(!complete.log_norm.array().isNaN().any());

  // score_samples() stops forms at the fit's floor (2^-100 of a row's largest term): the terms
  // it leaves out are below a rounding unit of the sum they would enter, so log p(x) is
  // bitwise that of every complete form, and most forms stop.
  detail::Workspace<Scalar> fit_floor;
  detail::weighted_log_prob(model, X, fit_floor, true, detail::fit_log_floor<Scalar>());
  CHECK((fit_floor.log_prob.array() != exact).count() >= stops);
  CHECK((model.score_samples(X).array() == complete.log_norm.array()).all());
}

}  // namespace

int main() {
  // D = 9 checks once (after 8 columns), 40 and 64 several times.
  for (const auto type : {CovarianceType::full, CovarianceType::tied})
    for (const Index D : {9, 40, 64}) {
      check_early_stop<double>(type, 12, D);
      check_early_stop<float>(type, 12, D);
      // Overlapping components: many forms end near the floor, where a stop too early shows.
      check_early_stop<double>(type, 12, D, 3.0);
      check_early_stop<float>(type, 12, D, 3.0);
    }
  return check::finish("test_early_stop");
}
