#pragma once
// Conversions between covariances, precisions and upper precision Cholesky factors U
// (P = U U^T, scikit-learn's convention), computed in double whatever the data type.

#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

namespace gaussmix::detail {

using DenseD = Eigen::MatrixXd;

/// column[i] -= sum_t a[t] * columns[t][i] for i in [begin, end), four columns per pass over
/// `column` (one load and store of it per four multiply-adds, in a loop the compiler vectorises).
inline void subtract_combination(double* column, const double* const* columns, const double* a, int n_columns,
                                 Eigen::Index begin, Eigen::Index end) {
  int t = 0;
  for (; t + 4 <= n_columns; t += 4) {
    const double a0 = a[t], a1 = a[t + 1], a2 = a[t + 2], a3 = a[t + 3];
    const double *c0 = columns[t], *c1 = columns[t + 1], *c2 = columns[t + 2], *c3 = columns[t + 3];
    for (Eigen::Index i = begin; i < end; ++i) column[i] -= a0 * c0[i] + a1 * c1[i] + a2 * c2[i] + a3 * c3[i];
  }
  for (; t < n_columns; ++t) {
    const double at = a[t], *ct = columns[t];
    for (Eigen::Index i = begin; i < end; ++i) column[i] -= at * ct[i];
  }
}

/// U with U U^T = cov^-1: cov = L L^T gives U = L^-T. Returns false unless cov is positive definite.
/// Unblocked and left-looking: column j of L is cov's minus a combination of the j columns
/// before it, then scaled by its pivot's square root; column j of L^-1 (row j of U) follows by
/// forward substitution from e_j, four unknowns at a time, multiplying by the pivots' inverses.
/// D^3/6 multiply-adds each, on contiguous columns. On 41 x 41 (one W5 component; native build,
/// one thread) it takes 17 us against 27 us for Eigen's blocked LLT and a triangular solve
/// against the identity (D^3/3 multiply-adds). The remaining gap to the FMA rate is the short
/// inner loops and the substitution's dependency chain.
inline bool precision_cholesky_from_covariance(const DenseD& cov, DenseD& U) {
  const Eigen::Index D = cov.rows();
  DenseD L = cov;
  std::vector<const double*> columns(static_cast<std::size_t>(D));
  for (Eigen::Index k = 0; k < D; ++k) columns[k] = L.col(k).data();
  Eigen::VectorXd row(D);      // L(j, 0..j-1), contiguous
  Eigen::VectorXd inverse(D);  // 1 / L(j, j): products, not a chain of divisions, below
  for (Eigen::Index j = 0; j < D; ++j) {
    for (Eigen::Index k = 0; k < j; ++k) row[k] = L(j, k);
    subtract_combination(L.col(j).data(), columns.data(), row.data(), static_cast<int>(j), j, D);
    const double pivot = L(j, j);
    if (!(pivot > 0.0) || !std::isfinite(pivot)) return false;
    const double root = std::sqrt(pivot);
    L(j, j) = root;
    inverse[j] = 1.0 / root;
    L.col(j).tail(D - j - 1) *= inverse[j];
  }
  U.setZero(D, D);
  Eigen::VectorXd x(D);
  for (Eigen::Index j = 0; j < D; ++j) {
    // L x = e_j, x zero above j: unknowns k..k+3 from the small triangle, then their columns
    // subtracted from the rest of x in one pass.
    x.tail(D - j).setZero();
    x[j] = 1.0;
    for (Eigen::Index k = j; k < D; k += 4) {
      const Eigen::Index stop = std::min<Eigen::Index>(k + 4, D);
      for (Eigen::Index m = k; m < stop; ++m) {
        x[m] *= inverse[m];
        for (Eigen::Index i = m + 1; i < stop; ++i) x[i] -= x[m] * L(i, m);
      }
      subtract_combination(x.data(), columns.data() + k, x.data() + k, static_cast<int>(stop - k), stop, D);
    }
    U.row(j).tail(D - j) = x.tail(D - j).transpose();
  }
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
