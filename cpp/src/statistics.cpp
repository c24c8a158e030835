#include "gaussmix/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "checks.hpp"
#include "cholesky.hpp"
#include "gaussmix/errors.hpp"
#include "kernels.hpp"
#include "parallel.hpp"

namespace gaussmix {

SufficientStatistics::SufficientStatistics(CovarianceType type, const Matrix<double>& shift_)
    : covariance_type(type), shift(shift_) {
  const Index K = shift.rows(), D = shift.cols();
  resp_sum = Vector<double>::Zero(K);
  first = Matrix<double>::Zero(K, D);
  switch (type) {
    case CovarianceType::full: second = Matrix<double>::Zero(K * D, D); break;
    case CovarianceType::tied: second = Matrix<double>::Zero(D, D); break;
    default: second = Matrix<double>::Zero(K, D); break;
  }
}

void SufficientStatistics::merge(const SufficientStatistics& other) {
  const char* caller = "SufficientStatistics::merge()";
  detail::require(other.covariance_type == covariance_type, caller, "covariance types differ");
  detail::require(other.shift.rows() == shift.rows() && other.shift.cols() == shift.cols() &&
                      other.shift == shift,
                  caller, "statistics were accumulated about different shifts");
  resp_sum += other.resp_sum;
  first += other.first;
  second += other.second;
  log_likelihood_sum += other.log_likelihood_sum;
  weight_sum += other.weight_sum;
}

namespace detail {

template <typename Scalar>
void expectation_step(const Model<Scalar>& model, MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight,
                      PassBuffers<Scalar>& buffers) {
  const char* caller = "expectation_step()";
  // The shape is checked here, finiteness only if the pass ends with a non-finite
  // log-likelihood, which any NaN or infinity in X produces: a separate serial scan of X on
  // every EM iteration would cost as much as a diag E-step's arithmetic.
  model.check_data(X.topRows(std::min<Index>(X.rows(), 1)), caller);
  require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  const Matrix<Scalar>& shift = model.means();
  const Index rows = block_rows(X.cols());
  const CovarianceType type = model.covariance_type();
  // Every thread keeps statistics of its own: no more threads than 256 MiB of them allow.
  const double stats_bytes = 8.0 * static_cast<double>(covariance_rows(type, shift.rows(), shift.cols()) *
                                                           covariance_cols(type, shift.cols()) +
                                                       3 * shift.size());
  const int n_threads = std::max(1, std::min<int>(threads_for(X.rows(), rows),
                                                  static_cast<int>(std::min(1024.0, 268435456.0 / stats_bytes))));
  buffers.workspaces.resize(n_threads);
  buffers.partial.resize(n_threads);
  for (auto& stats : buffers.partial) {
    if (stats.covariance_type != type || stats.shift.rows() != shift.rows() || stats.shift.cols() != shift.cols()) {
      stats = SufficientStatistics(type, shift.template cast<double>());
      continue;
    }
    stats.shift = shift.template cast<double>();
    stats.resp_sum.setZero();
    stats.first.setZero();
    stats.second.setZero();
    stats.log_likelihood_sum = stats.weight_sum = 0.0;
  }
  const bool weighted = sample_weight.size() > 0;

  for_each_block(X.rows(), rows, n_threads, [&](int thread, Index begin, Index end) {
    auto& ws = buffers.workspaces[thread];
    auto& stats = buffers.partial[thread];
    const auto X_blk = X.middleRows(begin, end - begin);
    weighted_log_prob(model, X_blk, ws);
    normalize_log_prob(ws);
    const Scalar* weight = weighted ? sample_weight.data() + begin : nullptr;
    if (weighted) {
      const auto w = sample_weight.segment(begin, end - begin).template cast<double>();
      stats.log_likelihood_sum += ws.log_norm.template cast<double>().dot(w);
      stats.weight_sum += w.sum();
    } else {
      stats.log_likelihood_sum += ws.log_norm.template cast<double>().sum();
      stats.weight_sum += static_cast<double>(end - begin);
    }
    // weighted_log_prob() left the block transposed in ws.
    accumulate_transposed(end - begin, ws.log_prob, weight, shift, stats, ws);
  });

  for (int t = 1; t < n_threads; ++t) buffers.partial[0].merge(buffers.partial[t]);
  if (!std::isfinite(buffers.partial[0].log_likelihood_sum)) model.check_data(X, caller);
}

template void expectation_step<float>(const Model<float>&, MatrixCRef<float>, VectorCRef<float>, PassBuffers<float>&);
template void expectation_step<double>(const Model<double>&, MatrixCRef<double>, VectorCRef<double>,
                                       PassBuffers<double>&);

}  // namespace detail

template <typename Scalar>
SufficientStatistics expectation_step(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                                      NoDeduce<VectorCRef<Scalar>> sample_weight) {
  detail::PassBuffers<Scalar> buffers;
  detail::expectation_step(model, X, sample_weight, buffers);
  return std::move(buffers.partial[0]);
}

template <typename Scalar>
Model<Scalar> maximization_step(const SufficientStatistics& stats, double reg_covar) {
  const char* caller = "maximization_step()";
  detail::require(reg_covar >= 0.0 && std::isfinite(reg_covar), caller, "reg_covar must be finite and >= 0");
  detail::require(stats.weight_sum > 0.0, caller, "the statistics hold no data");
  const Index K = stats.n_components(), D = stats.n_features();
  const CovarianceType type = stats.covariance_type;

  // scikit-learn adds 10 eps so an empty component keeps a finite mean and a covariance of
  // reg_covar * I instead of 0 / 0; its weight becomes negligible rather than zero.
  const Vector<double> counts = stats.resp_sum.array() + 10.0 * std::numeric_limits<Scalar>::epsilon();
  const Vector<double> weights = counts / counts.sum();
  const Matrix<double> offsets = stats.first.array().colwise() / counts.array();  // mean_k - shift_k
  const Matrix<double> means = stats.shift + offsets;

  const auto ill_defined = [&]() {
    return NumericalError(
        "Fitting the mixture model failed because some components have ill-defined empirical "
        "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
        "number of components, increase reg_covar, or scale the input data.");
  };

  Matrix<Scalar> covariances(covariance_rows(type, K, D), covariance_cols(type, D));
  Matrix<Scalar> cholesky(covariances.rows(), covariances.cols());
  switch (type) {
    case CovarianceType::full:
    case CovarianceType::tied: {
      Eigen::MatrixXd pooled;
      if (type == CovarianceType::tied) {
        Eigen::MatrixXd between = Eigen::MatrixXd::Zero(D, D);
        for (Index k = 0; k < K; ++k) between += counts[k] * offsets.row(k).transpose() * offsets.row(k);
        pooled = (stats.second - between) / counts.sum();
      }
      // Components are independent: with many of them the factorisations are worth two threads.
      const Index n_blocks = type == CovarianceType::full ? K : 1;
      const int n_threads = detail::threads_for_factors(n_blocks, D);
      std::vector<char> failed(n_blocks, 0);
      detail::for_each_index(n_blocks, n_threads, [&](Index k) {
        Eigen::MatrixXd cov = type == CovarianceType::full
                                  ? Eigen::MatrixXd(stats.second.middleRows(k * D, D) / counts[k] -
                                                    offsets.row(k).transpose() * offsets.row(k))
                                  : pooled;
        cov = 0.5 * (cov + cov.transpose()).eval();
        cov.diagonal().array() += reg_covar;
        Eigen::MatrixXd U;
        failed[k] = !detail::precision_cholesky_from_covariance(cov, U);
        covariances.middleRows(k * D, D) = cov.cast<Scalar>();
        if (!failed[k]) cholesky.middleRows(k * D, D) = U.cast<Scalar>();
      });
      if (std::find(failed.begin(), failed.end(), 1) != failed.end()) throw ill_defined();
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {
      Matrix<double> diagonal = (stats.second.array().colwise() / counts.array()) - offsets.array().square();
      diagonal.array() += reg_covar;
      if (type == CovarianceType::spherical) diagonal = diagonal.rowwise().mean().eval();
      if (!(diagonal.array() > 0.0).all() || !diagonal.allFinite()) throw ill_defined();
      covariances = diagonal.cast<Scalar>();
      cholesky = diagonal.array().rsqrt().matrix().cast<Scalar>();
      break;
    }
  }
  if (!means.allFinite() || !cholesky.allFinite()) throw ill_defined();
  return Model<Scalar>::from_parameters(type, weights.cast<Scalar>(), means.cast<Scalar>(), std::move(covariances),
                                        std::move(cholesky));
}

template SufficientStatistics expectation_step<float>(const Model<float>&, MatrixCRef<float>, VectorCRef<float>);
template SufficientStatistics expectation_step<double>(const Model<double>&, MatrixCRef<double>, VectorCRef<double>);
template Model<float> maximization_step<float>(const SufficientStatistics&, double);
template Model<double> maximization_step<double>(const SufficientStatistics&, double);

}  // namespace gaussmix
