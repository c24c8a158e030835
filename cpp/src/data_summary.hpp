#pragma once
// Where the data sit and how far they spread: the per-feature shift that k-means works about,
// and the check that sums of squares about it stay representable in the data's type.

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <vector>

#include "checks.hpp"
#include "parallel.hpp"

namespace gaussmix::detail {

struct DataSummary {
  Eigen::RowVectorXd mean;      // (D) column means: the shift
  Eigen::RowVectorXd variance;  // (D) column variances about the mean
  Eigen::RowVectorXd deviation; // (D) largest |x - mean| per column
};

/// Calls visit(t, value) for every value of rows [begin, end) of X, t its position in a run of
/// `width` values, a multiple of D, so that t % D is its feature. Contiguous rows are one flat
/// array, visited in runs of `width` by a loop the compiler vectorises whatever D is; a row at a
/// time, each feature's sum was a chain of dependent adds when D is small (W1, D = 2: 3.6 ms for
/// the two passes of summarize() over 1M rows, with 1.6 ms more for a separate finiteness check).
template <typename Scalar, typename Visit>
void visit_values(const MatrixCRef<Scalar>& X, Index begin, Index end, Index width, Visit&& visit) {
  const Index D = X.cols();
  if (X.outerStride() != D) {
    for (Index i = begin; i < end; ++i) {
      const Scalar* x = X.data() + i * X.outerStride();
      for (Index d = 0; d < D; ++d) visit(d, x[d]);
    }
    return;
  }
  const Scalar* x = X.data() + begin * D;
  const Index n = (end - begin) * D;
  Index j = 0;
  for (; j + width <= n; j += width)
    for (Index t = 0; t < width; ++t) visit(t, x[j + t]);
  for (Index t = 0; j + t < n; ++t) visit(t, x[j + t]);
}

/// Column means, variances and largest deviations of X, in double, in two blocked passes. Any
/// NaN or infinity in X makes the mean non-finite (so do sums that overflow).
template <typename Scalar>
DataSummary summarize(const MatrixCRef<Scalar>& X) {
  const Index n = X.rows(), D = X.cols();
  const Index rows = block_rows(D);
  const int n_threads = threads_for(n, rows);
  // Per thread, `width` accumulators of each kind: position t collects feature t % D.
  const Index width = D * std::max<Index>(1, (16 + D - 1) / D);
  const auto fold = [&](const std::vector<Eigen::RowVectorXd>& partial, bool largest) {
    Eigen::RowVectorXd out = Eigen::RowVectorXd::Zero(D);
    for (const auto& run : partial)
      for (Index t = 0; t < width; ++t) out[t % D] = largest ? std::max(out[t % D], run[t]) : out[t % D] + run[t];
    return out;
  };
  std::vector<Eigen::RowVectorXd> sums(n_threads, Eigen::RowVectorXd::Zero(width));
  for_each_block(n, rows, n_threads, [&](int t, Index begin, Index end) {
    double* sum = sums[t].data();
    visit_values<Scalar>(X, begin, end, width, [&](Index j, Scalar value) { sum[j] += static_cast<double>(value); });
  });
  DataSummary summary;
  summary.mean = fold(sums, false) / static_cast<double>(n);
  Eigen::RowVectorXd mean(width);
  for (Index t = 0; t < width; ++t) mean[t] = summary.mean[t % D];
  std::vector<Eigen::RowVectorXd> squares(n_threads, Eigen::RowVectorXd::Zero(width));
  std::vector<Eigen::RowVectorXd> largest(n_threads, Eigen::RowVectorXd::Zero(width));
  for_each_block(n, rows, n_threads, [&](int t, Index begin, Index end) {
    double *square = squares[t].data(), *large = largest[t].data();
    const double* centre = mean.data();
    visit_values<Scalar>(X, begin, end, width, [&](Index j, Scalar value) {
      const double centred = static_cast<double>(value) - centre[j];
      square[j] += centred * centred;
      large[j] = std::max(large[j], std::abs(centred));
    });
  });
  summary.variance = fold(squares, false) / static_cast<double>(n);
  summary.deviation = fold(largest, true);
  return summary;
}

/// sample_weight scaled to mean one, in double: no result depends on the weights' units, and
/// their sums cannot overflow, even for weights near the largest double. Empty when
/// sample_weight is (every weight one): 10^6 ones are 8 MB that a fit would write and, as malloc
/// returns such blocks to the system between fits, fault in afresh every time (~2.5 us a page).
template <typename Scalar>
Vector<double> normalized_weights(const VectorCRef<Scalar>& sample_weight, Index n) {
  if (sample_weight.size() == 0) return Vector<double>();
  // Written block by block on the thread pool, so that the threads fault its pages in together.
  Vector<double> weight(n);
  const Index rows = block_rows(1);
  for_each_block(n, rows, threads_for(n, rows), [&](int, Index begin, Index end) {
    weight.segment(begin, end - begin) = sample_weight.segment(begin, end - begin).template cast<double>();
  });
  weight /= weight.maxCoeff();
  weight *= static_cast<double>(n) / weight.sum();
  return weight;
}

/// `weight` from normalized_weights() with every one of its n values stored (ones when it is
/// empty), for the places that sample rows by their mass: k-means++ and random_from_data.
inline Vector<double> weights_or_ones(const Vector<double>& weight, Index n) {
  return weight.size() ? weight : Vector<double>::Ones(n);
}

/// True when sums of `terms` weighted squares of X's deviations stay within Scalar's range
/// (the statistics of one block, k-means' distances).
template <typename Scalar>
bool representable_spread(const DataSummary& summary, double terms) {
  const double deviation = summary.deviation.maxCoeff();
  const double limit = static_cast<double>(std::numeric_limits<Scalar>::max());
  return deviation * deviation * terms < 0.25 * limit && std::isfinite(summary.variance.sum());
}

/// Throws InvalidArgument unless representable_spread(): such data must be rescaled, and saying
/// so beats a NaN deep inside EM.
template <typename Scalar>
void require_representable_spread(const DataSummary& summary, double terms, const char* caller) {
  if (representable_spread<Scalar>(summary, terms)) return;
  Index worst = 0;
  const double deviation = summary.deviation.maxCoeff(&worst);
  std::ostringstream out;
  out << "X spreads too far for " << (sizeof(Scalar) == 4 ? "float32" : "float64")
      << " arithmetic: feature " << worst << " deviates by " << deviation
      << " from its mean, so sums of squares overflow; rescale X (e.g. divide each feature by its "
         "standard deviation)"
      << (sizeof(Scalar) == 4 ? " or fit it as float64" : "");
  fail(caller, out.str());
}

}  // namespace gaussmix::detail
