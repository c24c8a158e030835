// Every bad input is an exception with a message; nothing aborts.

#include <limits>

#include "check.hpp"
#include "testdata.hpp"

using namespace gaussmix;

int main() {
  const Model<double> model = testdata::three_blobs();
  const Matrix<double> X = model.sample(100, 1).X;
  FitOptions options;
  options.n_components = 3;

  Matrix<double> with_nan = X;
  with_nan(3, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS(InvalidArgument, fit<double>(with_nan, options));
  CHECK_THROWS(InvalidArgument, model.score_samples(with_nan));
  // Non-finite values deep in a many-block X are found by every scoring function (they are
  // checked block by block inside the parallel pass).
  Matrix<double> late_nan = model.sample(50000, 2).X;
  late_nan(49000, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS(InvalidArgument, model.score_samples(late_nan));
  CHECK_THROWS(InvalidArgument, model.predict(late_nan));
  CHECK_THROWS(InvalidArgument, model.predict_proba(late_nan));
  CHECK_THROWS(InvalidArgument, model.weighted_log_prob(late_nan));
  CHECK_THROWS(InvalidArgument, model.score(late_nan));
  Matrix<double> with_inf = X;
  with_inf(0, 0) = std::numeric_limits<double>::infinity();
  CHECK_THROWS(InvalidArgument, fit<double>(with_inf, options));
  CHECK_THROWS(InvalidArgument, fit<double>(Matrix<double>(0, 2), options));
  CHECK_THROWS(InvalidArgument, model.predict(Matrix<double>::Zero(4, 3)));  // wrong n_features

  FitOptions bad = options;
  bad.n_components = 0;
  CHECK_THROWS(InvalidArgument, fit<double>(X, bad));
  bad = options;
  bad.n_components = 101;
  CHECK_THROWS(InvalidArgument, fit<double>(X, bad));
  bad = options;
  bad.tol = -1;
  CHECK_THROWS(InvalidArgument, fit<double>(X, bad));
  bad = options;
  bad.reg_covar = -1e-6;
  CHECK_THROWS(InvalidArgument, fit<double>(X, bad));
  bad = options;
  bad.max_iter = -1;
  CHECK_THROWS(InvalidArgument, fit<double>(X, bad));
  bad = options;
  bad.n_init = 0;
  CHECK_THROWS(InvalidArgument, fit<double>(X, bad));
  CHECK_THROWS(InvalidArgument, parse_covariance_type("round"));
  CHECK_THROWS(InvalidArgument, parse_init_method("kmedoids"));

  // Sample weights.
  Vector<double> weight = Vector<double>::Ones(100);
  weight[5] = -1;
  CHECK_THROWS(InvalidArgument, fit<double>(X, options, weight));
  CHECK_THROWS(InvalidArgument, fit<double>(X, options, Vector<double>::Ones(99)));
  CHECK_THROWS(InvalidArgument, fit<double>(X, options, Vector<double>::Zero(100)));
  weight[5] = std::numeric_limits<double>::infinity();
  CHECK_THROWS(InvalidArgument, fit<double>(X, options, weight));

  // Initial parameters.
  InitialParameters<double> init{model.weights(), model.means(), model.precisions()};
  InitialParameters<double> wrong = init;
  wrong.means = Matrix<double>::Zero(2, 2);
  CHECK_THROWS(InvalidArgument, fit<double>(X, options, Vector<double>(), wrong));
  wrong = init;
  wrong.precisions = Matrix<double>::Zero(6, 2);  // not positive definite
  CHECK_THROWS(NumericalError, fit<double>(X, options, Vector<double>(), wrong));
  wrong = init;
  wrong.weights << 0.5, 0.6, -0.1;
  CHECK_THROWS(InvalidArgument, fit<double>(X, options, Vector<double>(), wrong));

  // Model construction.
  Matrix<double> not_pd = model.covariances();
  not_pd(0, 0) = -1;
  CHECK_THROWS(NumericalError, Model<double>::from_covariances(CovarianceType::full, model.weights(), model.means(), not_pd));
  Matrix<double> lower = model.precisions_cholesky();
  lower(1, 0) = 0.5;  // not upper triangular
  CHECK_THROWS(InvalidArgument,
               Model<double>::from_precisions_cholesky(CovarianceType::full, model.weights(), model.means(), lower));
  CHECK_THROWS(InvalidArgument, Model<double>::from_covariances(CovarianceType::diag, model.weights(), model.means(),
                                                                Matrix<double>::Ones(2, 2)));
  CHECK_THROWS(InvalidArgument, model.sample(0, 1));

  // Degenerate data: all points equal. reg_covar keeps the covariance positive definite.
  const Matrix<double> same = Matrix<double>::Constant(50, 2, 3.0);
  FitOptions two;
  two.n_components = 2;
  const FitResult<double> r = fit<double>(same, two);
  CHECK(r.model.means().allFinite() && r.model.covariances().allFinite());
  // Without reg_covar the same data cannot be fitted, and says so.
  two.reg_covar = 0.0;
  CHECK_THROWS(NumericalError, fit<double>(same, two));
  return check::finish("test_errors");
}
