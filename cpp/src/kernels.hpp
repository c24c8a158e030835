#pragma once
// Per-block kernels shared by scoring and the E-step. A Workspace belongs to one thread and is
// reused for every block it processes, so the EM loop allocates nothing per block.

#include <cmath>
#include <limits>

#include "gaussmix/model.hpp"
#include "gaussmix/statistics.hpp"

namespace gaussmix::detail {

// Column-major (rows, n_components): each component writes one contiguous column.
template <typename Scalar>
using ColMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

template <typename Scalar>
struct Workspace {
  Matrix<Scalar> centered;   // (rows, D): X_blk - mu_k
  Matrix<Scalar> projected;  // (rows, D): (X_blk - mu_k) U_k
  Matrix<Scalar> second;     // (D, D) one block's weighted second moment
  ColMatrix<Scalar> log_prob;  // (rows, K) log pi_k + log N(x | k), then responsibilities
  Vector<Scalar> log_norm;   // (rows) log p(x)
  Vector<Scalar> weighted;   // (rows) w_i r_ik
};

/// log pi_k + log N(x_i | k) for the rows of X_blk into ws.log_prob.
template <typename Scalar, typename Rows>
void weighted_log_prob(const Model<Scalar>& model, const Eigen::MatrixBase<Rows>& X_blk,
                       Workspace<Scalar>& ws) {
  const Index rows = X_blk.rows(), D = model.n_features(), K = model.n_components();
  const auto& means = model.means();
  const auto& U = model.precisions_cholesky();
  const auto& log_normalizers = model.log_normalizers();
  ws.log_prob.resize(rows, K);
  for (Index k = 0; k < K; ++k) {
    const Scalar constant = static_cast<Scalar>(log_normalizers[k]);
    ws.centered.noalias() = X_blk.rowwise() - means.row(k);
    switch (model.covariance_type()) {
      case CovarianceType::full:
      case CovarianceType::tied: {
        const Index first_row = model.covariance_type() == CovarianceType::full ? k * D : 0;
        ws.projected.noalias() =
            ws.centered * U.middleRows(first_row, D).template triangularView<Eigen::Upper>();
        ws.log_prob.col(k).array() = constant - Scalar(0.5) * ws.projected.rowwise().squaredNorm().array();
        break;
      }
      case CovarianceType::diag:
        ws.log_prob.col(k).array() =
            constant - Scalar(0.5) * (ws.centered.array().rowwise() * U.row(k).array())
                                         .square().rowwise().sum();
        break;
      case CovarianceType::spherical: {
        const Scalar precision = U(k, 0) * U(k, 0);
        ws.log_prob.col(k).array() =
            constant - Scalar(0.5) * precision * ws.centered.rowwise().squaredNorm().array();
        break;
      }
    }
  }
}

/// Turns ws.log_prob into responsibilities in place and ws.log_norm into log p(x) by a
/// max-shifted log-sum-exp per row.
template <typename Scalar>
void normalize_log_prob(Workspace<Scalar>& ws) {
  const Index rows = ws.log_prob.rows();
  ws.log_norm = ws.log_prob.rowwise().maxCoeff();
  ws.log_prob.colwise() -= ws.log_norm;
  // Responsibilities below the smallest normal number become exact zeros: subnormals would
  // slow every later product by orders of magnitude, and zeros let accumulate() skip
  // components absent from a block.
  const Scalar cutoff = std::log(std::numeric_limits<Scalar>::min());
  ws.log_prob = (ws.log_prob.array() < cutoff).select(Scalar(0), ws.log_prob.array().exp());
  for (Index i = 0; i < rows; ++i) {
    const Scalar total = ws.log_prob.row(i).sum();
    ws.log_prob.row(i) /= total;
    ws.log_norm[i] += std::log(total);
  }
}

/// Adds the block's statistics with responsibilities `resp` (rows, K) and optional weights.
/// `shift` is stats.shift in the data's type.
template <typename Scalar, typename Rows, typename Resp>
void accumulate(const Eigen::MatrixBase<Rows>& X_blk, const Resp& resp, const Scalar* weight,
                const Matrix<Scalar>& shift, SufficientStatistics& stats, Workspace<Scalar>& ws) {
  const Index rows = X_blk.rows(), D = X_blk.cols(), K = shift.rows();
  for (Index k = 0; k < K; ++k) {
    if (weight)
      ws.weighted = resp.col(k).cwiseProduct(Eigen::Map<const Vector<Scalar>>(weight, rows));
    else
      ws.weighted = resp.col(k);
    const double total = ws.weighted.template cast<double>().sum();
    if (total == 0.0) continue;  // nothing of this block belongs to k
    stats.resp_sum[k] += total;
    ws.centered.noalias() = X_blk.rowwise() - shift.row(k);
    stats.first.row(k) += (ws.centered.transpose() * ws.weighted).template cast<double>().transpose();
    switch (stats.covariance_type) {
      case CovarianceType::full:
      case CovarianceType::tied: {
        ws.second.noalias() = (ws.centered.array().colwise() * ws.weighted.array()).matrix().transpose() * ws.centered;
        const Index first_row = stats.covariance_type == CovarianceType::full ? k * D : 0;
        stats.second.middleRows(first_row, D) += ws.second.template cast<double>();
        break;
      }
      case CovarianceType::diag:
      case CovarianceType::spherical:
        stats.second.row(k) +=
            (ws.centered.array().square().matrix().transpose() * ws.weighted).template cast<double>().transpose();
        break;
    }
  }
}

}  // namespace gaussmix::detail
