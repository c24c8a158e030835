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

/// precision_cholesky_from_covariance() of kFactorLanes covariances at once, one per SIMD lane
/// of double: `a` holds their lower triangles interleaved, a[(i * D + j) * W + w] = cov_w(i, j)
/// for i >= j (W = kFactorLanes), and is overwritten by L; row j of U_w (U_w(j, m), m >= j)
/// goes to u[(j * D + m) * W + w]. Right-looking Cholesky and forward substitution in the axpy
/// form, so every inner step is an independent packet FMA on contiguous packets, with no
/// short loops and no horizontal work: a mixture with many components (W5: 50..200 of 41
/// features) factors them several times faster than one at a time. `scratch` holds 2 D
/// packets. Returns a mask of the lanes whose covariance is not positive definite (their
/// output is garbage; the caller throws).
using FactorPacket = Eigen::internal::packet_traits<double>::type;
constexpr Eigen::Index kFactorLanes = Eigen::internal::packet_traits<double>::size;

inline unsigned lane_precision_cholesky(double* a, double* u, double* scratch, Eigen::Index D) {
  using namespace Eigen::internal;
  using Packet = FactorPacket;
  using Index = Eigen::Index;
  constexpr Index W = kFactorLanes;
  constexpr Index B = 4;  // columns per panel: one load and store of each entry per B multiply-adds
  const auto at = [&](Index i, Index j) { return a + (i * D + j) * W; };
  const auto load = [](const double* p) { return ploadu<Packet>(p); };
  double* inverse = scratch;    // D packets: 1 / L(j, j)
  double* x = scratch + D * W;  // D packets: one column of L^-1
  unsigned failed = 0;
  alignas(64) double lanes[W];
  for (Index j0 = 0; j0 < D; j0 += B) {
    const Index j1 = std::min(j0 + B, D);
    // The panel's columns, each minus the panel columns before it (the earlier panels were
    // subtracted by their trailing updates), then scaled by its pivot's square root.
    for (Index j = j0; j < j1; ++j) {
      for (Index t = j0; t < j; ++t) {
        const Packet minus_l_jt = pnegate(load(at(j, t)));
        for (Index i = j; i < D; ++i) pstoreu(at(i, j), pmadd(minus_l_jt, load(at(i, t)), load(at(i, j))));
      }
      pstoreu(lanes, load(at(j, j)));
      for (Index w = 0; w < W; ++w)
        if (!(lanes[w] > 0.0) || !std::isfinite(lanes[w])) {
          failed |= 1u << w;
          lanes[w] = 1.0;  // keeps the other lanes' arithmetic finite
        }
      const Packet root = psqrt(load(lanes));
      const Packet inv = pdiv(pset1<Packet>(1.0), root);
      pstoreu(at(j, j), root);
      pstoreu(inverse + j * W, inv);
      for (Index i = j + 1; i < D; ++i) pstoreu(at(i, j), pmul(load(at(i, j)), inv));
    }
    // The trailing lower triangle minus the panel times its transpose.
    const Index width = j1 - j0;
    for (Index i = j1; i < D; ++i) {
      Packet minus_l[B];
      for (Index t = 0; t < width; ++t) minus_l[t] = pnegate(load(at(i, j0 + t)));
      for (Index m = j1; m <= i; ++m) {
        Packet sum = load(at(i, m));
        for (Index t = 0; t < width; ++t) sum = pmadd(minus_l[t], load(at(m, j0 + t)), sum);
        pstoreu(at(i, m), sum);
      }
    }
  }
  for (Index j = 0; j < D; ++j) {
    // L x = e_j, x zero above j: unknowns m0..m1-1 from their small triangle, then subtracted
    // from the later unknowns together.
    pstoreu(x + j * W, pset1<Packet>(1.0));
    for (Index m = j + 1; m < D; ++m) pstoreu(x + m * W, pset1<Packet>(0.0));
    for (Index m0 = j; m0 < D; m0 += B) {
      const Index m1 = std::min(m0 + B, D);
      Packet minus_x[B];
      for (Index m = m0; m < m1; ++m) {
        Packet x_m = load(x + m * W);
        for (Index t = m0; t < m; ++t) x_m = pmadd(minus_x[t - m0], load(at(m, t)), x_m);
        x_m = pmul(x_m, load(inverse + m * W));
        pstoreu(u + (j * D + m) * W, x_m);
        minus_x[m - m0] = pnegate(x_m);
      }
      const Index width = m1 - m0;
      for (Index k = m1; k < D; ++k) {
        Packet sum = load(x + k * W);
        for (Index t = 0; t < width; ++t) sum = pmadd(minus_x[t], load(at(k, m0 + t)), sum);
        pstoreu(x + k * W, sum);
      }
    }
  }
  return failed;
}

/// Upper U with U U^T = P, by the Cholesky factor of P with rows and columns reversed.
inline bool precision_cholesky_from_precision(const DenseD& P, DenseD& U) {
  const DenseD reversed = P.reverse();
  Eigen::LLT<DenseD> llt(reversed);
  if (llt.info() != Eigen::Success) return false;
  U = DenseD(llt.matrixL()).reverse();
  return (U.diagonal().array() > 0.0).all() && U.allFinite();
}

/// cov = (U U^T)^-1 = V^T V with V = U^-1, both triangles of the work used: column j of V by
/// back substitution from e_j in the axpy form (contiguous columns of U), then the upper
/// triangle of V^T V as dot products of V's columns, mirrored. D^3/3 multiply-adds, where a
/// solve against the identity and a general product take 3 D^3 / 2: rebuilding a W5 model
/// (200 components of 41 features) to score it spent more than scoring one row of it.
inline DenseD covariance_from_precision_cholesky(const DenseD& U) {
  const Eigen::Index D = U.rows();
  DenseD V = DenseD::Zero(D, D);
  for (Eigen::Index j = 0; j < D; ++j) {
    double* v = V.col(j).data();
    v[j] = 1.0;
    for (Eigen::Index i = j; i >= 0; --i) {
      v[i] /= U(i, i);
      const double v_i = v[i];
      const double* u = U.col(i).data();
      for (Eigen::Index m = 0; m < i; ++m) v[m] -= v_i * u[m];
    }
  }
  DenseD cov(D, D);
  for (Eigen::Index b = 0; b < D; ++b)
    for (Eigen::Index a = 0; a <= b; ++a)
      cov(a, b) = cov(b, a) = V.col(a).head(a + 1).dot(V.col(b).head(a + 1));
  return cov;
}

/// True when A equals its transpose up to rounding relative to its largest entry.
inline bool is_symmetric(const DenseD& A) {
  const double scale = std::max(1.0, A.cwiseAbs().maxCoeff());
  return (A - A.transpose()).cwiseAbs().maxCoeff() <= 1e-6 * scale;
}

}  // namespace gaussmix::detail
