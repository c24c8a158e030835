#pragma once
// What both binding files share: the Eigen reference types they accept, a Model from the
// Python side's parameter arrays, and call_core(), the GIL-free, interruptible call into the core.

#include <pybind11/pybind11.h>

#include <string>

#include "gaussmix/gaussmix.hpp"

namespace gaussmix_bindings {

namespace py = pybind11;
using gaussmix::Index;

template <typename Scalar>
using MatrixRef = gaussmix::MatrixCRef<Scalar>;
template <typename Scalar>
using VectorRef = gaussmix::VectorCRef<Scalar>;
using IndexMatrix = decltype(gaussmix::InitialParameters<double>::kmeans_seeds);

template <typename Scalar>
gaussmix::Model<Scalar> make_model(const std::string& covariance_type, VectorRef<Scalar> weights,
                                   MatrixRef<Scalar> means, MatrixRef<Scalar> precisions_cholesky) {
  return gaussmix::Model<Scalar>::from_precisions_cholesky(gaussmix::parse_covariance_type(covariance_type),
                                                           weights, means, precisions_cholesky);
}

/// Runs `work` (a pure C++ call) with the GIL released and Ctrl-C honoured: the core calls the
/// hook from this thread between blocks of work, the hook runs Python's signal handlers, and an
/// interrupt surfaces as the exception they raised (KeyboardInterrupt).
template <typename Work>
auto call_core(Work&& work) -> decltype(work()) {
  try {
    py::gil_scoped_release release;
    gaussmix::ScopedInterruptHook hook([] {
      py::gil_scoped_acquire acquire;
      return PyErr_CheckSignals() != 0;
    });
    return work();
  } catch (const gaussmix::Interrupted&) {
    throw py::error_already_set();  // the GIL is held again here
  }
}

}  // namespace gaussmix_bindings
