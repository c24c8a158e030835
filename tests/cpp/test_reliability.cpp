// Issue 8 in C++: interrupts, far points, scale, weights' units, the multinomial draw.

#include <atomic>
#include <cmath>
#include <limits>

#include "check.hpp"
#include "gaussmix/detail/random.hpp"
#include "testdata.hpp"

using namespace gaussmix;

int main() {
  const double inf = std::numeric_limits<double>::infinity();
  const Model<double> truth = testdata::three_blobs();
  const Matrix<double> X = truth.sample(200000, 3).X;
  FitOptions options;
  options.n_components = 3;
  options.max_iter = 1000;
  options.tol = 0.0;

  // An interrupt hook that says stop on its third call ends a long fit with Interrupted, on
  // the calling thread only; hooks nest and are restored.
  {
    std::atomic<int> calls{0};
    ScopedInterruptHook outer([] { return false; });
    {
      ScopedInterruptHook hook([&] { return ++calls >= 3; });
      CHECK_THROWS(Interrupted, fit<double>(X, options));
      CHECK(calls == 3);
    }
    options.max_iter = 2;
    const auto result = fit<double>(X, options);  // the outer hook never stops anything
    CHECK(result.n_iter == 2);
  }

  // Points far from every component: a log-density of -inf, never NaN, and a posterior that
  // is finite and sums to one, for every covariance type.
  for (const auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical}) {
    const Model<double> model = testdata::three_blobs(type);
    Matrix<double> far(3, 2);
    far << 1e200, 0.0, -1e300, 1e300, 1.0, 1.0;
    const Vector<double> log_density = model.score_samples(far);
    CHECK(log_density[0] == -inf && log_density[1] == -inf && std::isfinite(log_density[2]));
    const Matrix<double> proba = model.predict_proba(far);
    CHECK(proba.allFinite());
    for (Index i = 0; i < 3; ++i) CHECK_CLOSE(proba.row(i).sum(), 1.0, 1e-12);
    const Matrix<double> log_prob = model.weighted_log_prob(far);
    CHECK(!log_prob.hasNaN());
    CHECK(!std::isnan(model.score(far)));
  }

  // Scale and offset: the fit of c X + b is the fit of X moved, for c far from one, including
  // data whose sums of squares overflow (fitted at a power-of-two scale inside).
  {
    options.max_iter = 100;
    options.tol = 1e-3;
    const Matrix<double> small = truth.sample(3000, 5).X;
    const auto reference = fit<double>(small, options);
    for (const double c : {1e-100, 1e100, 1e152}) {
      FitOptions scaled = options;
      scaled.reg_covar = options.reg_covar * c * c;
      const double b = 1e8 * c;
      const Matrix<double> moved = (c * small).array() + b;
      const auto result = fit<double>(moved, scaled);
      CHECK(result.model.covariances().allFinite());
      CHECK(((result.model.means().array() - b) / c - reference.model.means().array()).abs().maxCoeff() < 1e-5);
      CHECK(((result.model.covariances().array() / (c * c)) - reference.model.covariances().array()).abs().maxCoeff() <
            1e-5);
    }
    // Covariances beyond float64: a NumericalError that says what to do, not a NaN or a crash.
    CHECK_THROWS(NumericalError, fit<double>(Matrix<double>(small * 1e160), options));
  }

  // The units of sample_weight do not matter, up to weights next to the largest double.
  {
    const Matrix<double> small = truth.sample(2000, 6).X;
    const Vector<double> unit = Vector<double>::Ones(small.rows());
    const auto base = fit<double>(small, options, unit);
    for (const double scale : {1e-300, 1e300, 1.7e308}) {
      const auto scaled = fit<double>(small, options, Vector<double>(unit * scale));
      CHECK(scaled.model.means().isApprox(base.model.means(), 1e-12));
      CHECK_CLOSE(scaled.lower_bound, base.lower_bound, 1e-12);
    }
  }

  // The exact binomial behind the multinomial draw: mean and variance over many draws, for
  // small and huge trial counts.
  {
    detail::Random rng(7);
    for (const auto& [trials, p] : {std::pair<std::int64_t, double>{50, 0.3}, {100000, 0.01}, {1000000000000LL, 0.4}}) {
      const int draws = 4000;
      double sum = 0.0, squares = 0.0;
      for (int i = 0; i < draws; ++i) {
        const double x = static_cast<double>(rng.binomial(trials, p));
        CHECK(x >= 0 && x <= static_cast<double>(trials));
        sum += x;
        squares += x * x;
      }
      const double mean = sum / draws, variance = squares / draws - mean * mean;
      const double expected = static_cast<double>(trials) * p, spread = expected * (1 - p);
      CHECK(std::abs(mean - expected) < 5 * std::sqrt(spread / draws));
      CHECK_CLOSE(variance, spread, 0.15);
    }
  }
  return check::finish("test_reliability");
}
