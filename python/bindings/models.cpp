// gaussmix._gmm, models as objects: the model file, models from given parameters, marginals,
// conditionals and ICL. Type conversion only, like module.cpp; every call into the core goes
// through call_core() (GIL released, Ctrl-C honoured).

#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "core_call.hpp"
#include "gaussmix/gaussmix.hpp"

namespace py = pybind11;
using namespace py::literals;

namespace {

using namespace gaussmix_bindings;

template <typename Scalar>
py::dict parameters(const gaussmix::Model<Scalar>& model) {
  return py::dict("covariance_type"_a = gaussmix::to_string(model.covariance_type()), "weights"_a = model.weights(),
                  "means"_a = model.means(), "covariances"_a = model.covariances(),
                  "precisions"_a = model.precisions(), "precisions_cholesky"_a = model.precisions_cholesky());
}

template <typename Scalar>
py::dict load(const std::string& path) {
  const gaussmix::SavedModel<Scalar> saved = call_core([&] { return gaussmix::load_model<Scalar>(path); });
  py::dict result = parameters(saved.model);
  const auto& meta = saved.metadata;
  result["feature_names"] = meta.feature_names;
  result["n_iter"] = meta.n_iter;
  result["lower_bound"] = meta.lower_bound;
  result["converged"] = meta.converged;
  result["library_version"] = meta.library_version;
  return result;
}

template <typename Scalar>
void bind_scalar_models(py::module_& m) {
  const auto X = py::arg("X").noconvert();
  m.def(
      "save_model",
      [](const std::string& path, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> covariances, MatrixRef<Scalar> precisions_cholesky, std::vector<std::string> feature_names,
         std::int64_t n_iter, double lower_bound, bool converged) {
        call_core([&] {
          const auto model = gaussmix::model_from_stored_parameters<Scalar>(
              gaussmix::parse_covariance_type(covariance_type), weights, means, covariances, precisions_cholesky,
              "save_model()");
          gaussmix::ModelMetadata metadata;
          metadata.feature_names = std::move(feature_names);
          metadata.n_iter = n_iter;
          metadata.lower_bound = lower_bound;
          metadata.converged = converged;
          gaussmix::save_model(path, model, metadata);
        });
      },
      py::arg("path"), py::arg("covariance_type"), py::arg("weights").noconvert(), py::arg("means").noconvert(),
      py::arg("covariances").noconvert(), py::arg("precisions_cholesky").noconvert(), py::arg("feature_names"),
      py::arg("n_iter"), py::arg("lower_bound"), py::arg("converged"));

  m.def(
      "model_from",
      [](const std::string& kind, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> parameter) {
        const auto type = gaussmix::parse_covariance_type(covariance_type);
        return parameters(call_core([&] {
          if (kind == "covariances") return gaussmix::Model<Scalar>::from_covariances(type, weights, means, parameter);
          if (kind == "precisions") return gaussmix::Model<Scalar>::from_precisions(type, weights, means, parameter);
          return gaussmix::Model<Scalar>::from_precisions_cholesky(type, weights, means, parameter);
        }));
      },
      py::arg("kind"), py::arg("covariance_type"), py::arg("weights").noconvert(), py::arg("means").noconvert(),
      py::arg("parameter").noconvert(), "A model from covariances, precisions or precisions_cholesky.");

  m.def(
      "model_from_stored",
      [](const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> covariances, MatrixRef<Scalar> precisions_cholesky) {
        return parameters(call_core([&] {
          return gaussmix::model_from_stored_parameters<Scalar>(gaussmix::parse_covariance_type(covariance_type),
                                                                weights, means, covariances, precisions_cholesky,
                                                                "from_sklearn()");
        }));
      },
      py::arg("covariance_type"), py::arg("weights").noconvert(), py::arg("means").noconvert(),
      py::arg("covariances").noconvert(), py::arg("precisions_cholesky").noconvert(),
      "Validates covariances and factors given together; returns them bit for bit.");

  m.def(
      "marginal",
      [](std::vector<Index> features, const std::string& covariance_type, VectorRef<Scalar> weights,
         MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky) {
        return parameters(call_core([&] {
          return gaussmix::marginal(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky), features);
        }));
      },
      py::arg("features"), py::arg("covariance_type"), py::arg("weights").noconvert(), py::arg("means").noconvert(),
      py::arg("precisions_cholesky").noconvert());

  m.def(
      "condition",
      [](MatrixRef<Scalar> X, std::vector<Index> given, const std::string& covariance_type, VectorRef<Scalar> weights,
         MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky) {
        const gaussmix::ConditionalMixtures<Scalar> result = call_core([&] {
          return gaussmix::condition_batch(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky),
                                           given, X);
        });
        return py::dict("features"_a = result.features, "weights"_a = result.weights, "means"_a = result.means,
                        "covariances"_a = result.covariances, "precisions_cholesky"_a = result.precisions_cholesky,
                        "mean"_a = result.mean, "variance"_a = result.variance);
      },
      X, py::arg("given"), py::arg("covariance_type"), py::arg("weights").noconvert(), py::arg("means").noconvert(),
      py::arg("precisions_cholesky").noconvert(), "Conditionals given the values in each row of X.");

  m.def(
      "condition_model",
      [](VectorRef<Scalar> values, std::vector<Index> given, const std::string& covariance_type,
         VectorRef<Scalar> weights, MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky) {
        return parameters(call_core([&] {
          return gaussmix::condition(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky), given,
                                     values);
        }));
      },
      py::arg("values").noconvert(), py::arg("given"), py::arg("covariance_type"), py::arg("weights").noconvert(),
      py::arg("means").noconvert(), py::arg("precisions_cholesky").noconvert(),
      "The conditional mixture given one vector of values.");

  m.def(
      "icl",
      [](MatrixRef<Scalar> X, const std::string& covariance_type, VectorRef<Scalar> weights, MatrixRef<Scalar> means,
         MatrixRef<Scalar> precisions_cholesky) {
        return call_core(
            [&] { return gaussmix::icl(make_model<Scalar>(covariance_type, weights, means, precisions_cholesky), X); });
      },
      X, py::arg("covariance_type"), py::arg("weights"), py::arg("means"), py::arg("precisions_cholesky"));
}

}  // namespace

void bind_models(py::module_& m) {
  py::register_exception<gaussmix::FileError>(m, "FileError", PyExc_OSError);
  bind_scalar_models<double>(m);
  bind_scalar_models<float>(m);
  m.def(
      "load_model",
      [](const std::string& path) {
        const std::string dtype = call_core([&] { return gaussmix::model_file_dtype(path); });
        return dtype == "float32" ? load<float>(path) : load<double>(path);
      },
      py::arg("path"), "Parameters and metadata of a model file, in the file's dtype.");
  m.attr("MODEL_FORMAT_VERSION") = gaussmix::kModelFormatVersion;
}
