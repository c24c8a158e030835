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

SufficientStatistics SufficientStatistics::recentred(const Matrix<double>& new_shift) const {
  const char* caller = "SufficientStatistics::recentred()";
  detail::require_shape(new_shift, shift.rows(), shift.cols(), caller, "new_shift");
  detail::require_finite(new_shift, caller, "new_shift");
  SufficientStatistics out = *this;
  out.shift = new_shift;
  const Index K = n_components(), D = n_features();
  const Matrix<double> d = shift - new_shift;  // x - s' = (x - s) + d
  for (Index k = 0; k < K; ++k) {
    const Eigen::RowVectorXd dk = d.row(k), s1 = first.row(k);
    out.first.row(k) += resp_sum[k] * dk;
    switch (covariance_type) {
      case CovarianceType::full:
      case CovarianceType::tied: {
        const Eigen::MatrixXd correction =
            s1.transpose() * dk + dk.transpose() * s1 + resp_sum[k] * dk.transpose() * dk;
        out.second.middleRows(covariance_type == CovarianceType::full ? k * D : 0, D) += correction;
        break;
      }
      default:
        out.second.row(k).array() += 2.0 * dk.array() * s1.array() + resp_sum[k] * dk.array().square();
    }
  }
  return out;
}

void SufficientStatistics::check(const char* caller) const {
  const Index K = n_components(), D = n_features();
  detail::require(K > 0 && D > 0, caller, "the statistics' shift is empty");
  detail::require_shape(resp_sum, K, 1, caller, "resp_sum");
  detail::require_shape(first, K, D, caller, "first");
  const Index second_rows = covariance_type == CovarianceType::full ? K * D : covariance_type == CovarianceType::tied ? D : K;
  detail::require_shape(second, second_rows, D, caller, "second");
  for (const auto* m : {&shift, &first, &second}) detail::require_finite(*m, caller, "statistics");
  detail::require_finite(resp_sum, caller, "resp_sum");
  detail::require((resp_sum.array() >= 0.0).all(), caller, "resp_sum has negative entries");
  detail::require(std::isfinite(weight_sum) && weight_sum >= 0.0, caller, "weight_sum must be finite and >= 0");
  detail::require(!std::isnan(log_likelihood_sum), caller, "log_likelihood_sum is NaN");
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
  const auto pass = [&](Scalar log_floor) {
    accumulate_pass(X, sample_weight, model.covariance_type(), model.means(), buffers,
                    [&](Workspace<Scalar>& ws, const auto& X_blk, Index) {
                      // Both paths leave the block transposed in ws.
                      // Without weights, the log-likelihood is a plain sum over rows.
                      if (!small_dense_posteriors(model, X_blk, ws, log_floor, sample_weight.size() == 0)) {
                        weighted_log_prob(model, X_blk, ws, true, log_floor);
                        normalize_log_prob(ws, log_floor, false);
                      }
                      return true;
                    });
  };
  // Responsibilities below 2^-kFitFloorBits of their row's largest are dropped: with
  // overlapping components they are most of the (row, component) pairs, and a quadratic form
  // stops as soon as its responsibility is certainly such a term (W3: 86% of the pairs at
  // convergence). A row's dropped terms total under K 2^-100 of its density, below a rounding
  // unit of log p(x); a component's, under weight_sum 2^-100 of its count N_k, below a
  // rounding unit unless N_k < weight_sum 2^-47. A pass with such a nearly empty component,
  // whose count would be made of the dropped terms, is redone keeping every normal term.
  pass(fit_log_floor<Scalar>());
  const SufficientStatistics& stats = buffers.partial[0];
  const double least_count = std::ldexp(stats.weight_sum, std::numeric_limits<double>::digits - kFitFloorBits);
  if ((stats.resp_sum.array() < least_count).any()) pass(subnormal_log_floor<Scalar>());
  if (!std::isfinite(buffers.partial[0].log_likelihood_sum)) model.check_data(X, caller);
}

template void expectation_step<float>(const Model<float>&, MatrixCRef<float>, VectorCRef<float>, PassBuffers<float>&);
template void expectation_step<double>(const Model<double>&, MatrixCRef<double>, VectorCRef<double>,
                                       PassBuffers<double>&);

}  // namespace detail

namespace {

template <typename Scalar>
void check_accumulator_input(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight, MatrixCRef<Scalar> shift,
                             Index n_resp_rows, const char* caller) {
  detail::require_data<Scalar>(X, caller);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  detail::require(shift.rows() > 0 && shift.cols() == X.cols(), caller,
                  "shift has shape " + detail::shape(shift.rows(), shift.cols()) + ", expected (n_components, " +
                      std::to_string(X.cols()) + ")");
  detail::require_finite(shift, caller, "shift");
  detail::require(n_resp_rows == X.rows(), caller,
                  "got responsibilities for " + std::to_string(n_resp_rows) + " rows, expected n_samples = " +
                      std::to_string(X.rows()));
}

}  // namespace

template <typename Scalar>
SufficientStatistics statistics_from_responsibilities(MatrixCRef<Scalar> X, MatrixCRef<Scalar> resp,
                                                      VectorCRef<Scalar> sample_weight, CovarianceType type,
                                                      MatrixCRef<Scalar> shift) {
  const char* caller = "statistics_from_responsibilities()";
  check_accumulator_input<Scalar>(X, sample_weight, shift, resp.rows(), caller);
  detail::require_shape(resp, X.rows(), shift.rows(), caller, "resp");
  detail::require_finite(resp, caller, "resp");
  detail::require((resp.array() >= Scalar(0)).all(), caller, "resp has negative entries");
  detail::PassBuffers<Scalar> buffers;
  detail::accumulate_pass<Scalar>(X, sample_weight, type, shift, buffers,
                                  [&](detail::Workspace<Scalar>& ws, const auto& X_blk, Index begin) {
                                    ws.shape_log_prob(X_blk.rows(), resp.cols());
                                    ws.log_prob = resp.middleRows(begin, X_blk.rows());
                                    return false;
                                  });
  return std::move(buffers.partial[0]);
}

template <typename Scalar>
SufficientStatistics statistics_from_labels(MatrixCRef<Scalar> X, const LabelVector& labels,
                                            VectorCRef<Scalar> sample_weight, CovarianceType type,
                                            MatrixCRef<Scalar> shift) {
  const char* caller = "statistics_from_labels()";
  check_accumulator_input<Scalar>(X, sample_weight, shift, labels.size(), caller);
  const Index K = shift.rows();
  detail::require((labels.array() >= 0).all() && (labels.array() < K).all(), caller,
                  "labels must lie in [0, n_components = " + std::to_string(K) + ")");
  detail::PassBuffers<Scalar> buffers;
  detail::accumulate_labels_pass<Scalar>(X, labels, sample_weight, type, shift, buffers);
  return std::move(buffers.partial[0]);
}

template <typename Scalar>
SufficientStatistics expectation_step(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                                      NoDeduce<VectorCRef<Scalar>> sample_weight) {
  detail::PassBuffers<Scalar> buffers;
  detail::expectation_step(model, X, sample_weight, buffers);
  return std::move(buffers.partial[0]);
}

template <typename Scalar>
Model<Scalar> maximization_step(const SufficientStatistics& stats, double reg_covar) {
  return maximization_step<Scalar>(stats, reg_covar, Model<Scalar>());
}

template <typename Scalar>
Model<Scalar> maximization_step(const SufficientStatistics& stats, double reg_covar, Model<Scalar>&& spent) {
  const char* caller = "maximization_step()";
  detail::require(reg_covar >= 0.0 && std::isfinite(reg_covar), caller, "reg_covar must be finite and >= 0");
  stats.check(caller);
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

  typename Model<Scalar>::Storage storage = std::move(spent).release_storage();
  Matrix<Scalar>& covariances = storage.covariances;
  Matrix<Scalar>& cholesky = storage.precisions_cholesky;
  covariances.resize(covariance_rows(type, K, D), covariance_cols(type, D));  // no-ops on storage of this shape
  cholesky.resize(covariances.rows(), covariances.cols());
  switch (type) {
    case CovarianceType::full:
    case CovarianceType::tied: {
      Eigen::MatrixXd pooled;
      if (type == CovarianceType::tied) {
        Eigen::MatrixXd between = Eigen::MatrixXd::Zero(D, D);
        for (Index k = 0; k < K; ++k) between += counts[k] * offsets.row(k).transpose() * offsets.row(k);
        pooled = (stats.second - between) / counts.sum();
      }
      // Component k's covariance, symmetrised and regularised, in double.
      const auto covariance = [&](Index k) {
        Eigen::MatrixXd cov = type == CovarianceType::full
                                  ? Eigen::MatrixXd(stats.second.middleRows(k * D, D) / counts[k] -
                                                    offsets.row(k).transpose() * offsets.row(k))
                                  : pooled;
        cov = 0.5 * (cov + cov.transpose()).eval();
        cov.diagonal().array() += reg_covar;
        return cov;
      };
      // Full: kFactorLanes components at a time, one per SIMD lane (lane_precision_cholesky());
      // the rest, and tied's one matrix, alone. Groups are independent: with many of them the
      // factorisations are worth two threads.
      constexpr Index W = detail::kFactorLanes;
      const Index n_lane_groups = type == CovarianceType::full && W > 1 ? K / W : 0;
      const Index n_alone = type == CovarianceType::full ? K - n_lane_groups * W : 1;
      const int n_threads = detail::threads_for_factors(n_lane_groups + n_alone, D);
      std::vector<char> failed(n_lane_groups + n_alone, 0);
      std::vector<std::vector<double>> lane_buffers(n_threads);  // per thread: L, U and scratch
      detail::for_each_block(n_lane_groups + n_alone, 1, n_threads, [&](int thread, Index task, Index) {
        if (task >= n_lane_groups) {
          const Index k = n_lane_groups * W + (task - n_lane_groups);
          const Eigen::MatrixXd cov = covariance(k);
          Eigen::MatrixXd U;
          failed[task] = !detail::precision_cholesky_from_covariance(cov, U);
          covariances.middleRows(k * D, D) = cov.cast<Scalar>();
          if (!failed[task]) cholesky.middleRows(k * D, D) = U.cast<Scalar>();
          return;
        }
        std::vector<double>& lanes = lane_buffers[thread];
        lanes.resize(2 * D * D * W + 2 * D * W);
        double *a = lanes.data(), *u = a + D * D * W;
        for (Index w = 0; w < W; ++w) {
          const Index k = task * W + w;
          const Eigen::MatrixXd cov = covariance(k);
          covariances.middleRows(k * D, D) = cov.cast<Scalar>();
          for (Index i = 0; i < D; ++i)
            for (Index j = 0; j <= i; ++j) a[(i * D + j) * W + w] = cov(j, i);  // cov's column i: contiguous
        }
        failed[task] = detail::lane_precision_cholesky(a, u, u + D * D * W, D) != 0;
        for (Index w = 0; w < W; ++w) {
          auto U = cholesky.middleRows((task * W + w) * D, D);
          for (Index j = 0; j < D; ++j)
            for (Index m = 0; m < D; ++m) U(j, m) = m < j ? Scalar(0) : static_cast<Scalar>(u[(j * D + m) * W + w]);
        }
      });
      if (std::find(failed.begin(), failed.end(), 1) != failed.end()) throw ill_defined();
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical: {
      Matrix<double> diagonal = (stats.second.array().colwise() / counts.array()) - offsets.array().square();
      diagonal.array() += reg_covar;
      if (type == CovarianceType::spherical) diagonal = diagonal.rowwise().mean().eval();
      if (!(diagonal.array() > 0.0).all() || !detail::all_finite(diagonal)) throw ill_defined();
      covariances = diagonal.cast<Scalar>();
      cholesky = diagonal.array().rsqrt().matrix().cast<Scalar>();
      break;
    }
  }
  if (!detail::all_finite(means) || !detail::all_finite(cholesky)) throw ill_defined();
  return Model<Scalar>::from_parameters(type, weights.cast<Scalar>(), means.cast<Scalar>(), std::move(covariances),
                                        std::move(cholesky), std::move(storage.precisions_cholesky_transposed));
}

template SufficientStatistics expectation_step<float>(const Model<float>&, MatrixCRef<float>, VectorCRef<float>);
template SufficientStatistics expectation_step<double>(const Model<double>&, MatrixCRef<double>, VectorCRef<double>);
template SufficientStatistics statistics_from_responsibilities<float>(MatrixCRef<float>, MatrixCRef<float>,
                                                                       VectorCRef<float>, CovarianceType,
                                                                       MatrixCRef<float>);
template SufficientStatistics statistics_from_responsibilities<double>(MatrixCRef<double>, MatrixCRef<double>,
                                                                        VectorCRef<double>, CovarianceType,
                                                                        MatrixCRef<double>);
template SufficientStatistics statistics_from_labels<float>(MatrixCRef<float>, const LabelVector&, VectorCRef<float>,
                                                            CovarianceType, MatrixCRef<float>);
template SufficientStatistics statistics_from_labels<double>(MatrixCRef<double>, const LabelVector&,
                                                             VectorCRef<double>, CovarianceType, MatrixCRef<double>);
template Model<float> maximization_step<float>(const SufficientStatistics&, double);
template Model<double> maximization_step<double>(const SufficientStatistics&, double);
template Model<float> maximization_step<float>(const SufficientStatistics&, double, Model<float>&&);
template Model<double> maximization_step<double>(const SufficientStatistics&, double, Model<double>&&);

}  // namespace gaussmix
