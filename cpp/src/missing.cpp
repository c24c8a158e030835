// EM, scoring and imputation with missing values (NaN entries): see missing.hpp for the maths.
//
// Rows are sorted by missingness pattern once (per fit, or per scoring call) and cut into chunks
// of block_rows() consecutive rows of that order; a chunk may hold several patterns (segments).
// For component k, every segment's missing entries in the chunk's transposed block are replaced
// by E[x_m | x_o, k]. The marginal quadratic form is the full one at that fill,
//   (x_o - mu_o)^T Sigma_oo^-1 (x_o - mu_o) = min over x_m of (x - mu)^T P (x - mu),
// so the complete-data kernels (full_quadratic(), diagonal_quadratic(), accumulate_transposed())
// run on the filled block unchanged, with each segment's log-determinant in the row constants and
// its conditional covariance added to the second moments afterwards. The quadratic form is a sum
// of squares through the model's own precision factor, with no cancellation.

#include "gaussmix/missing.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "checks.hpp"
#include "cholesky.hpp"
#include "em_loop.hpp"
#include "gaussmix/detail/random.hpp"
#include "gaussmix/errors.hpp"
#include "kernels.hpp"
#include "parallel.hpp"

namespace gaussmix {

namespace {

using detail::ColMatrix;
using detail::Workspace;
using DenseD = Eigen::MatrixXd;

constexpr double kLog2Pi = 1.8378770664093454835606594728112;

bool is_dense(CovarianceType type) { return type == CovarianceType::full || type == CovarianceType::tied; }

/// X non-empty, with n_features columns (when given) and every entry finite or NaN. Returns
/// whether any entry is NaN.
template <typename Scalar>
bool check_data_with_missing(const MatrixCRef<Scalar>& X, Index n_features, const char* caller) {
  detail::require(X.rows() > 0 && X.cols() > 0, caller,
                  "X has shape " + detail::shape(X.rows(), X.cols()) +
                      ", expected at least one sample and one feature");
  if (n_features >= 0 && X.cols() != n_features)
    detail::fail(caller, "X has " + std::to_string(X.cols()) + " features, but the model has " +
                             std::to_string(n_features));
  bool any_nan = false;
  for (Index i = 0; i < X.rows(); ++i)
    for (Index d = 0; d < X.cols(); ++d) {
      const Scalar value = X(i, d);
      if (std::isnan(value))
        any_nan = true;
      else if (!std::isfinite(value))
        detail::fail(caller, "X contains infinity (NaN marks a missing value; infinity is not allowed)");
    }
  return any_nan;
}

/// Rows grouped by their pattern of missing features.
struct Patterns {
  std::vector<Index> order;        // row indices grouped by pattern, ascending within a group
  std::vector<Index> group_begin;  // group g is order[group_begin[g], group_begin[g + 1])
  std::vector<std::vector<Index>> observed, missing;  // feature indices of each group
  std::vector<Index> observed_per_column;             // over the rows in `order`
};

/// Sorting by a bit mask per row costs O(N log N) once per fit; afterwards each pattern's
/// conditional quantities are computed once per chunk instead of once per row.
/// `skip_empty`: leave rows with no observed feature out (the fit ignores them).
template <typename Scalar>
Patterns group_by_pattern(const MatrixCRef<Scalar>& X, bool skip_empty) {
  const Index n = X.rows(), D = X.cols(), W = (D + 63) / 64;
  std::vector<std::uint64_t> masks(static_cast<std::size_t>(n * W), 0);
  Patterns p;
  p.order.reserve(n);
  for (Index i = 0; i < n; ++i) {
    Index n_missing = 0;
    for (Index d = 0; d < D; ++d)
      if (std::isnan(X(i, d))) {
        masks[i * W + d / 64] |= std::uint64_t(1) << (d % 64);
        ++n_missing;
      }
    if (!skip_empty || n_missing < D) p.order.push_back(i);
  }
  const auto mask = [&](Index i) { return masks.begin() + i * W; };
  std::stable_sort(p.order.begin(), p.order.end(), [&](Index a, Index b) {
    return std::lexicographical_compare(mask(a), mask(a) + W, mask(b), mask(b) + W);
  });
  p.observed_per_column.assign(D, 0);
  for (std::size_t pos = 0; pos < p.order.size(); ++pos) {
    const Index i = p.order[pos];
    if (pos > 0 && std::equal(mask(i), mask(i) + W, mask(p.order[pos - 1]))) continue;
    p.group_begin.push_back(static_cast<Index>(pos));
    p.observed.emplace_back();
    p.missing.emplace_back();
    for (Index d = 0; d < D; ++d) {
      const bool absent = (masks[i * W + d / 64] >> (d % 64)) & 1;
      (absent ? p.missing : p.observed).back().push_back(d);
    }
  }
  p.group_begin.push_back(static_cast<Index>(p.order.size()));
  for (std::size_t g = 0; g + 1 < p.group_begin.size(); ++g)
    for (Index d : p.observed[g]) p.observed_per_column[d] += p.group_begin[g + 1] - p.group_begin[g];
  return p;
}

/// A fit needs every column observed somewhere: a column with no value has no likelihood and
/// EM would keep its initial parameters (from a mean of nothing) forever.
void require_observed_columns(const Patterns& p, const char* caller) {
  for (std::size_t d = 0; d < p.observed_per_column.size(); ++d)
    detail::require(p.observed_per_column[d] > 0, caller,
                    "column " + std::to_string(d) +
                        " of X has no observed value (every entry is NaN); drop it before fitting");
}

/// The model's parameters in double, as conditioning needs them.
struct Conditioning {
  CovarianceType type = CovarianceType::full;
  std::vector<DenseD> precision, covariance;  // full: one per component; tied: one
  Eigen::VectorXd log_weight, half_log_det;   // log pi_k; sum_i log U_k[i, i] (full, tied)
};

template <typename Scalar>
Conditioning conditioning_of(const Model<Scalar>& model) {
  Conditioning c;
  const Index K = model.n_components(), D = model.n_features();
  c.type = model.covariance_type();
  c.log_weight = model.weights().template cast<double>().array().log();
  c.half_log_det = Eigen::VectorXd::Zero(K);
  if (!is_dense(c.type)) return c;
  const Index n_factors = c.type == CovarianceType::full ? K : 1;
  c.precision.resize(n_factors);
  c.covariance.resize(n_factors);
  detail::for_each_index(n_factors, detail::threads_for_factors(n_factors, D), [&](Index k) {
    const DenseD U = model.precisions_cholesky().middleRows(k * D, D).template cast<double>();
    c.precision[k] = U * U.transpose();
    c.covariance[k] = detail::covariance_from_precision_cholesky(U);
  });
  for (Index k = 0; k < K; ++k)
    c.half_log_det[k] = model.precisions_cholesky().middleRows((n_factors == 1 ? 0 : k) * D, D)
                            .diagonal().template cast<double>().array().log().sum();
  return c;
}

/// Per-thread state of one chunk: the Workspace of the complete-data kernels plus each
/// (segment, component)'s conditional quantities.
template <typename Scalar>
struct ChunkWorkspace {
  struct Segment {
    Index group, begin, end;  // columns [begin, end) of the chunk's transposed block
  };
  Workspace<Scalar> ws;
  std::vector<Segment> segments;
  std::vector<double> constants;      // (segment, component): log pi_k + log N's constant on o
  std::vector<std::size_t> regression_at, covariance_at;  // offsets per (segment, component)
  std::vector<Scalar> regression;     // A^T (|m|, |o|) row-major: E[x_m|x_o,k] - mu_m = A^T (x_o - mu_o)
  std::vector<double> covariance;     // C_k (|m|, |m|) row-major
  std::vector<double> scratch;        // condition()'s factor and solves, reused
  std::vector<Scalar> centered;       // fill(): one row's x_o - mu_o
  Vector<Scalar> row_constant;        // (padded rows) the constant of each row, one component
  Vector<Scalar> weight;              // (rows) the chunk's sample weights
  SufficientStatistics one;           // one component's statistics of the chunk
  Matrix<Scalar> one_shift;           // (1, D)
};

/// Conditional quantities of component k on the observed features o of one segment. The route
/// through P[m, m] costs O(|m|^3 + |m|^2 |o|), the one through Sigma[o, o] O(|o|^3 + |o|^2 |m|):
/// the cheaper is taken, so no pattern costs a D^3 factorisation.
template <typename Scalar>
void condition(const Model<Scalar>& model, const Conditioning& c, const std::vector<Index>& o,
               const std::vector<Index>& m, Index k, bool with_covariance, ChunkWorkspace<Scalar>& cw) {
  const Index no = static_cast<Index>(o.size()), nm = static_cast<Index>(m.size());
  cw.regression_at.push_back(cw.regression.size());
  cw.covariance_at.push_back(cw.covariance.size());
  if (nm == 0) {
    cw.constants.push_back(model.log_normalizers()[k]);  // exactly the complete-data constant
    return;
  }
  double constant = c.log_weight[k] - 0.5 * static_cast<double>(no) * kLog2Pi;
  if (!is_dense(c.type)) {
    const auto& U = model.precisions_cholesky();
    const auto scale = [&](Index d) { return static_cast<double>(c.type == CovarianceType::diag ? U(k, d) : U(k, 0)); };
    for (Index d : o) constant += std::log(scale(d));
    cw.constants.push_back(constant);
    if (with_covariance) {
      const std::size_t at = cw.covariance.size();
      cw.covariance.resize(at + nm * nm, 0.0);
      for (Index a = 0; a < nm; ++a) cw.covariance[at + a * nm + a] = 1.0 / (scale(m[a]) * scale(m[a]));
    }
    return;
  }
  const Index factor = c.type == CovarianceType::full ? k : 0;
  const auto not_positive = [&]() {
    return NumericalError("a marginal covariance of component " + std::to_string(k) +
                          " is not positive definite; increase reg_covar");
  };
  if (nm <= no) {
    // Sigma[o,o]^-1 = P[o,o] - P[o,m] P[m,m]^-1 P[m,o], det Sigma[o,o] = det Sigma det P[m,m].
    // Patterns are many and |m| small: the factorisation and solves are written out on reused
    // scratch, since Eigen's dynamic-size calls cost more in allocation and dispatch than in
    // arithmetic at these sizes.
    const DenseD& P = c.precision[factor];
    cw.scratch.resize(nm * nm + nm * no + (with_covariance ? nm * nm : 0));
    double* L = cw.scratch.data();  // lower factor of P[m, m], row-major
    double* Y = L + nm * nm;        // P[m, o], then P[m, m]^-1 P[m, o]
    for (Index a = 0; a < nm; ++a) {
      for (Index b = 0; b <= a; ++b) L[a * nm + b] = P(m[a], m[b]);
      for (Index b = 0; b < no; ++b) Y[a * no + b] = P(m[a], o[b]);
    }
    // log det L as a log of products, 16 pivots at a time (no overflow): few logs per pattern.
    double log_diagonal = 0.0, diagonal_product = 1.0;
    for (Index j = 0; j < nm; ++j) {
      double pivot = L[j * nm + j];
      for (Index t = 0; t < j; ++t) pivot -= L[j * nm + t] * L[j * nm + t];
      if (!(pivot > 0.0)) throw not_positive();
      pivot = std::sqrt(pivot);
      L[j * nm + j] = pivot;
      diagonal_product *= pivot;
      if (j % 16 == 15) log_diagonal += std::log(diagonal_product), diagonal_product = 1.0;
      for (Index i = j + 1; i < nm; ++i) {
        double value = L[i * nm + j];
        for (Index t = 0; t < j; ++t) value -= L[i * nm + t] * L[j * nm + t];
        L[i * nm + j] = value / pivot;
      }
    }
    constant += c.half_log_det[k] - (log_diagonal + std::log(diagonal_product));
    // Z <- (L L^T)^-1 Z for the columns of Z (nm, cols), in place.
    const auto solve = [&](double* Z, Index cols) {
      for (Index a = 0; a < nm; ++a) {
        for (Index t = 0; t < a; ++t)
          for (Index b = 0; b < cols; ++b) Z[a * cols + b] -= L[a * nm + t] * Z[t * cols + b];
        for (Index b = 0; b < cols; ++b) Z[a * cols + b] /= L[a * nm + a];
      }
      for (Index a = nm - 1; a >= 0; --a) {
        for (Index t = a + 1; t < nm; ++t)
          for (Index b = 0; b < cols; ++b) Z[a * cols + b] -= L[t * nm + a] * Z[t * cols + b];
        for (Index b = 0; b < cols; ++b) Z[a * cols + b] /= L[a * nm + a];
      }
    };
    solve(Y, no);
    cw.constants.push_back(constant);
    const std::size_t at = cw.regression.size();
    cw.regression.resize(at + nm * no);
    for (Index e = 0; e < nm * no; ++e) cw.regression[at + e] = static_cast<Scalar>(-Y[e]);
    if (with_covariance) {
      double* C_inv = Y + nm * no;
      for (Index a = 0; a < nm; ++a)
        for (Index b = 0; b < nm; ++b) C_inv[a * nm + b] = a == b ? 1.0 : 0.0;
      solve(C_inv, nm);
      const std::size_t c_at = cw.covariance.size();
      cw.covariance.resize(c_at + nm * nm);
      for (Index a = 0; a < nm; ++a)
        for (Index b = 0; b < nm; ++b)
          cw.covariance[c_at + a * nm + b] = 0.5 * (C_inv[a * nm + b] + C_inv[b * nm + a]);
    }
    return;
  }
  {
    // Fewer features observed than missing: through Sigma[o, o] (rare with MCAR).
    const DenseD& S = c.covariance[factor];
    DenseD A_t(nm, no), C;
    DenseD S_oo(no, no), S_om(no, nm);
    for (Index a = 0; a < no; ++a) {
      for (Index b = 0; b < no; ++b) S_oo(a, b) = S(o[a], o[b]);
      for (Index b = 0; b < nm; ++b) S_om(a, b) = S(o[a], m[b]);
    }
    if (no > 0) {
      const Eigen::LLT<DenseD> llt(S_oo);
      if (llt.info() != Eigen::Success) throw not_positive();
      constant -= DenseD(llt.matrixL()).diagonal().array().log().sum();
      A_t = llt.solve(S_om).transpose();
    }
    if (with_covariance) {
      C.resize(nm, nm);
      for (Index a = 0; a < nm; ++a)
        for (Index b = 0; b < nm; ++b) C(a, b) = S(m[a], m[b]);
      C.noalias() -= A_t * S_om;
    }
    cw.constants.push_back(constant);
    const std::size_t at = cw.regression.size();
    cw.regression.resize(at + nm * no);
    for (Index a = 0; a < nm; ++a)
      for (Index b = 0; b < no; ++b) cw.regression[at + a * no + b] = static_cast<Scalar>(A_t(a, b));
    if (with_covariance) {
      const std::size_t c_at = cw.covariance.size();
      cw.covariance.resize(c_at + nm * nm);
      for (Index a = 0; a < nm; ++a)
        for (Index b = 0; b < nm; ++b) cw.covariance[c_at + a * nm + b] = 0.5 * (C(a, b) + C(b, a));
    }
  }
}

/// Replaces the missing entries of every segment in the chunk's transposed block by component
/// k's conditional means and sets each row's constant.
template <typename Scalar>
void fill(const Model<Scalar>& model, const Patterns& p, Index k, ChunkWorkspace<Scalar>& cw) {
  const Index K = model.n_components();
  const auto mu = model.means().row(k);
  auto& x = cw.ws.transposed;
  for (std::size_t s = 0; s < cw.segments.size(); ++s) {
    const auto& seg = cw.segments[s];
    const Index len = seg.end - seg.begin;
    const std::size_t at = s * K + k;
    cw.row_constant.segment(seg.begin, len).setConstant(static_cast<Scalar>(cw.constants[at]));
    const auto& o = p.observed[seg.group];
    const auto& m = p.missing[seg.group];
    const Index no = static_cast<Index>(o.size()), nm = static_cast<Index>(m.size());
    const bool dense = is_dense(model.covariance_type());
    if (dense && nm > 0 && len < 16) {
      // A few rows: one row at a time, the vectorised form below would be all overhead.
      const Scalar* coefficients = cw.regression.data() + cw.regression_at[at];
      cw.centered.resize(no);
      for (Index j = seg.begin; j < seg.end; ++j) {
        for (Index b = 0; b < no; ++b) cw.centered[b] = x(o[b], j) - mu[o[b]];
        for (Index a = 0; a < nm; ++a) {
          Scalar value = mu[m[a]];
          for (Index b = 0; b < no; ++b) value += coefficients[a * no + b] * cw.centered[b];
          x(m[a], j) = value;
        }
      }
      continue;
    }
    for (std::size_t a = 0; a < m.size(); ++a) {
      auto out = x.row(m[a]).segment(seg.begin, len).array();
      out.setConstant(mu[m[a]]);
      if (!dense) continue;
      const Scalar* coefficients = cw.regression.data() + cw.regression_at[at] + a * no;
      for (Index b = 0; b < no; ++b)
        out += coefficients[b] * (x.row(o[b]).segment(seg.begin, len).array() - mu[o[b]]);
    }
  }
}

/// Loads chunk [begin, end) of the pattern order, computes its conditional quantities and, in
/// ws.log_prob, log pi_k + log N(x_o | k) (or responsibilities when `normalize`).
template <typename Scalar>
void score_chunk(const Model<Scalar>& model, const Conditioning& c, const Patterns& p, const MatrixCRef<Scalar>& X,
                 Index begin, Index end, bool normalize, bool with_covariance, ChunkWorkspace<Scalar>& cw) {
  const Index n = end - begin, D = model.n_features(), K = model.n_components();
  const Index padded = detail::padded_rows<Scalar>(n);
  auto& ws = cw.ws;
  detail::reserve(ws.transposed, D, padded + 8);  // the stride of load_transposed()
  for (Index j = 0; j < n; ++j) {
    const Index i = p.order[begin + j];
    for (Index d = 0; d < D; ++d) ws.transposed(d, j) = X(i, d);
  }
  ws.transposed.middleCols(n, padded - n).setZero();

  cw.segments.clear();
  Index g = std::upper_bound(p.group_begin.begin(), p.group_begin.end(), begin) - p.group_begin.begin() - 1;
  for (Index pos = begin; pos < end; ++g) {
    const Index stop = std::min(end, p.group_begin[g + 1]);
    cw.segments.push_back({g, pos - begin, stop - begin});
    pos = stop;
  }
  cw.constants.clear();
  cw.regression_at.clear();
  cw.covariance_at.clear();
  cw.regression.clear();
  cw.covariance.clear();
  for (const auto& seg : cw.segments)
    for (Index k = 0; k < K; ++k) {
      const std::size_t first = cw.constants.size() - static_cast<std::size_t>(k);
      if (c.type == CovarianceType::tied && k > 0 && !p.missing[seg.group].empty()) {
        // One shared covariance: component 0's conditioning serves all, up to log pi_k.
        cw.constants.push_back(cw.constants[first] - c.log_weight[0] + c.log_weight[k]);
        cw.regression_at.push_back(cw.regression_at[first]);
        cw.covariance_at.push_back(cw.covariance_at[first]);
        continue;
      }
      condition(model, c, p.observed[seg.group], p.missing[seg.group], k, with_covariance, cw);
    }

  const CovarianceType type = model.covariance_type();
  const bool dense = is_dense(type);
  const auto& U = model.precisions_cholesky();
  if (type == CovarianceType::spherical)
    ws.scale = U.col(0).replicate(1, D);
  else if (type == CovarianceType::diag)
    ws.scale = U;
  ws.shape_log_prob(n, K);
  detail::reserve(ws.lanes, D, detail::kLanes<Scalar>);
  cw.row_constant.setZero(padded);
  const Scalar* factors_t = model.precisions_cholesky_transposed().data();
  const Index factor_size = type == CovarianceType::full ? D * D : 0;
  const Scalar* x = ws.transposed.data();
  const Index stride = ws.transposed.cols();
  for (Index k = 0; k < K; ++k) {
    fill(model, p, k, cw);
    const auto mu = model.means().row(k);
    for (Index i = 0; i < n; i += detail::kLanes<Scalar>) {
      const Index rows = std::min(detail::kLanes<Scalar>, n - i);
      const detail::Lanes<Scalar> quadratic =
          dense ? detail::full_quadratic(x + i, stride, mu, factors_t + k * factor_size, D, ws.lanes.data())
                : detail::diagonal_quadratic(x + i, stride, mu.data(), ws.scale.row(k).data(), D);
      Eigen::Map<Vector<Scalar>>(ws.log_prob.col(k).data() + i, rows) =
          cw.row_constant.segment(i, rows).array() - Scalar(0.5) * quadratic.head(rows);
    }
  }
  if (normalize) detail::normalize_log_prob(ws);
}

/// Adds the expected statistics of the chunk scored last into `stats`.
template <typename Scalar>
void accumulate_chunk(const Model<Scalar>& model, const Patterns& p, const VectorCRef<Scalar>& sample_weight,
                      Index begin, Index end, SufficientStatistics& stats, ChunkWorkspace<Scalar>& cw) {
  const Index n = end - begin, D = model.n_features(), K = model.n_components();
  const CovarianceType type = model.covariance_type();
  auto& ws = cw.ws;
  const bool weighted = sample_weight.size() > 0;
  if (weighted) {
    cw.weight.resize(n);
    for (Index j = 0; j < n; ++j) cw.weight[j] = sample_weight[p.order[begin + j]];
    const auto w = cw.weight.template cast<double>();
    stats.log_likelihood_sum += ws.log_norm.template cast<double>().dot(w);
    stats.weight_sum += w.sum();
  } else {
    stats.log_likelihood_sum += ws.log_norm.template cast<double>().sum();
    stats.weight_sum += static_cast<double>(n);
  }
  if (cw.one.covariance_type != type || cw.one.n_features() != D)
    cw.one = SufficientStatistics(type, Matrix<double>::Zero(1, D));
  for (Index k = 0; k < K; ++k) {
    const auto resp = ws.log_prob.col(k);
    if ((resp.array() == Scalar(0)).all()) continue;
    fill(model, p, k, cw);
    cw.one.resp_sum.setZero();
    cw.one.first.setZero();
    cw.one.second.setZero();
    cw.one_shift = model.means().row(k);
    // The complete-data accumulator on the filled block, as a one-component mixture.
    detail::accumulate_transposed(n, resp, weighted ? cw.weight.data() : nullptr, cw.one_shift, cw.one, ws);
    stats.resp_sum[k] += cw.one.resp_sum[0];
    stats.first.row(k) += cw.one.first.row(0);
    switch (type) {
      case CovarianceType::full: stats.second.middleRows(k * D, D) += cw.one.second; break;
      case CovarianceType::tied: stats.second += cw.one.second; break;
      default: stats.second.row(k) += cw.one.second.row(0); break;
    }
    // + sum_i w_i r_ik C_k on the missing block of each segment.
    for (std::size_t s = 0; s < cw.segments.size(); ++s) {
      const auto& seg = cw.segments[s];
      const auto& m = p.missing[seg.group];
      if (m.empty()) continue;
      double mass = 0.0;
      for (Index j = seg.begin; j < seg.end; ++j)
        mass += static_cast<double>(resp[j]) * (weighted ? static_cast<double>(cw.weight[j]) : 1.0);
      if (mass == 0.0) continue;
      const double* C = cw.covariance.data() + cw.covariance_at[s * K + k];
      const Index nm = static_cast<Index>(m.size());
      for (Index a = 0; a < nm; ++a) {
        if (!is_dense(type)) {
          stats.second(k, m[a]) += mass * C[a * nm + a];
          continue;
        }
        const Index row = type == CovarianceType::full ? k * D : 0;
        for (Index b = 0; b < nm; ++b) stats.second(row + m[a], m[b]) += mass * C[a * nm + b];
      }
    }
  }
}

template <typename Scalar>
struct PassBuffers {
  std::vector<ChunkWorkspace<Scalar>> workspaces;
  std::vector<SufficientStatistics> partial;
};

/// One E-step pass over the rows of `p` into buffers.partial[0].
template <typename Scalar>
void expectation_pass(const Model<Scalar>& model, const MatrixCRef<Scalar>& X, const VectorCRef<Scalar>& sample_weight,
                      const Patterns& p, PassBuffers<Scalar>& buffers) {
  const Conditioning c = conditioning_of(model);
  const Index rows = detail::block_rows(X.cols()), n = static_cast<Index>(p.order.size());
  const int n_threads = detail::threads_for(n, rows);
  buffers.workspaces.resize(n_threads);
  buffers.partial.assign(n_threads, SufficientStatistics(model.covariance_type(), model.means().template cast<double>()));
  detail::for_each_block(n, rows, n_threads, [&](int thread, Index begin, Index end) {
    auto& cw = buffers.workspaces[thread];
    score_chunk(model, c, p, X, begin, end, true, true, cw);
    accumulate_chunk(model, p, sample_weight, begin, end, buffers.partial[thread], cw);
  });
  for (int t = 1; t < n_threads; ++t) buffers.partial[0].merge(buffers.partial[t]);
}

/// Scores X chunk by chunk in pattern order and hands each chunk to visit(begin, end, workspace).
template <typename Scalar, typename Visit>
void for_each_scored_chunk(const Model<Scalar>& model, const MatrixCRef<Scalar>& X, const Patterns& p, bool normalize,
                           bool with_covariance, Visit&& visit) {
  const Conditioning c = conditioning_of(model);
  const Index rows = detail::block_rows(X.cols()), n = static_cast<Index>(p.order.size());
  const int n_threads = detail::threads_for(n, rows);
  std::vector<ChunkWorkspace<Scalar>> workspaces(n_threads);
  detail::for_each_block(n, rows, n_threads, [&](int thread, Index begin, Index end) {
    auto& cw = workspaces[thread];
    score_chunk(model, c, p, X, begin, end, normalize, with_covariance, cw);
    visit(begin, end, cw);
  });
}

void check_model(Index n_components, const char* caller) {
  detail::require(n_components > 0, caller, "the model has no components");
}

void check_iteration_options(const FitOptions& options, const char* caller) {
  detail::require(std::isfinite(options.tol) && options.tol >= 0.0, caller, "tol must be finite and >= 0");
  detail::require(std::isfinite(options.reg_covar) && options.reg_covar >= 0.0, caller,
                  "reg_covar must be finite and >= 0");
  detail::require(options.max_iter >= 0, caller, "max_iter must be >= 0");
  detail::require(options.n_init >= 1, caller, "n_init must be >= 1");
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

template <typename Scalar>
SufficientStatistics expectation_step_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                                              NoDeduce<VectorCRef<Scalar>> sample_weight) {
  const char* caller = "expectation_step_missing()";
  check_model(model.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller))
    return expectation_step<Scalar>(model, X, sample_weight);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  PassBuffers<Scalar> buffers;
  expectation_pass<Scalar>(model, X, sample_weight, group_by_pattern<Scalar>(X, true), buffers);
  return std::move(buffers.partial[0]);
}

template <typename Scalar>
FitResult<Scalar> fit_missing(MatrixCRef<Scalar> X, const FitOptions& options, VectorCRef<Scalar> sample_weight,
                              const InitialParameters<Scalar>& init) {
  const char* caller = "fit_missing()";
  if (!check_data_with_missing<Scalar>(X, -1, caller)) return fit<Scalar>(X, options, sample_weight, init);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  check_iteration_options(options, caller);
  const Patterns p = group_by_pattern<Scalar>(X, true);
  require_observed_columns(p, caller);

  // Starting models: options.init on the rows with an observed value, in their original order,
  // each NaN replaced by its column's weighted mean. fit() with max_iter = 0 checks the options
  // and returns exactly that initial model.
  std::vector<Model<Scalar>> starts;
  {
    std::vector<Index> kept = p.order;
    std::sort(kept.begin(), kept.end());
    const Index n = static_cast<Index>(kept.size()), D = X.cols();
    const bool weighted = sample_weight.size() > 0;
    Eigen::VectorXd sums = Eigen::VectorXd::Zero(D), mass = Eigen::VectorXd::Zero(D);
    for (Index i : kept) {
      const double w = weighted ? static_cast<double>(sample_weight[i]) : 1.0;
      for (Index d = 0; d < D; ++d)
        if (!std::isnan(X(i, d))) {
          sums[d] += w * static_cast<double>(X(i, d));
          mass[d] += w;
        }
    }
    // A column observed only in rows of weight zero falls back to its unweighted mean.
    for (Index d = 0; d < D; ++d)
      if (!(mass[d] > 0.0)) {
        sums[d] = mass[d] = 0.0;
        for (Index i : kept)
          if (!std::isnan(X(i, d))) sums[d] += static_cast<double>(X(i, d)), mass[d] += 1.0;
      }
    const Eigen::VectorXd means = sums.cwiseQuotient(mass);
    Matrix<Scalar> filled(n, D);
    Vector<Scalar> filled_weight(weighted ? n : 0);
    for (Index j = 0; j < n; ++j) {
      const Index i = kept[j];
      for (Index d = 0; d < D; ++d)
        filled(j, d) = std::isnan(X(i, d)) ? static_cast<Scalar>(means[d]) : X(i, d);
      if (weighted) filled_weight[j] = sample_weight[i];
    }
    FitOptions start_options = options;
    start_options.max_iter = 0;
    start_options.n_init = 1;
    for (int i = 0; i < options.n_init; ++i) {
      start_options.seed = detail::derive_seed(options.seed, static_cast<std::uint64_t>(i));
      starts.push_back(fit<Scalar>(filled, start_options, filled_weight, init).model);
    }
  }

  PassBuffers<Scalar> buffers;
  const auto pass = [&](const Model<Scalar>& model) -> const SufficientStatistics& {
    expectation_pass<Scalar>(model, X, sample_weight, p, buffers);
    return buffers.partial[0];
  };
  FitResult<Scalar> best;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    detail::keep_best(best,
                      detail::run_em_over<Scalar>(std::move(starts[i]), options,
                                                  -std::numeric_limits<double>::infinity(), pass),
                      i, seconds_since(start));
  }
  return best;
}

template <typename Scalar>
FitResult<Scalar> fit_from_missing(const Model<Scalar>& start, NoDeduce<MatrixCRef<Scalar>> X,
                                   const FitOptions& options, NoDeduce<VectorCRef<Scalar>> sample_weight,
                                   double initial_lower_bound) {
  const char* caller = "fit_from_missing()";
  check_model(start.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, start.n_features(), caller))
    return fit_from<Scalar>(start, X, options, sample_weight, initial_lower_bound);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  const Patterns p = group_by_pattern<Scalar>(X, true);
  require_observed_columns(p, caller);
  detail::require(start.n_components() == options.n_components && start.covariance_type() == options.covariance_type,
                  caller, "the starting model's n_components or covariance_type differs from the options");
  check_iteration_options(options, caller);
  PassBuffers<Scalar> buffers;
  const auto begin = std::chrono::steady_clock::now();
  FitResult<Scalar> run =
      detail::run_em_over<Scalar>(start, options, initial_lower_bound, [&](const Model<Scalar>& model) -> const SufficientStatistics& {
        expectation_pass<Scalar>(model, X, sample_weight, p, buffers);
        return buffers.partial[0];
      });
  run.inits.push_back({run.lower_bound, run.converged, run.n_iter, seconds_since(begin)});
  return run;
}

template <typename Scalar>
Matrix<Scalar> weighted_log_prob_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X) {
  const char* caller = "weighted_log_prob_missing()";
  check_model(model.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return model.weighted_log_prob(X);
  const Patterns p = group_by_pattern<Scalar>(X, false);
  Matrix<Scalar> result(X.rows(), model.n_components());
  for_each_scored_chunk<Scalar>(model, X, p, false, false, [&](Index begin, Index end, const ChunkWorkspace<Scalar>& cw) {
    for (Index j = 0; j < end - begin; ++j) result.row(p.order[begin + j]) = cw.ws.log_prob.row(j);
  });
  return result;
}

template <typename Scalar>
Vector<Scalar> score_samples_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X) {
  const char* caller = "score_samples_missing()";
  check_model(model.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return model.score_samples(X);
  const Patterns p = group_by_pattern<Scalar>(X, false);
  Vector<Scalar> result(X.rows());
  for_each_scored_chunk<Scalar>(model, X, p, true, false, [&](Index begin, Index end, const ChunkWorkspace<Scalar>& cw) {
    for (Index j = 0; j < end - begin; ++j) result[p.order[begin + j]] = cw.ws.log_norm[j];
  });
  return result;
}

template <typename Scalar>
Matrix<Scalar> predict_proba_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X) {
  const char* caller = "predict_proba_missing()";
  check_model(model.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return model.predict_proba(X);
  const Patterns p = group_by_pattern<Scalar>(X, false);
  Matrix<Scalar> result(X.rows(), model.n_components());
  for_each_scored_chunk<Scalar>(model, X, p, true, false, [&](Index begin, Index end, const ChunkWorkspace<Scalar>& cw) {
    for (Index j = 0; j < end - begin; ++j) result.row(p.order[begin + j]) = cw.ws.log_prob.row(j);
  });
  return result;
}

template <typename Scalar>
LabelVector predict_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X) {
  const char* caller = "predict_missing()";
  check_model(model.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return model.predict(X);
  const Patterns p = group_by_pattern<Scalar>(X, false);
  LabelVector labels(X.rows());
  for_each_scored_chunk<Scalar>(model, X, p, false, false, [&](Index begin, Index end, const ChunkWorkspace<Scalar>& cw) {
    for (Index j = 0; j < end - begin; ++j) {
      Index best = 0;
      cw.ws.log_prob.row(j).maxCoeff(&best);
      labels[p.order[begin + j]] = best;
    }
  });
  return labels;
}

template <typename Scalar>
double score_missing(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X,
                     NoDeduce<VectorCRef<Scalar>> sample_weight) {
  const char* caller = "score_missing()";
  check_model(model.n_components(), caller);
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return model.score(X, sample_weight);
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  const Vector<double> log_density = score_samples_missing<Scalar>(model, X).template cast<double>();
  if (sample_weight.size() == 0) return log_density.mean();
  const Vector<double> w = sample_weight.template cast<double>();
  return log_density.dot(w) / w.sum();
}

template <typename Scalar>
Matrix<Scalar> impute(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X) {
  const char* caller = "impute()";
  check_model(model.n_components(), caller);
  Matrix<Scalar> result = X;
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return result;
  const Patterns p = group_by_pattern<Scalar>(X, false);
  const Index K = model.n_components();
  for_each_scored_chunk<Scalar>(model, X, p, true, false, [&](Index begin, Index, ChunkWorkspace<Scalar>& cw) {
    for (const auto& seg : cw.segments)
      for (Index d : p.missing[seg.group])
        for (Index j = seg.begin; j < seg.end; ++j) result(p.order[begin + j], d) = Scalar(0);
    // The responsibilities stay in ws.log_prob; fill() only rewrites the transposed block.
    for (Index k = 0; k < K; ++k) {
      fill(model, p, k, cw);
      for (const auto& seg : cw.segments)
        for (Index d : p.missing[seg.group])
          for (Index j = seg.begin; j < seg.end; ++j)
            result(p.order[begin + j], d) += cw.ws.log_prob(j, k) * cw.ws.transposed(d, j);
    }
  });
  return result;
}

template <typename Scalar>
Matrix<Scalar> impute_sample(const Model<Scalar>& model, NoDeduce<MatrixCRef<Scalar>> X, std::uint64_t seed) {
  const char* caller = "impute_sample()";
  check_model(model.n_components(), caller);
  Matrix<Scalar> result = X;
  if (!check_data_with_missing<Scalar>(X, model.n_features(), caller)) return result;
  const Patterns p = group_by_pattern<Scalar>(X, false);
  const Index K = model.n_components();
  for_each_scored_chunk<Scalar>(model, X, p, true, true, [&](Index begin, Index end, ChunkWorkspace<Scalar>& cw) {
    // Each row draws its component and its normals from its own stream.
    const Index n = end - begin;
    std::vector<Index> component(n, 0);
    std::vector<detail::Random> streams;
    streams.reserve(n);
    for (Index j = 0; j < n; ++j) {
      streams.emplace_back(detail::derive_seed(seed, static_cast<std::uint64_t>(p.order[begin + j])));
      const double u = streams.back().uniform();
      double running = 0.0;
      component[j] = K - 1;
      for (Index k = 0; k < K; ++k) {
        running += static_cast<double>(cw.ws.log_prob(j, k));
        if (u < running) {
          component[j] = k;
          break;
        }
      }
    }
    for (Index k = 0; k < K; ++k) {
      fill(model, p, k, cw);
      for (std::size_t s = 0; s < cw.segments.size(); ++s) {
        const auto& seg = cw.segments[s];
        const auto& m = p.missing[seg.group];
        const Index nm = static_cast<Index>(m.size());
        if (nm == 0 || std::find(component.begin() + seg.begin, component.begin() + seg.end, k) ==
                           component.begin() + seg.end)
          continue;
        // C = V diag(lambda) V^T; a draw is V sqrt(lambda) z (lambda clamped at 0 against rounding).
        const Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> C(
            cw.covariance.data() + cw.covariance_at[s * K + k], nm, nm);
        const Eigen::SelfAdjointEigenSolver<DenseD> eig{DenseD(C)};
        const DenseD root = eig.eigenvectors() * eig.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
        Eigen::VectorXd z(nm);
        for (Index j = seg.begin; j < seg.end; ++j) {
          if (component[j] != k) continue;
          for (Index a = 0; a < nm; ++a) z[a] = streams[j].normal();
          const Eigen::VectorXd draw = root * z;
          for (Index a = 0; a < nm; ++a)
            result(p.order[begin + j], m[a]) = cw.ws.transposed(m[a], j) + static_cast<Scalar>(draw[a]);
        }
      }
    }
  });
  return result;
}

#define GAUSSMIX_INSTANTIATE_MISSING(Scalar)                                                                        \
  template SufficientStatistics expectation_step_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>,          \
                                                                 VectorCRef<Scalar>);                               \
  template FitResult<Scalar> fit_missing<Scalar>(MatrixCRef<Scalar>, const FitOptions&, VectorCRef<Scalar>,         \
                                                 const InitialParameters<Scalar>&);                                 \
  template FitResult<Scalar> fit_from_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>, const FitOptions&,  \
                                                      VectorCRef<Scalar>, double);                                  \
  template Matrix<Scalar> weighted_log_prob_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>);              \
  template Vector<Scalar> score_samples_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>);                  \
  template Matrix<Scalar> predict_proba_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>);                  \
  template LabelVector predict_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>);                           \
  template double score_missing<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>, VectorCRef<Scalar>);              \
  template Matrix<Scalar> impute<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>);                                 \
  template Matrix<Scalar> impute_sample<Scalar>(const Model<Scalar>&, MatrixCRef<Scalar>, std::uint64_t);

GAUSSMIX_INSTANTIATE_MISSING(float)
GAUSSMIX_INSTANTIATE_MISSING(double)
#undef GAUSSMIX_INSTANTIATE_MISSING

}  // namespace gaussmix
