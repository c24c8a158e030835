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

/// Column means, variances and largest deviations of X, in double, in two blocked passes.
template <typename Scalar>
DataSummary summarize(const MatrixCRef<Scalar>& X) {
  const Index n = X.rows(), D = X.cols();
  const Index rows = block_rows(D);
  const int n_threads = threads_for(n, rows);
  std::vector<Eigen::RowVectorXd> sums(n_threads, Eigen::RowVectorXd::Zero(D));
  const Index stride = X.outerStride();
  // Row by row, vectorised across features, on raw pointers: a column-wise sum of a row-major
  // block would walk each column with a stride (it cost a W4 fit's start more than its
  // k-means), and an Eigen row expression per row costs more than the row itself when D is small.
  for_each_block(n, rows, n_threads, [&](int t, Index begin, Index end) {
    double* sum = sums[t].data();
    for (Index i = begin; i < end; ++i) {
      const Scalar* x = X.data() + i * stride;
      for (Index d = 0; d < D; ++d) sum[d] += static_cast<double>(x[d]);
    }
  });
  DataSummary summary;
  summary.mean = Eigen::RowVectorXd::Zero(D);
  for (const auto& s : sums) summary.mean += s;
  summary.mean /= static_cast<double>(n);
  std::vector<Eigen::RowVectorXd> squares(n_threads, Eigen::RowVectorXd::Zero(D));
  std::vector<Eigen::RowVectorXd> largest(n_threads, Eigen::RowVectorXd::Zero(D));
  for_each_block(n, rows, n_threads, [&](int t, Index begin, Index end) {
    double *square = squares[t].data(), *large = largest[t].data();
    const double* mean = summary.mean.data();
    for (Index i = begin; i < end; ++i) {
      const Scalar* x = X.data() + i * stride;
      for (Index d = 0; d < D; ++d) {
        const double centred = static_cast<double>(x[d]) - mean[d];
        square[d] += centred * centred;
        large[d] = std::max(large[d], std::abs(centred));
      }
    }
  });
  summary.variance = Eigen::RowVectorXd::Zero(D);
  summary.deviation = Eigen::RowVectorXd::Zero(D);
  for (int t = 0; t < n_threads; ++t) {
    summary.variance += squares[t];
    summary.deviation = summary.deviation.cwiseMax(largest[t]);
  }
  summary.variance /= static_cast<double>(n);
  return summary;
}

/// sample_weight (ones when empty) scaled to mean one, in double: no result depends on the
/// weights' units, and their sums cannot overflow, even for weights near the largest double.
template <typename Scalar>
Vector<double> normalized_weights(const VectorCRef<Scalar>& sample_weight, Index n) {
  if (sample_weight.size() == 0) return Vector<double>::Ones(n);
  Vector<double> weight = sample_weight.template cast<double>();
  weight /= weight.maxCoeff();
  weight *= static_cast<double>(n) / weight.sum();
  return weight;
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
