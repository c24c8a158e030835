#pragma once
// Precondition checks shared by the public entry points. Each throws InvalidArgument with a
// message naming the caller and the offending argument.

#include <sstream>
#include <string>

#include "gaussmix/errors.hpp"
#include "gaussmix/types.hpp"

namespace gaussmix::detail {

inline std::string shape(Index rows, Index cols) {
  std::ostringstream out;
  out << "(" << rows << ", " << cols << ")";
  return out.str();
}

[[noreturn]] inline void fail(const char* caller, const std::string& message) {
  throw InvalidArgument(std::string(caller) + ": " + message);
}

inline void require(bool condition, const char* caller, const std::string& message) {
  if (!condition) fail(caller, message);
}

/// True when no entry is NaN or infinite: x - x is 0 for a finite x and NaN otherwise, and a
/// sum keeps a NaN, so this is one vectorised reduction. Eigen 3.4's allFinite() ends in a
/// coefficient-at-a-time all() with a branch per entry, which took a tenth of a W5 M-step.
template <typename Derived>
bool all_finite(const Eigen::DenseBase<Derived>& values) {
  const auto& array = values.derived().array();
  return (array - array).sum() == 0;
}

template <typename Derived>
void require_finite(const Eigen::DenseBase<Derived>& values, const char* caller,
                    const char* name) {
  require(all_finite(values), caller, std::string(name) + " contains NaN or infinity");
}

template <typename Derived>
void require_shape(const Eigen::DenseBase<Derived>& values, Index rows, Index cols,
                   const char* caller, const char* name) {
  if (values.rows() != rows || values.cols() != cols)
    fail(caller, std::string(name) + " has shape " + shape(values.rows(), values.cols()) +
                     ", expected " + shape(rows, cols));
}

/// X must be non-empty and finite.
template <typename Scalar>
void require_data(const MatrixCRef<Scalar>& X, const char* caller, bool check_values = true) {
  require(X.rows() > 0 && X.cols() > 0, caller,
          "X has shape " + shape(X.rows(), X.cols()) + ", expected at least one sample and one feature");
  if (check_values) require_finite(X, caller, "X");
}

/// sample_weight must be empty (no weights) or (n_samples,), finite, non-negative, not all zero.
template <typename Scalar>
void require_sample_weight(const VectorCRef<Scalar>& weight, Index n_samples, const char* caller) {
  if (weight.size() == 0) return;
  if (weight.size() != n_samples) {
    std::ostringstream out;
    out << "sample_weight has " << weight.size() << " entries, expected n_samples = " << n_samples;
    fail(caller, out.str());
  }
  require_finite(weight, caller, "sample_weight");
  require((weight.array() >= Scalar(0)).all(), caller, "sample_weight has negative entries");
  require(weight.template cast<double>().sum() > 0.0, caller, "sample_weight sums to zero");
}

}  // namespace gaussmix::detail
