#pragma once
// k-means for EM's start, on data already checked and summarised by the caller (fit()).

#include <vector>

#include "data_summary.hpp"
#include "gaussmix/fit.hpp"

namespace gaussmix::detail {

/// A restarted k-means start (kmeans_start_runs(), defined with kmeans()): kStartRuns runs, on
/// kRestartRowsPerCluster rows per cluster when all rows were asked for.
constexpr Index kStartRuns = 3;
constexpr Index kRestartRowsPerCluster = 256;

/// Lloyd's k-means (scikit-learn's defaults: 300 iterations, tol 1e-4) from a k-means++ seeding,
/// in coordinates about summary.mean; `weight` as from normalized_weights() (empty: every weight
/// one). With 0 < sample_size < n_samples, k-means runs on that many rows drawn uniformly, and
/// the labels are every row's nearest center of that sample's solution (its inertia likewise;
/// n_iter counts the sample's).
/// With runs > 1 (kmeans_start_runs()), that many k-means from their own seedings, and the one
/// of least inertia is kept: on the sample, or with all rows asked for on kRestartRowsPerCluster
/// rows per cluster, Lloyd's iterations on all rows then continuing from the best.
template <typename Scalar>
KMeansResult<Scalar> kmeans(const MatrixCRef<Scalar>& X, Index n_clusters, std::uint64_t seed,
                            const Vector<double>& weight, const DataSummary& summary, Index sample_size = 0,
                            int runs = 1);

/// kmeans() on all rows from the given rows instead of a seeding (InitialParameters::kmeans_seeds).
template <typename Scalar>
KMeansResult<Scalar> kmeans_from_rows(const MatrixCRef<Scalar>& X, const std::vector<Index>& seeds,
                                      const Vector<double>& weight, const DataSummary& summary);

/// Greedy k-means++ seeding about summary.mean; the indices of the chosen rows.
template <typename Scalar>
std::vector<Index> kmeans_plusplus(const MatrixCRef<Scalar>& X, Index n_clusters, std::uint64_t seed,
                                   const Vector<double>& weight, const DataSummary& summary);

}  // namespace gaussmix::detail
