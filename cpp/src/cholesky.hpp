#pragma once
// Conversions between covariances, precisions and upper precision Cholesky factors U
// (P = U U^T, scikit-learn's convention), computed in double whatever the data type.

#include <Eigen/Cholesky>
#include <Eigen/Core>

namespace gaussmix::detail {

using DenseD = Eigen::MatrixXd;

/// U with U U^T = cov^-1: cov = L L^T gives U = L^-T. Returns false unless cov is positive definite.
inline bool precision_cholesky_from_covariance(const DenseD& cov, DenseD& U) {
  Eigen::LLT<DenseD> llt(cov);
  if (llt.info() != Eigen::Success) return false;
  const DenseD L = llt.matrixL();
  if (!(L.diagonal().array() > 0.0).all()) return false;
  const DenseD L_inv = L.triangularView<Eigen::Lower>().solve(DenseD::Identity(cov.rows(), cov.cols()));
  U = L_inv.transpose();
  return U.allFinite();
}

/// Upper U with U U^T = P, by the Cholesky factor of P with rows and columns reversed.
inline bool precision_cholesky_from_precision(const DenseD& P, DenseD& U) {
  const DenseD reversed = P.reverse();
  Eigen::LLT<DenseD> llt(reversed);
  if (llt.info() != Eigen::Success) return false;
  U = DenseD(llt.matrixL()).reverse();
  return (U.diagonal().array() > 0.0).all() && U.allFinite();
}

/// cov = (U U^T)^-1 = V^T V with V = U^-1.
inline DenseD covariance_from_precision_cholesky(const DenseD& U) {
  const DenseD V = U.triangularView<Eigen::Upper>().solve(DenseD::Identity(U.rows(), U.cols()));
  return V.transpose() * V;
}

/// True when A equals its transpose up to rounding relative to its largest entry.
inline bool is_symmetric(const DenseD& A) {
  const double scale = std::max(1.0, A.cwiseAbs().maxCoeff());
  return (A - A.transpose()).cwiseAbs().maxCoeff() <= 1e-6 * scale;
}

}  // namespace gaussmix::detail
