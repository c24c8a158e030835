// One and two threads give the same fit to rounding; a fixed thread count is bit-reproducible.

#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.hpp"
#include "testdata.hpp"

using namespace gaussmix;

namespace {

FitResult<double> fit_with_threads(const Matrix<double>& X, int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
  FitOptions options;
  options.n_components = 3;
  options.seed = 5;
  options.tol = 1e-8;
  return fit<double>(X, options);
}

double relative(const Matrix<double>& a, const Matrix<double>& b) { return (a - b).norm() / b.norm(); }

}  // namespace

int main() {
  const Matrix<double> X = testdata::three_blobs().sample(50000, 9).X;
  const FitResult<double> one = fit_with_threads(X, 1);
  const FitResult<double> two = fit_with_threads(X, 2);
  const FitResult<double> two_again = fit_with_threads(X, 2);
  CHECK(one.n_iter == two.n_iter);
  CHECK(relative(one.model.means(), two.model.means()) < 1e-10);
  CHECK(relative(one.model.covariances(), two.model.covariances()) < 1e-10);
  CHECK_CLOSE(one.lower_bound, two.lower_bound, 1e-12);
  CHECK(two.model.means() == two_again.model.means());
  CHECK(two.model.covariances() == two_again.model.covariances());
  CHECK(two.lower_bound == two_again.lower_bound);
  return check::finish("test_threads");
}
