// EM with restarts: initialisation, the iteration loop and the choice of the best run.

#include "gaussmix/fit.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <vector>

#include "checks.hpp"
#include "data_summary.hpp"
#include "em_loop.hpp"
#include "gaussmix/detail/random.hpp"
#include "gaussmix/errors.hpp"
#include "gaussmix/statistics.hpp"
#include "kernels.hpp"
#include "kmeans.hpp"
#include "parallel.hpp"

namespace gaussmix {

namespace {

void check_options(const FitOptions& options, Index n_samples, const char* caller) {
  detail::require(options.n_components >= 1, caller,
                  "n_components must be >= 1, got " + std::to_string(options.n_components));
  detail::require(options.n_components <= n_samples, caller,
                  "Expected n_samples >= n_components but got n_components = " +
                      std::to_string(options.n_components) + ", n_samples = " + std::to_string(n_samples));
  detail::require(std::isfinite(options.tol) && options.tol >= 0.0, caller, "tol must be finite and >= 0");
  detail::require(std::isfinite(options.reg_covar) && options.reg_covar >= 0.0, caller,
                  "reg_covar must be finite and >= 0");
  detail::require(options.max_iter >= 0, caller, "max_iter must be >= 0");
  detail::require(options.n_init >= 1, caller, "n_init must be >= 1");
  detail::require(options.kmeans_sample_size >= 0 || options.kmeans_sample_size == FitOptions::kAutomaticSample,
                  caller, "kmeans_sample_size must be >= 0 (0: all rows) or automatic, got " +
                              std::to_string(options.kmeans_sample_size));
}

/// What one fit works with: X's summary, and the weights scaled to mean one (so that no result
/// depends on their units) in double and, when the caller gave any, in X's type.
template <typename Scalar>
struct PreparedData {
  detail::DataSummary summary;
  Vector<double> weight;          // empty without weights (every weight one)
  Vector<Scalar> sample_weight;  // empty without weights
  // Nonzero when sums of squares of X would overflow Scalar but those of X / 2^exponent do not.
  int exponent = 0;
};

template <typename Scalar>
PreparedData<Scalar> prepare(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight, const char* caller) {
  PreparedData<Scalar> data;
  data.summary = detail::summarize<Scalar>(X);
  // X's finiteness, checked only when the summary's pass over it says it may be at fault.
  if (!data.summary.mean.allFinite()) detail::require_finite(X, caller, "X");
  data.weight = detail::normalized_weights<Scalar>(sample_weight, X.rows());
  if (sample_weight.size()) data.sample_weight = data.weight.template cast<Scalar>();
  // A block's statistics sum up to block_rows weighted squares; k-means' scores D products.
  const double largest_weight = data.weight.size() ? data.weight.maxCoeff() : 1.0;
  const double terms = std::max(static_cast<double>(detail::block_rows(X.cols())) * largest_weight,
                                static_cast<double>(X.cols()));
  if (!detail::representable_spread<Scalar>(data.summary, terms)) {
    // Fitted on X / 2^e instead (see fit()): exact, whatever the dtype.
    data.exponent = std::max(1, std::ilogb(data.summary.deviation.maxCoeff()));
  }
  return data;
}

/// The model of X * 2^e from that of X: means * 2^e, covariances * 4^e, factors * 2^-e, all
/// exact. @throws NumericalError when a parameter leaves Scalar's range.
template <typename Scalar>
Model<Scalar> rescaled(const Model<Scalar>& model, int exponent) {
  const auto scale = [](const Matrix<Scalar>& m, int e) {
    Matrix<Scalar> out = m.unaryExpr([e](Scalar v) { return static_cast<Scalar>(std::ldexp(v, e)); });
    if (!out.allFinite() || ((out.array() == Scalar(0)) != (m.array() == Scalar(0))).any())
      throw NumericalError(std::string("fit(): the fitted covariances are beyond the range of ") +
                           (sizeof(Scalar) == 4 ? "float32; fit X as float64, or rescale it" :
                                                  "float64; rescale X (e.g. divide each feature by its standard deviation)"));
    return out;
  };
  return Model<Scalar>::from_parameters(model.covariance_type(), model.weights(), scale(model.means(), exponent),
                                        scale(model.covariances(), 2 * exponent),
                                        scale(model.precisions_cholesky(), -exponent));
}

/// A fit of X / 2^e mapped back to X: the log-likelihoods move by -D e log 2.
template <typename Scalar>
FitResult<Scalar> rescaled(FitResult<Scalar> result, int exponent) {
  const double shift = -static_cast<double>(result.model.n_features()) * exponent * std::log(2.0);
  result.model = rescaled(result.model, exponent);
  result.lower_bound += shift;
  for (double& bound : result.lower_bounds) bound += shift;
  for (auto& init : result.inits) init.lower_bound += shift;
  return result;
}

template <typename Scalar>
Matrix<Scalar> scaled_data(MatrixCRef<Scalar> X, int exponent) {
  return X.unaryExpr([exponent](Scalar v) { return static_cast<Scalar>(std::ldexp(v, -exponent)); });
}

/// One component on each chosen sample, with covariance reg_covar * I: the statistics of
/// one-hot responsibilities on the chosen rows about themselves (what scikit-learn's k-means++
/// and random_from_data starts amount to).
template <typename Scalar>
Model<Scalar> model_on_samples(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight,
                               const std::vector<Index>& rows, const FitOptions& options) {
  const Index K = options.n_components;
  Matrix<Scalar> chosen(K, X.cols());
  Vector<Scalar> weight(sample_weight.size() ? K : 0);
  for (Index k = 0; k < K; ++k) {
    chosen.row(k) = X.row(rows[k]);
    if (weight.size()) weight[k] = sample_weight[rows[k]];
  }
  const double reg = options.reg_covar > 0.0 ? options.reg_covar : 1e-6;
  return maximization_step<Scalar>(
      statistics_from_labels<Scalar>(chosen, LabelVector::LinSpaced(K, 0, K - 1), weight, options.covariance_type, chosen),
      reg);
}

/// The starting model of one initialisation, with any given initial parameters in place.
template <typename Scalar>
Model<Scalar> initial_model(MatrixCRef<Scalar> X, const PreparedData<Scalar>& data, const FitOptions& options,
                            const InitialParameters<Scalar>& given, std::uint64_t seed, Index restart) {
  const Index n = X.rows(), K = options.n_components, D = X.cols();
  const VectorCRef<Scalar> sample_weight = data.sample_weight;
  const CovarianceType type = options.covariance_type;
  const bool all_given = given.weights.size() && given.means.size() && given.precisions.size();
  Model<Scalar> derived;
  if (!all_given) {
    switch (options.init) {
      case InitMethod::kmeans: {
        const Index sample = options.kmeans_sample_size == FitOptions::kAutomaticSample
                                 ? automatic_kmeans_sample(n, K)
                                 : options.kmeans_sample_size;
        const auto& seeds = given.kmeans_seeds;
        const KMeansResult<Scalar> km =
            seeds.size() ? detail::kmeans_from_rows<Scalar>(
                               X, std::vector<Index>(seeds.row(restart).data(), seeds.row(restart).data() + K),
                               data.weight, data.summary)
                         : detail::kmeans<Scalar>(X, K, seed, data.weight, data.summary, sample,
                                                  static_cast<int>(kmeans_start_runs(n, K, options.kmeans_sample_size)));
        // The pass behind statistics_from_labels() without its checks: X and the weights were
        // checked on entry and k-means' labels lie in range (the check read all of X again).
        detail::PassBuffers<Scalar> buffers;
        detail::accumulate_labels_pass<Scalar>(X, km.labels, sample_weight, type, km.centers, buffers);
        derived = maximization_step<Scalar>(buffers.partial[0], options.reg_covar);
        break;
      }
      case InitMethod::random: {
        const Matrix<Scalar> shift = data.summary.mean.replicate(K, 1).template cast<Scalar>();
        const Index rows = detail::block_rows(D);
        detail::PassBuffers<Scalar> buffers;
        detail::accumulate_pass<Scalar>(X, sample_weight, type, shift, buffers,
                                        [&](detail::Workspace<Scalar>& ws, const auto& X_blk, Index begin) {
                                          detail::Random rng(detail::derive_seed(seed, static_cast<std::uint64_t>(begin / rows)));
                                          ws.shape_log_prob(X_blk.rows(), K);
                                          auto& resp = ws.log_prob;
                                          for (Index i = 0; i < X_blk.rows(); ++i) {
                                            for (Index k = 0; k < K; ++k) resp(i, k) = static_cast<Scalar>(rng.uniform());
                                            resp.row(i) /= resp.row(i).sum();
                                          }
                                          return false;
                                        });
        derived = maximization_step<Scalar>(buffers.partial[0], options.reg_covar);
        break;
      }
      case InitMethod::kmeans_plusplus:
        derived = model_on_samples<Scalar>(X, sample_weight,
                                           detail::kmeans_plusplus<Scalar>(X, K, seed, data.weight, data.summary),
                                           options);
        break;
      case InitMethod::random_from_data: {
        // K distinct samples, each drawn with probability proportional to its weight.
        detail::Random rng(seed);
        Vector<double> mass = detail::weights_or_ones(data.weight, n);
        detail::require((mass.array() > 0.0).count() >= K, "fit()",
                        "random_from_data needs at least n_components samples with positive weight");
        std::vector<Index> rows;
        for (Index k = 0; k < K; ++k) {
          const double target = rng.uniform() * mass.sum();
          double running = 0.0;
          Index pick = -1;
          for (Index i = 0; i < n && pick < 0; ++i) {
            running += mass[i];
            if (mass[i] > 0.0 && running > target) pick = i;
          }
          if (pick < 0) mass.maxCoeff(&pick);
          rows.push_back(pick);
          mass[pick] = 0.0;
        }
        derived = model_on_samples<Scalar>(X, sample_weight, rows, options);
        break;
      }
    }
  }
  if (!given.weights.size() && !given.means.size() && !given.precisions.size()) return derived;
  const Vector<Scalar> weights = given.weights.size() ? given.weights : derived.weights();
  const Matrix<Scalar> means = given.means.size() ? given.means : derived.means();
  if (given.precisions.size()) return Model<Scalar>::from_precisions(type, weights, means, given.precisions);
  return Model<Scalar>::from_parameters(type, weights, means, derived.covariances(), derived.precisions_cholesky());
}

/// EM iterations from `model` until the lower bound changes by less than tol.
template <typename Scalar>
FitResult<Scalar> run_em(Model<Scalar> model, const StatisticsSource<Scalar>& source, const FitOptions& options,
                         double lower_bound) {
  return detail::run_em_over<Scalar>(std::move(model), options, lower_bound,
                                     [&](const Model<Scalar>& current) -> const SufficientStatistics& {
    const SufficientStatistics& stats = source(current);
    detail::require(stats.covariance_type == current.covariance_type() &&
                        stats.shift.rows() == current.n_components() && stats.shift.cols() == current.n_features(),
                    "em_fit()", "the source returned statistics of another type or shape than the model's");
    return stats;
  });
}

/// The in-memory source: the OpenMP E-step over X, its buffers kept across iterations.
template <typename Scalar>
StatisticsSource<Scalar> in_memory_source(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight,
                                          std::shared_ptr<detail::PassBuffers<Scalar>> buffers) {
  return [X, sample_weight, buffers](const Model<Scalar>& model) -> const SufficientStatistics& {
    detail::expectation_step(model, X, sample_weight, *buffers);
    return buffers->partial[0];
  };
}

template <typename Scalar>
void check_initial_parameters(const InitialParameters<Scalar>& given, const FitOptions& options, Index n, Index D) {
  const char* caller = "fit()";
  const Index K = options.n_components;
  if (const auto& seeds = given.kmeans_seeds; seeds.size()) {
    detail::require(options.init == InitMethod::kmeans, caller, "kmeans_seeds needs init_params='kmeans'");
    const Index sample = options.kmeans_sample_size == FitOptions::kAutomaticSample
                             ? automatic_kmeans_sample(n, K)
                             : options.kmeans_sample_size;
    detail::require(sample == 0 || sample >= n, caller, "kmeans_seeds needs k-means on all rows, not a sample");
    detail::require(kmeans_start_runs(n, K, options.kmeans_sample_size) == 1, caller,
                    "kmeans_seeds needs a start of one k-means run (kmeans_start_runs() == 1)");
    detail::require(seeds.rows() == options.n_init && seeds.cols() >= K, caller,
                    "kmeans_seeds must have n_init rows of at least n_components indices, got shape " +
                        std::to_string(seeds.rows()) + " x " + std::to_string(seeds.cols()));
    detail::require((seeds.leftCols(K).array() >= 0).all() && (seeds.leftCols(K).array() < n).all(), caller,
                    "kmeans_seeds must be row indices in [0, n_samples)");
  }
  if (given.weights.size()) detail::require_shape(given.weights, K, 1, caller, "weights_init");
  if (given.means.size()) {
    detail::require_shape(given.means, K, D, caller, "means_init");
    detail::require_finite(given.means, caller, "means_init");
  }
  if (given.precisions.size())
    detail::require_shape(given.precisions, covariance_rows(options.covariance_type, K, D),
                          covariance_cols(options.covariance_type, D), caller, "precisions_init");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void check_driver_options(const FitOptions& options, const char* caller) {
  check_options(options, std::numeric_limits<Index>::max(), caller);
}

}  // namespace

template <typename Scalar>
FitResult<Scalar> em_fit(const StatisticsSource<Scalar>& source, const InitialModel<Scalar>& initial_model,
                         const FitOptions& options) {
  const char* caller = "em_fit()";
  check_driver_options(options, caller);
  FitResult<Scalar> best;
  for (int i = 0; i < options.n_init; ++i) {
    const auto start = std::chrono::steady_clock::now();
    Model<Scalar> model = initial_model(detail::derive_seed(options.seed, static_cast<std::uint64_t>(i)));
    detail::require(model.n_components() == options.n_components && model.covariance_type() == options.covariance_type,
                    caller, "the initial model's n_components or covariance_type differs from the options");
    FitResult<Scalar> run = run_em(std::move(model), source, options, -std::numeric_limits<double>::infinity());
    detail::keep_best(best, std::move(run), static_cast<std::size_t>(i), seconds_since(start));
  }
  return best;
}

template <typename Scalar>
FitResult<Scalar> em_fit_from(const StatisticsSource<Scalar>& source, const Model<Scalar>& start,
                              const FitOptions& options, double initial_lower_bound) {
  const char* caller = "em_fit_from()";
  check_driver_options(options, caller);
  detail::require(start.n_components() == options.n_components && start.covariance_type() == options.covariance_type,
                  caller, "the starting model's n_components or covariance_type differs from the options");
  const auto begin = std::chrono::steady_clock::now();
  FitResult<Scalar> run = run_em(start, source, options, initial_lower_bound);
  run.inits.push_back({run.lower_bound, run.converged, run.n_iter, seconds_since(begin)});
  return run;
}

template <typename Scalar>
FitResult<Scalar> fit(MatrixCRef<Scalar> X, const FitOptions& options, VectorCRef<Scalar> sample_weight,
                      const InitialParameters<Scalar>& init) {
  const char* caller = "fit()";
  detail::require_data<Scalar>(X, caller, false);  // values: by prepare()
  check_options(options, X.rows(), caller);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  check_initial_parameters(init, options, X.rows(), X.cols());
  const PreparedData<Scalar> data = prepare<Scalar>(X, sample_weight, caller);
  if (data.exponent) {
    // Data whose sums of squares would overflow: fitted at a power-of-two scale, exactly.
    const int e = data.exponent;
    FitOptions scaled_options = options;
    scaled_options.reg_covar = std::ldexp(options.reg_covar, -2 * e);
    InitialParameters<Scalar> scaled_init = init;
    if (init.means.size()) scaled_init.means = scaled_data<Scalar>(init.means, e);
    if (init.precisions.size()) scaled_init.precisions = scaled_data<Scalar>(init.precisions, -2 * e);
    detail::require(scaled_init.precisions.allFinite(), caller, "precisions_init is too large for data at this scale");
    return rescaled(fit<Scalar>(scaled_data<Scalar>(X, e), scaled_options, sample_weight, scaled_init), e);
  }

  const VectorCRef<Scalar> weight = data.sample_weight;
  Index restart = 0;  // em_fit() asks for the restarts' models in order
  return em_fit<Scalar>(in_memory_source<Scalar>(X, weight, std::make_shared<detail::PassBuffers<Scalar>>()),
                        [&](std::uint64_t seed) { return initial_model(X, data, options, init, seed, restart++); },
                        options);
}

template <typename Scalar>
FitResult<Scalar> fit_from(const Model<Scalar>& start, NoDeduce<MatrixCRef<Scalar>> X, const FitOptions& options,
                           NoDeduce<VectorCRef<Scalar>> sample_weight, double initial_lower_bound) {
  const char* caller = "fit_from()";
  start.check_data(X, caller);
  check_options(options, X.rows(), caller);
  detail::require(start.n_components() == options.n_components && start.covariance_type() == options.covariance_type,
                  caller, "the starting model's n_components or covariance_type differs from the options");
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  const PreparedData<Scalar> data = prepare<Scalar>(X, sample_weight, caller);
  if (data.exponent) {
    const int e = data.exponent;
    FitOptions scaled_options = options;
    scaled_options.reg_covar = std::ldexp(options.reg_covar, -2 * e);
    const double shift = static_cast<double>(X.cols()) * e * std::log(2.0);  // log-likelihoods of X / 2^e
    return rescaled(fit_from<Scalar>(rescaled(start, -e), scaled_data<Scalar>(X, e), scaled_options, sample_weight,
                                     initial_lower_bound + shift),
                    e);
  }
  const VectorCRef<Scalar> weight = data.sample_weight;
  return em_fit_from<Scalar>(in_memory_source<Scalar>(X, weight, std::make_shared<detail::PassBuffers<Scalar>>()),
                             start, options, initial_lower_bound);
}

template FitResult<float> em_fit<float>(const StatisticsSource<float>&, const InitialModel<float>&,
                                        const FitOptions&);
template FitResult<double> em_fit<double>(const StatisticsSource<double>&, const InitialModel<double>&,
                                          const FitOptions&);
template FitResult<float> em_fit_from<float>(const StatisticsSource<float>&, const Model<float>&, const FitOptions&,
                                             double);
template FitResult<double> em_fit_from<double>(const StatisticsSource<double>&, const Model<double>&,
                                               const FitOptions&, double);
template FitResult<float> fit<float>(MatrixCRef<float>, const FitOptions&, VectorCRef<float>,
                                     const InitialParameters<float>&);
template FitResult<double> fit<double>(MatrixCRef<double>, const FitOptions&, VectorCRef<double>,
                                       const InitialParameters<double>&);
template FitResult<float> fit_from<float>(const Model<float>&, MatrixCRef<float>, const FitOptions&,
                                          VectorCRef<float>, double);
template FitResult<double> fit_from<double>(const Model<double>&, MatrixCRef<double>, const FitOptions&,
                                            VectorCRef<double>, double);

}  // namespace gaussmix
