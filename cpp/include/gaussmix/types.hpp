#pragma once
/// @file types.hpp
/// Matrix aliases shared by the whole library. Data is (n_samples, n_features), row-major, in
/// both C++ and Python, so NumPy arrays map onto these types without copies.

#include <Eigen/Core>
#include <cstdint>

namespace gaussmix {

using Index = Eigen::Index;

template <typename Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// Read-only views accepted by every entry point (a contiguous row-major block, no copy).
template <typename Scalar>
using MatrixCRef = Eigen::Ref<const Matrix<Scalar>>;
template <typename Scalar>
using VectorCRef = Eigen::Ref<const Vector<Scalar>>;

/// Excludes a parameter from template argument deduction, so a function taking a Model<Scalar>
/// also accepts plain matrices (converted to Ref) for its data arguments.
template <typename T>
struct NonDeduced {
  using type = T;
};
template <typename T>
using NoDeduce = typename NonDeduced<T>::type;

using LabelVector = Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>;

}  // namespace gaussmix
