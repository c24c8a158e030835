#pragma once
// The EM iteration over any source of statistics: `pass(model)` returns (a reference to) the
// SufficientStatistics of the data under `model`, complete or with missing values, in memory or
// chunked. The complete-data loop of fit.cpp has this shape and can be written with it.

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#include "gaussmix/errors.hpp"
#include "gaussmix/fit.hpp"
#include "gaussmix/statistics.hpp"

namespace gaussmix::detail {

/// EM iterations from `model` until the lower bound changes by less than tol.
template <typename Scalar, typename Pass>
FitResult<Scalar> run_em_over(Model<Scalar> model, const FitOptions& options, double lower_bound, Pass&& pass) {
  FitResult<Scalar> run;
  if (options.max_iter == 0) {
    run.model = std::move(model);
    return run;  // scikit-learn: no iteration, lower bound -inf, not converged
  }
  for (int iter = 1; iter <= options.max_iter; ++iter) {
    const double previous = lower_bound;
    const SufficientStatistics& stats = pass(model);
    lower_bound = stats.mean_log_likelihood();
    // -inf is possible (a sample whose density underflows under every component still has
    // finite responsibilities, and the M-step moves a component to it); NaN is not.
    if (std::isnan(lower_bound))
      throw NumericalError("fit(): the log-likelihood became NaN at iteration " + std::to_string(iter) +
                           "; scale the data or increase reg_covar");
    model = maximization_step<Scalar>(stats, options.reg_covar, std::move(model));  // in the spent model's storage
    run.lower_bounds.push_back(lower_bound);
    run.n_iter = iter;
    if (std::abs(lower_bound - previous) < options.tol) {
      run.converged = true;
      break;
    }
  }
  run.model = std::move(model);
  run.lower_bound = lower_bound;
  return run;
}

/// Keeps the better of `best` and restart number `index`'s `run` (the first on ties), with
/// every restart's report in order.
template <typename Scalar>
void keep_best(FitResult<Scalar>& best, FitResult<Scalar>&& run, std::size_t index, double seconds) {
  best.inits.push_back({run.lower_bound, run.converged, run.n_iter, seconds});
  if (index == 0 || run.lower_bound > best.lower_bound) {
    auto inits = std::move(best.inits);
    best = std::move(run);
    best.inits = std::move(inits);
  }
}

}  // namespace gaussmix::detail
