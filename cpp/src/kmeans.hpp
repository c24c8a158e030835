#pragma once
// k-means for EM's start, on data already checked and summarised by the caller (fit()).

#include <vector>

#include "data_summary.hpp"
#include "gaussmix/fit.hpp"

namespace gaussmix::detail {

/// Lloyd's k-means (scikit-learn's defaults: 300 iterations, tol 1e-4) from a k-means++ seeding,
/// in coordinates about summary.mean; `weight` as from normalized_weights().
template <typename Scalar>
KMeansResult<Scalar> kmeans(const MatrixCRef<Scalar>& X, Index n_clusters, std::uint64_t seed,
                            const Vector<double>& weight, const DataSummary& summary);

/// Greedy k-means++ seeding about summary.mean; the indices of the chosen rows.
template <typename Scalar>
std::vector<Index> kmeans_plusplus(const MatrixCRef<Scalar>& X, Index n_clusters, std::uint64_t seed,
                                   const Vector<double>& weight, const DataSummary& summary);

}  // namespace gaussmix::detail
