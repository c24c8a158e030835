// gaussmix._gmm: type conversion between NumPy and the C++ core, nothing else.
//
// Every function is stateless: fitted parameters live in NumPy arrays on the Python side and a
// Model is rebuilt from them per call. Absent optional arrays are passed as empty arrays.
// The GIL is released around every call into the core, which polls for Ctrl-C (call_core()).

#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>

#include "core_call.hpp"
#include "gaussmix/detail/random.hpp"
#include "gaussmix/gaussmix.hpp"

namespace py = pybind11;
using namespace py::literals;

namespace {

using namespace gaussmix_bindings;

/// Statistics as a dict of plain arrays (picklable; what chunk and Dask sources pass around).
py::dict statistics_to_dict(const gaussmix::SufficientStatistics& stats) {
  return py::dict("covariance_type"_a = gaussmix::to_string(stats.covariance_type), "shift"_a = stats.shift,
                  "resp_sum"_a = stats.resp_sum, "first"_a = stats.first, "second"_a = stats.second,
                  "log_likelihood_sum"_a = stats.log_likelihood_sum, "weight_sum"_a = stats.weight_sum);
}

gaussmix::SufficientStatistics statistics_from_dict(const py::dict& d) {
  gaussmix::SufficientStatistics stats;
  stats.covariance_type = gaussmix::parse_covariance_type(d["covariance_type"].cast<std::string>());
  stats.shift = d["shift"].cast<gaussmix::Matrix<double>>();
  stats.resp_sum = d["resp_sum"].cast<gaussmix::Vector<double>>();
  stats.first = d["first"].cast<gaussmix::Matrix<double>>();
  stats.second = d["second"].cast<gaussmix::Matrix<double>>();
  stats.log_likelihood_sum = d["log_likelihood_sum"].cast<double>();
  stats.weight_sum = d["weight_sum"].cast<double>();
  stats.check("statistics");
  return stats;
}

template <typename Scalar>
py::dict fit_result_to_dict(const gaussmix::FitResult<Scalar>& result) {
  py::list inits;
  for (const auto& init : result.inits)
    inits.append(py::dict("lower_bound"_a = init.lower_bound, "converged"_a = init.converged,
                          "n_iter"_a = init.n_iter, "seconds"_a = init.seconds));
  const auto& model = result.model;
  return py::dict("weights"_a = model.weights(), "means"_a = model.means(), "covariances"_a = model.covariances(),
                  "precisions"_a = model.precisions(), "precisions_cholesky"_a = model.precisions_cholesky(),
                  "converged"_a = result.converged, "n_iter"_a = result.n_iter,
                  "lower_bound"_a = result.lower_bound, "lower_bounds"_a = result.lower_bounds, "inits"_a = inits);
}

/// Binds `name`(X, covariance_type, weights, means, precisions_cholesky, extra...) to a const
/// method of the model those parameters make.
template <typename Scalar, typename Result, typename... Extra>
void def_model_method(py::module_& m, const char* name,
                      Result (gaussmix::Model<Scalar>::*method)(MatrixRef<Scalar>, Extra...) const,
                      std::initializer_list<const char*> extra_names = {}) {
  auto function = [method](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights,
                           MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky, Extra... extra) {
    return call_core([&] {
      return (make_model<Scalar>(covariance_type, weights, means, precisions_cholesky).*method)(X, extra...);
    });
  };
  static_assert(sizeof...(Extra) <= 1, "one extra argument at most");
  if constexpr (sizeof...(Extra) == 0) {
    m.def(name, function, py::arg("X").noconvert(), py::arg("covariance_type"), py::arg("weights"), py::arg("means"),
          py::arg("precisions_cholesky"));
  } else {
    m.def(name, function, py::arg("X").noconvert(), py::arg("covariance_type"), py::arg("weights"), py::arg("means"),
          py::arg("precisions_cholesky"), py::arg(*extra_names.begin()));
  }
}

gaussmix::FitOptions fit_options(Index n_components, const std::string& covariance_type, double tol,
                                 double reg_covar, int max_iter, int n_init, const std::string& init_params,
                                 std::uint64_t seed, Index kmeans_sample_size = gaussmix::FitOptions::kAutomaticSample) {
  gaussmix::FitOptions options;
  options.n_components = n_components;
  options.covariance_type = gaussmix::parse_covariance_type(covariance_type);
  options.tol = tol;
  options.reg_covar = reg_covar;
  options.max_iter = max_iter;
  options.n_init = n_init;
  options.init = gaussmix::parse_init_method(init_params);
  options.seed = seed;
  options.kmeans_sample_size = kmeans_sample_size;
  return options;
}

/// Options of a warm start: the starting model fixes n_components and covariance_type.
template <typename Scalar>
gaussmix::FitOptions continue_options(const gaussmix::Model<Scalar>& start, double tol, double reg_covar,
                                      int max_iter) {
  gaussmix::FitOptions options;
  options.n_components = start.n_components();
  options.covariance_type = start.covariance_type();
  options.tol = tol;
  options.reg_covar = reg_covar;
  options.max_iter = max_iter;
  return options;
}

template <typename Scalar>
py::dict model_to_dict(const gaussmix::Model<Scalar>& model) {
  return py::dict("weights"_a = model.weights(), "means"_a = model.means(), "covariances"_a = model.covariances(),
                  "precisions"_a = model.precisions(), "precisions_cholesky"_a = model.precisions_cholesky());
}

/// The driver over Python callables, converted to the core's function types: each call takes
/// the GIL back, converts the model to arrays and the returned dict to statistics.
template <typename Scalar>
py::dict em_over_python(const py::function& statistics, const py::function& initial,
                        const gaussmix::FitOptions& options, const py::object& start, double lower_bound) {
  using Model = gaussmix::Model<Scalar>;
  const std::string type = gaussmix::to_string(options.covariance_type);
  gaussmix::SufficientStatistics held;
  const gaussmix::StatisticsSource<Scalar> source = [&](const Model& model) -> const gaussmix::SufficientStatistics& {
    py::gil_scoped_acquire acquire;
    held = statistics_from_dict(
        statistics(model.weights(), model.means(), model.precisions_cholesky()).template cast<py::dict>());
    return held;
  };
  const auto to_model = [&](const py::handle& parameters) {
    const auto t = parameters.cast<py::tuple>();
    return make_model<Scalar>(type, t[0].cast<gaussmix::Vector<Scalar>>(), t[1].cast<gaussmix::Matrix<Scalar>>(),
                              t[2].cast<gaussmix::Matrix<Scalar>>());
  };
  const gaussmix::InitialModel<Scalar> initial_model = [&](std::uint64_t seed) {
    py::gil_scoped_acquire acquire;
    return to_model(initial(seed));
  };
  if (start.is_none())
    return fit_result_to_dict(call_core([&] { return gaussmix::em_fit<Scalar>(source, initial_model, options); }));
  const Model first = to_model(start);
  return fit_result_to_dict(
      call_core([&] { return gaussmix::em_fit_from<Scalar>(source, first, options, lower_bound); }));
}

template <typename Scalar>
void bind_scalar(py::module_& m) {
  // X is never converted: the Python layer passes C-contiguous float32 or float64, which picks
  // the overload; everything else may be converted to X's type.
  const auto X = py::arg("X").noconvert();
  using Model = gaussmix::Model<Scalar>;

  m.def(
      "fit",
      [](MatrixRef<Scalar> X, Index n_components, const std::string& covariance_type, double tol, double reg_covar,
         int max_iter, int n_init, const std::string& init_params, std::uint64_t seed,
         VectorRef<Scalar> sample_weight, VectorRef<Scalar> weights_init, MatrixRef<Scalar> means_init,
         MatrixRef<Scalar> precisions_init, Index kmeans_sample_size, const IndexMatrix& kmeans_seeds,
         bool score_data) {
        const auto options = fit_options(n_components, covariance_type, tol, reg_covar, max_iter, n_init,
                                         init_params, seed, kmeans_sample_size);
        gaussmix::InitialParameters<Scalar> init{weights_init, means_init, precisions_init, kmeans_seeds};
        double score = 0.0;
        py::dict result = fit_result_to_dict(call_core([&] {
          auto fitted = gaussmix::fit<Scalar>(X, options, sample_weight, init);
          if (score_data) score = fitted.model.score(X, gaussmix::Vector<Scalar>());
          return fitted;
        }));
        if (score_data) result["score"] = score;
        return result;
      },
      X, py::arg("n_components"), py::arg("covariance_type"), py::arg("tol"), py::arg("reg_covar"),
      py::arg("max_iter"), py::arg("n_init"), py::arg("init_params"), py::arg("seed"), py::arg("sample_weight"),
      py::arg("weights_init"), py::arg("means_init"), py::arg("precisions_init"),
      py::arg("kmeans_sample_size") = gaussmix::FitOptions::kAutomaticSample, py::arg("kmeans_seeds") = IndexMatrix(),
      py::arg("score_data") = false,
      "EM fit with restarts; empty arrays mean 'not given'; kmeans_sample_size -1 is automatic, 0 all rows; "
      "kmeans_seeds: rows to start k-means from, one row per restart (see InitialParameters); score_data: "
      "also 'score', the mean log-likelihood of X under the fitted model (unweighted), without rebuilding it.");

  m.def(
      "fit_from",
      [](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> precisions_cholesky, double tol, double reg_covar, int max_iter,
         VectorRef<Scalar> sample_weight, double lower_bound) {
        return fit_result_to_dict(call_core([&] {
          const auto start = make_model<Scalar>(covariance_type, weights, means, precisions_cholesky);
          const auto options = continue_options(start, tol, reg_covar, max_iter);
          return gaussmix::fit_from<Scalar>(start, X, options, sample_weight, lower_bound);
        }));
      },
      X, py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"),
      py::arg("tol"), py::arg("reg_covar"), py::arg("max_iter"), py::arg("sample_weight"), py::arg("lower_bound"),
      "Continue EM from given parameters (warm start).");

  m.def(
      "expectation_step",
      [](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> precisions_cholesky, VectorRef<Scalar> sample_weight) {
        return statistics_to_dict(call_core([&] {
          return gaussmix::expectation_step(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky), X,
                                            sample_weight);
        }));
      },
      X, py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"),
      py::arg("sample_weight"), "Statistics of X under the posteriors of the model (dict of arrays).");

  m.def(
      "statistics_from_responsibilities",
      [](MatrixRef<Scalar> X, MatrixRef<Scalar> resp, VectorRef<Scalar> sample_weight,
         const std::string& covariance_type, MatrixRef<Scalar> shift) {
        const auto type = gaussmix::parse_covariance_type(covariance_type);
        return statistics_to_dict(call_core(
            [&] { return gaussmix::statistics_from_responsibilities<Scalar>(X, resp, sample_weight, type, shift); }));
      },
      X, py::arg("resp"), py::arg("sample_weight"), py::arg("covariance_type"), py::arg("shift"));

  m.def(
      "statistics_from_labels",
      [](MatrixRef<Scalar> X, const gaussmix::LabelVector& labels, VectorRef<Scalar> sample_weight,
         const std::string& covariance_type, MatrixRef<Scalar> shift) {
        const auto type = gaussmix::parse_covariance_type(covariance_type);
        return statistics_to_dict(call_core(
            [&] { return gaussmix::statistics_from_labels<Scalar>(X, labels, sample_weight, type, shift); }));
      },
      X, py::arg("labels"), py::arg("sample_weight"), py::arg("covariance_type"), py::arg("shift"));

  m.def(
      "kmeans_plusplus",
      [](MatrixRef<Scalar> X, Index n_clusters, std::uint64_t seed, VectorRef<Scalar> sample_weight) {
        return call_core([&] { return gaussmix::kmeans_plusplus<Scalar>(X, n_clusters, seed, sample_weight); });
      },
      X, py::arg("n_clusters"), py::arg("seed"), py::arg("sample_weight"), "Rows chosen by greedy k-means++.");

  def_model_method<Scalar>(m, "score_samples", &Model::score_samples);
  def_model_method<Scalar>(m, "weighted_log_prob", &Model::weighted_log_prob);
  def_model_method<Scalar>(m, "predict_proba", &Model::predict_proba);
  def_model_method<Scalar>(m, "predict", &Model::predict);
  def_model_method<Scalar>(m, "score", &Model::score, {"sample_weight"});

  m.def(
      "sample",
      [](Index n_samples, std::uint64_t seed, const std::string& covariance_type, VectorRef<Scalar> weights,
         MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky) {
        const auto drawn = call_core(
            [&] { return make_model<Scalar>(covariance_type, weights, means, precisions_cholesky).sample(n_samples, seed); });
        return py::make_tuple(drawn.X, drawn.labels);
      },
      py::arg("n_samples"), py::arg("seed"), py::arg("covariance_type"), py::arg("weights").noconvert(),
      py::arg("means").noconvert(), py::arg("precisions_cholesky").noconvert(),
      "n_samples draws and their component labels.");

  m.def(
      "kmeans",
      [](MatrixRef<Scalar> X, Index n_clusters, std::uint64_t seed, VectorRef<Scalar> sample_weight, int max_iter,
         double tol) {
        const auto result =
            call_core([&] { return gaussmix::kmeans<Scalar>(X, n_clusters, seed, sample_weight, max_iter, tol); });
        return py::dict("centers"_a = result.centers, "labels"_a = result.labels, "inertia"_a = result.inertia,
                        "n_iter"_a = result.n_iter);
      },
      X, py::arg("n_clusters"), py::arg("seed"), py::arg("sample_weight"), py::arg("max_iter") = 300,
      py::arg("tol") = 1e-4, "Lloyd's k-means with k-means++ seeding.");

  m.def(
      "kmeans_start",
      [](MatrixRef<Scalar> X, Index n_clusters, std::uint64_t seed, VectorRef<Scalar> sample_weight) {
        const auto result = call_core([&] { return gaussmix::kmeans_start<Scalar>(X, n_clusters, seed, sample_weight); });
        return py::dict("centers"_a = result.centers, "labels"_a = result.labels, "inertia"_a = result.inertia,
                        "n_iter"_a = result.n_iter);
      },
      X, py::arg("n_clusters"), py::arg("seed"), py::arg("sample_weight"),
      "The k-means of fit()'s kmeans start on all of X (restarts as kmeans_start_runs()).");
}

/// Missing values (NaN entries, see gaussmix/missing.hpp): the same conversions as bind_scalar().
template <typename Scalar>
void bind_missing(py::module_& m) {
  const auto X = py::arg("X").noconvert();

  m.def(
      "fit_missing",
      [](MatrixRef<Scalar> X, Index n_components, const std::string& covariance_type, double tol, double reg_covar,
         int max_iter, int n_init, const std::string& init_params, std::uint64_t seed,
         VectorRef<Scalar> sample_weight, VectorRef<Scalar> weights_init, MatrixRef<Scalar> means_init,
         MatrixRef<Scalar> precisions_init) {
        const auto options =
            fit_options(n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params, seed);
        gaussmix::InitialParameters<Scalar> init{weights_init, means_init, precisions_init};
        return fit_result_to_dict(
            call_core([&] { return gaussmix::fit_missing<Scalar>(X, options, sample_weight, init); }));
      },
      X, py::arg("n_components"), py::arg("covariance_type"), py::arg("tol"), py::arg("reg_covar"),
      py::arg("max_iter"), py::arg("n_init"), py::arg("init_params"), py::arg("seed"), py::arg("sample_weight"),
      py::arg("weights_init"), py::arg("means_init"), py::arg("precisions_init"),
      "EM fit of X with NaN entries (marginal likelihood, expected statistics).");

  m.def(
      "fit_from_missing",
      [](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> precisions_cholesky, double tol, double reg_covar, int max_iter,
         VectorRef<Scalar> sample_weight, double lower_bound) {
        return fit_result_to_dict(call_core([&] {
          const auto start = make_model<Scalar>(covariance_type, weights, means, precisions_cholesky);
          const auto options = continue_options(start, tol, reg_covar, max_iter);
          return gaussmix::fit_from_missing<Scalar>(start, X, options, sample_weight, lower_bound);
        }));
      },
      X, py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"),
      py::arg("tol"), py::arg("reg_covar"), py::arg("max_iter"), py::arg("sample_weight"), py::arg("lower_bound"),
      "Continue EM on X with NaN entries from given parameters (warm start).");

  // Functions of (X, model): one signature, bound from a table.
  const auto bind_scoring = [&](const char* name, auto function) {
    m.def(
        name,
        [function](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights,
                   MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky) {
          return call_core(
              [&] { return function(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky), X); });
        },
        py::arg("X").noconvert(), py::arg("covariance_type"), py::arg("weights"), py::arg("means"),
        py::arg("precisions_cholesky"));
  };
  using Model = gaussmix::Model<Scalar>;
  bind_scoring("score_samples_missing", [](const Model& model, MatrixRef<Scalar> X) {
    return gaussmix::score_samples_missing<Scalar>(model, X);
  });
  bind_scoring("weighted_log_prob_missing", [](const Model& model, MatrixRef<Scalar> X) {
    return gaussmix::weighted_log_prob_missing<Scalar>(model, X);
  });
  bind_scoring("predict_proba_missing", [](const Model& model, MatrixRef<Scalar> X) {
    return gaussmix::predict_proba_missing<Scalar>(model, X);
  });
  bind_scoring("predict_missing", [](const Model& model, MatrixRef<Scalar> X) {
    return gaussmix::predict_missing<Scalar>(model, X);
  });
  bind_scoring("impute", [](const Model& model, MatrixRef<Scalar> X) { return gaussmix::impute<Scalar>(model, X); });

  m.def(
      "score_missing",
      [](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> precisions_cholesky, VectorRef<Scalar> sample_weight) {
        return call_core([&] {
          return gaussmix::score_missing<Scalar>(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky),
                                                 X, sample_weight);
        });
      },
      X, py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"),
      py::arg("sample_weight"));

  m.def(
      "impute_sample",
      [](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> precisions_cholesky, std::uint64_t seed) {
        return call_core([&] {
          return gaussmix::impute_sample<Scalar>(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky),
                                                 X, seed);
        });
      },
      X, py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"),
      py::arg("seed"));
}

}  // namespace

void bind_models(py::module_& m);  // models.cpp: model files, parameters, conditioning, ICL

#ifndef GAUSSMIX_NATIVE_BUILD
#define GAUSSMIX_NATIVE_BUILD 0  // 1 when compiled with -march=native (GAUSSMIX_NATIVE=ON)
#endif

#ifndef GAUSSMIX_MODULE_NAME
#define GAUSSMIX_MODULE_NAME _gmm
#endif

PYBIND11_MODULE(GAUSSMIX_MODULE_NAME, m) {
  m.doc() = "gaussmix C++ core: EM for Gaussian mixtures (float32 and float64).";
  py::register_exception<gaussmix::NumericalError>(m, "NumericalError", PyExc_ValueError);

  bind_scalar<double>(m);
  bind_scalar<float>(m);
  bind_models(m);
  bind_missing<double>(m);
  bind_missing<float>(m);

  m.def(
      "merge_statistics",
      [](const py::dict& a, const py::dict& b) {
        auto total = statistics_from_dict(a);
        total.merge(statistics_from_dict(b));
        return statistics_to_dict(total);
      },
      py::arg("a"), py::arg("b"), "The statistics of both chunks (their shifts must be equal).");
  m.def(
      "recentred_statistics",
      [](const py::dict& stats, const gaussmix::Matrix<double>& shift) {
        return statistics_to_dict(statistics_from_dict(stats).recentred(shift));
      },
      py::arg("stats"), py::arg("shift"));
  m.def(
      "maximization_step",
      [](const py::dict& stats, double reg_covar, const std::string& dtype) {
        const auto parsed = statistics_from_dict(stats);
        if (dtype == "float32") return model_to_dict(call_core([&] { return gaussmix::maximization_step<float>(parsed, reg_covar); }));
        return model_to_dict(call_core([&] { return gaussmix::maximization_step<double>(parsed, reg_covar); }));
      },
      py::arg("stats"), py::arg("reg_covar"), py::arg("dtype"), "Parameters from statistics (dict of arrays).");
  m.def(
      "em_fit",
      [](const std::string& dtype, py::function statistics, py::function initial, Index n_components,
         const std::string& covariance_type, double tol, double reg_covar, int max_iter, int n_init,
         std::uint64_t seed, py::object start, double lower_bound) {
        const auto options =
            fit_options(n_components, covariance_type, tol, reg_covar, max_iter, n_init, "kmeans", seed);
        if (dtype == "float32") return em_over_python<float>(statistics, initial, options, start, lower_bound);
        return em_over_python<double>(statistics, initial, options, start, lower_bound);
      },
      py::arg("dtype"), py::arg("statistics"), py::arg("initial"), py::arg("n_components"), py::arg("covariance_type"),
      py::arg("tol"), py::arg("reg_covar"), py::arg("max_iter"), py::arg("n_init"), py::arg("seed"),
      py::arg("start") = py::none(), py::arg("lower_bound") = -std::numeric_limits<double>::infinity(),
      "The core's EM driver over a Python source of statistics: statistics(weights, means, "
      "precisions_cholesky) -> dict and initial(seed) -> (weights, means, precisions_cholesky).");

  m.def("kmeans_plusplus_trials", &gaussmix::kmeans_plusplus_trials, py::arg("n_clusters"),
        "Candidates greedy k-means++ tries per step.");
  m.def("automatic_kmeans_sample", &gaussmix::automatic_kmeans_sample, py::arg("n_samples"), py::arg("n_clusters"),
        "Rows of the automatic k-means sample (0: all rows).");
  m.def("kmeans_start_runs", &gaussmix::kmeans_start_runs, py::arg("n_samples"), py::arg("n_clusters"),
        py::arg("kmeans_sample_size"), "Runs of k-means the kmeans start keeps the best of (-1: automatic sample).");
  m.def("derive_seed", &gaussmix::detail::derive_seed, py::arg("seed"), py::arg("index"),
        "The seed em_fit gives restart `index` of a fit seeded with `seed`.");
  m.def("n_parameters", [](const std::string& covariance_type, Index n_components, Index n_features) {
    return gaussmix::n_parameters(gaussmix::parse_covariance_type(covariance_type), n_components, n_features);
  });
  m.def("build_info", []() {
    const auto info = gaussmix::build_info();
    return py::dict("version"_a = GAUSSMIX_VERSION, "openmp"_a = info.openmp, "max_threads"_a = info.max_threads,
                    "simd"_a = info.simd, "eigen"_a = info.eigen_version,
                    "cpu_supports"_a = info.cpu_supports, "native"_a = GAUSSMIX_NATIVE_BUILD != 0);
  });
  m.def("measure_exp_throughput", []() {
    const auto rate = gaussmix::measure_exp_throughput();
    return py::dict("float64_seconds"_a = rate.float64_seconds, "float32_seconds"_a = rate.float32_seconds);
  }, "Seconds per value of the E-step's vectorised exp() on one thread, timed now (for benchmarks).");
  m.attr("__version__") = GAUSSMIX_VERSION;
}
