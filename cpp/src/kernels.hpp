#pragma once
// Per-block kernels shared by scoring and the E-step. A Workspace belongs to one thread and is
// reused for every block it processes; its buffers only grow, so the EM loop allocates nothing
// per block.
//
// The kernels read the block transposed, X_blkᵀ (n_features, rows) with each feature's values
// contiguous, and treat rows as independent SIMD lanes. Every sum over features is then a run of
// vertical FMAs in feature order, with no horizontal reductions and no packing, and the same for
// any vector width. This is what makes the small-D, diag and spherical cases run at FMA speed,
// and for full covariances it does the triangular product's D²/2 multiply-adds per row and
// component at close to peak without the overhead of a GEMM call on small operands.

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "gaussmix/model.hpp"
#include "gaussmix/statistics.hpp"
#include "packet_math.hpp"
#include "parallel.hpp"

namespace gaussmix::detail {

// Column-major (rows, n_components): each component writes one contiguous column.
template <typename Scalar>
using ColMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// Forces a lambda inline: GCC kept small_dense_posteriors()' per-packet lambda out of line.
#if defined(__GNUC__)
#define GAUSSMIX_INLINE_LAMBDA __attribute__((always_inline))
#else
#define GAUSSMIX_INLINE_LAMBDA
#endif

// Fully unrolls a loop of a few iterations whose arrays must live in registers: GCC keeps an
// array indexed by a loop variable it has not unrolled in memory (stopped_quadratic()'s
// accumulators were stored back on every multiply-add).
#if defined(__GNUC__)
#define GAUSSMIX_UNROLL _Pragma("GCC unroll 8")
#else
#define GAUSSMIX_UNROLL
#endif

/// Rows processed together: eight SIMD registers of accumulators, enough independent FMA chains
/// to hide their latency without spilling; at most 64 so that blocks of 64 rows waste nothing.
template <typename Scalar>
constexpr Index kLanes = std::min<Index>(64, 8 * Eigen::internal::packet_traits<Scalar>::size);

template <typename Scalar>
using Lanes = Eigen::Array<Scalar, kLanes<Scalar>, 1>;

/// Lanes for sums over rows: two SIMD registers, so that a block's many short reductions (one
/// per feature, or pair of features, and component) spend little on the final horizontal sum.
template <typename Scalar>
constexpr Index kSumLanes = 2 * Eigen::internal::packet_traits<Scalar>::size;

/// `rows` rounded up to whole groups of lanes.
template <typename Scalar>
Index padded_rows(Index rows) {
  return (rows + kLanes<Scalar> - 1) / kLanes<Scalar> * kLanes<Scalar>;
}

/// Resizes m only when it is too small, so later blocks reuse the allocation.
template <typename M>
void reserve(M& m, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, cols);
}

template <typename Scalar>
struct Workspace {
  Matrix<Scalar> transposed;  // (D, padded rows) X_blkᵀ; zero in the padding
  Matrix<Scalar> scaled;      // (D, padded rows) (X_blkᵀ - s_k) sqrt(w_i r_ik) (full and tied statistics)
  Vector<Scalar> root;        // (padded rows) sqrt(w_i r_ik)
  Matrix<Scalar> scale;       // (K, D) per-feature precision factors (diag, spherical)
  // (rows, K) log pi_k + log N(x | k), then responsibilities: a view of log_prob_storage set by
  // shape_log_prob(), its columns a cache line more than whole lines apart. Unpadded, 512 rows of
  // float64 put all K columns 4 KiB apart, in the same L1 sets, where a packet of rows read
  // across 32 components cannot stay (W4 iteration -3% padded, native A/B on Zen 4).
  using ColumnsView = Eigen::Map<ColMatrix<Scalar>, 0, Eigen::OuterStride<>>;
  ColumnsView log_prob{nullptr, 0, 0, Eigen::OuterStride<>(1)};
  ColMatrix<Scalar> log_prob_storage;
  Vector<Scalar> log_norm;    // (rows) log p(x), unless log_norm_summed
  bool log_norm_summed = false; // only their sum is known: log_norm_sum (small_dense_posteriors())
  double log_norm_sum = 0.0;
  Vector<Scalar> total;       // (rows) sum_k exp(log_prob - max), then its inverse
  bool unscaled = false;      // log_prob holds each row's exp(log_prob - max), still to be multiplied by `total`
  Vector<Scalar> resp;        // (padded rows) w_i r_ik of one component; zero in the padding
  ColMatrix<Scalar> group_resp; // (padded rows, kMomentGroup) the same for components summed together
  std::vector<Index> group;   // those components (diag and spherical, not gathered)
  Matrix<Scalar> lanes;       // (D, kLanes) one group of rows, centred (full_quadratic())
  ColMatrix<Scalar> partial;  // (kLanes, K) the group's first columns of every full form
  std::vector<char> promising; // (K) components computed first in the early-stop order
  Matrix<Scalar> kept;        // (D, padded rows) the block's rows with r_ik > 0, transposed
  Vector<Scalar> kept_scaled; // (n kept x gram_stride(D)) the same rows as (x_i - s_k) sqrt(w_i r_ik), row by row
  Vector<Scalar> kept_resp;   // (padded rows) their w_i r_ik; zero in the padding
  std::vector<Index> kept_rows; // their indices in the block (accumulate_labelled(): rows by label)
  std::vector<Index> label_start; // (K + 1) where each label's rows end in kept_rows (accumulate_labelled())
  Eigen::Array<Scalar, Eigen::Dynamic, 1> first_sum, second_sum; // (K x D) each label's diag sums (accumulate_labelled_diagonal()); first_sum also (D) add_dense_moments_of_rows()
  Eigen::ArrayXd label_total;  // (K) each label's weight
  Vector<Scalar> lowest;      // (K) the least log-probability that is not an overflow (small_dense_posteriors())
  // Rows recomputed by rescore_far_rows(): their log_prob is stored minus `offset` (its row
  // maximum), so that log_prob + offset is the true value and the row's largest entry is 0.
  std::vector<std::pair<Index, double>> far_rows;

  Workspace() = default;
  // Moving keeps log_prob_storage's buffer, so the view stays valid; a copy would view the source's.
  Workspace(Workspace&&) = default;
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  Workspace& operator=(Workspace&&) = delete;

  /// Makes log_prob a (rows, K) view, reusing the storage when it is large enough.
  void shape_log_prob(Index rows, Index K) {
    constexpr Index line = 64 / static_cast<Index>(sizeof(Scalar));
    const Index stride = (rows + line - 1) / line * line + line;
    if (log_prob_storage.rows() < stride || log_prob_storage.cols() < K)
      log_prob_storage.resize(std::max(stride, log_prob_storage.rows()), std::max(K, log_prob_storage.cols()));
    new (&log_prob) ColumnsView(log_prob_storage.data(), rows, K, Eigen::OuterStride<>(log_prob_storage.rows()));
  }
};

/// Per-thread workspaces and partial statistics of one E-step pass, kept across the passes of an
/// EM run so that after the first the loop allocates (and page-faults in) nothing.
template <typename Scalar>
struct PassBuffers {
  std::vector<Workspace<Scalar>> workspaces;
  std::vector<SufficientStatistics> partial;
};

/// expectation_step() into buffers.partial[0], reusing the buffers' memory.
template <typename Scalar>
void expectation_step(const Model<Scalar>& model, MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight,
                      PassBuffers<Scalar>& buffers);

// PacketBlock<Packet, n> drops the SIMD type's alignment attribute, harmlessly: Eigen silences
// the same warning in its own headers.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif
/// out[d * stride + i] = in[i * Features + d] for rows rows of a dense row-major block: with the
/// stride known, the compiler turns each feature's loop into vector loads and permutes (W1,
/// D = 2: value by value this copy took 10% of an iteration).
template <int Features, typename Scalar>
void deinterleave(const Scalar* in, Index rows, Scalar* out, Index stride) {
  for (int d = 0; d < Features; ++d) {
    Scalar* to = out + d * stride;
    const Scalar* from = in + d;
    for (Index i = 0; i < rows; ++i) to[i] = from[i * Features];
  }
}

/// Rows of a block in memory, one after another (`stride` values apart): how
/// add_dense_moments_of_rows() reads the rows a component keeps and NextRowsPrefetch finds the
/// next block. Null when the block is not laid out so.
template <typename Scalar>
struct RowMajorRows {
  const Scalar* data = nullptr;
  Index stride = 0;
};

template <typename Rows>
RowMajorRows<typename Rows::Scalar> row_major_rows(const Eigen::MatrixBase<Rows>& X_blk) {
  if constexpr ((Rows::Flags & Eigen::DirectAccessBit) && (Rows::Flags & Eigen::RowMajorBit))
    if (X_blk.derived().innerStride() == 1) return {X_blk.derived().data(), X_blk.derived().outerStride()};
  return {};
}

/// Prefetches the rows that follow a block in memory, the next block its thread takes (see
/// for_each_block()), a slice per call of step() while the block is computed: the kernels are
/// bound by arithmetic, so the next block's first read from memory then overlaps them instead of
/// stalling load_transposed() (interleaved A/B runs on Zen 4, 2 threads: W1 iteration 5% faster,
/// W4 7%, float32 W4 9%). A no-op for blocks that are not contiguous rows. Prefetches never
/// fault, past the end of X included.
class NextRowsPrefetch {
 public:
  template <typename Rows>
  NextRowsPrefetch(const Eigen::MatrixBase<Rows>& X_blk, Index steps) {
    const auto block = row_major_rows(X_blk);
    const Index values = X_blk.rows() * X_blk.cols();
    if (!block.data || block.stride != X_blk.cols() || values == 0) return;
    next_ = reinterpret_cast<const char*>(block.data + values);
    end_ = next_ + values * static_cast<Index>(sizeof(typename Rows::Scalar));
    slice_ = ((end_ - next_) / std::max<Index>(steps, 1) + kLine - 1) / kLine * kLine;
  }
  void step() {
    for (Index b = 0; b < slice_ && next_ < end_; b += kLine, next_ += kLine) __builtin_prefetch(next_);
  }

 private:
  static constexpr Index kLine = 64;
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  Index slice_ = 0;
};

/// Copies X_blkᵀ into ws.transposed, zero-padded to whole groups of lanes.
template <typename Scalar, typename Rows>
void load_transposed(const Eigen::MatrixBase<Rows>& X_blk, Workspace<Scalar>& ws) {
  const Index rows = X_blk.rows(), D = X_blk.cols(), padded = padded_rows<Scalar>(rows);
  // A row stride off powers of two keeps the D rows written together out of one cache set.
  reserve(ws.transposed, D, padded + 8);
  Scalar* out = ws.transposed.data();
  const Index stride = ws.transposed.cols();
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr Index width = Eigen::internal::packet_traits<Scalar>::size;
  // Squares of width x width values transposed in registers, from rows read in place.
  constexpr bool in_place = (Rows::Flags & Eigen::DirectAccessBit) && (Rows::Flags & Eigen::RowMajorBit);
  Index full_rows = 0, full_features = 0;
  if constexpr (in_place) {
    if (X_blk.derived().innerStride() == 1 && X_blk.derived().outerStride() == D && D >= 2 && D <= 4) {
      const Scalar* in = X_blk.derived().data();
      switch (D) {
        case 2: deinterleave<2>(in, rows, out, stride); break;
        case 3: deinterleave<3>(in, rows, out, stride); break;
        default: deinterleave<4>(in, rows, out, stride); break;
      }
      ws.transposed.middleCols(rows, padded - rows).setZero();
      return;
    }
  }
  if constexpr (in_place && width > 1) {
    if (X_blk.derived().innerStride() == 1) {
      full_rows = rows / width * width;
      full_features = D / width * width;
      const Scalar* in = X_blk.derived().data();
      const Index in_stride = X_blk.derived().outerStride();
      for (Index i0 = 0; i0 < full_rows; i0 += width)
        for (Index d0 = 0; d0 < full_features; d0 += width) {
          Eigen::internal::PacketBlock<Packet, width> square;
          for (Index j = 0; j < width; ++j)
            square.packet[j] = Eigen::internal::ploadu<Packet>(in + (i0 + j) * in_stride + d0);
          Eigen::internal::ptranspose(square);
          for (Index j = 0; j < width; ++j) Eigen::internal::pstoreu(out + (d0 + j) * stride + i0, square.packet[j]);
        }
    }
  }
  // The ragged edges value by value: the last features of every row (all of them when no
  // square was done), eight rows at a time so that each source line is read once, and the
  // last rows.
  for (Index i0 = 0; i0 < rows; i0 += 8) {
    const Index n = std::min<Index>(8, rows - i0);
    for (Index d = full_features; d < D; ++d)
      for (Index i = i0; i < i0 + n; ++i) out[d * stride + i] = X_blk(i, d);
  }
  for (Index d = 0; d < full_features; ++d)
    for (Index i = full_rows; i < rows; ++i) out[d * stride + i] = X_blk(i, d);
  ws.transposed.middleCols(rows, padded - rows).setZero();
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

/// Columns of U between two checks of full_quadratic()'s early stop.
constexpr Index kPruneColumns = 8;

/// Responsibilities are flushed to exact zeros below exp(log_floor) times their row's largest
/// (normalize_log_prob()). Scoring (predict_proba, score) flushes only what would be subnormal;
/// the E-step of a fit flushes below 2^-kFitFloorBits, where a term cannot change a sum it
/// enters by a rounding unit (see detail::expectation_step()).
template <typename Scalar>
Scalar subnormal_log_floor() {
  return std::log(std::numeric_limits<Scalar>::min());
}
constexpr int kFitFloorBits = 100;
template <typename Scalar>
Scalar fit_log_floor() {
  return static_cast<Scalar>(-kFitFloorBits * 0.69314718055994530942);
}

/// True when constant - total / 2 lies below best + log_floor in every lane of the P packets: a
/// component whose quadratic form is at least `total` has a responsibility that
/// normalize_log_prob() with the same floor flushes to zero (see full_quadratic()).
template <typename Packet, int P>
EIGEN_ALWAYS_INLINE bool packets_flushed(const Packet (&total)[P], const Packet& constant, const Packet (&best)[P],
                                         const Packet& log_floor) {
  using namespace Eigen::internal;
  using Scalar = typename unpacket_traits<Packet>::type;
  const Packet half = pset1<Packet>(Scalar(0.5)), all = pcmp_eq(log_floor, log_floor);
  Packet flushed = all;
  for (int p = 0; p < P; ++p)
    flushed = pand(flushed, pcmp_lt(psub(psub(constant, pmul(half, total[p])), best[p]), log_floor));
  return !any_lane(pandnot(all, flushed));
}

/// packets_flushed() for a whole group of lanes.
template <typename Scalar>
bool certainly_flushed(const Lanes<Scalar>& partial, Scalar constant, const Lanes<Scalar>& best, Scalar log_floor) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  constexpr int P = static_cast<int>(kLanes<Scalar> / width);
  Packet total[P], top[P];
  for (int p = 0; p < P; ++p) {
    total[p] = ploadu<Packet>(partial.data() + p * width);
    top[p] = ploadu<Packet>(best.data() + p * width);
  }
  return packets_flushed(total, pset1<Packet>(constant), top, pset1<Packet>(log_floor));
}

/// sum_j ((x - mu)ᵀ U)_j² for one group of lanes, from the transposed block at `x` (row stride
/// `stride`) and the upper triangular U (D, D), given as Uᵀ (`factor_t`, row-major, so that
/// column j of U is contiguous): y_j = sum_{d <= j} (x_d - mu_d) U_dj. The lanes are centred
/// once into `centered` (D * kLanes, L1-resident), so that the D²/2 inner steps are one load
/// and one FMA each.
///
/// Only columns [begin, end) (end < 0: D) are added, to `sum`, so that a form may be computed
/// in two calls, [0, split) and [split, D), with the operations of one call in the same order.
///
/// With `best` (each lane's largest log-probability so far), the sum stops early, returned
/// partial, once certainly_flushed(): every lane's (constant - sum / 2) - best is below
/// log_floor. The terms are squares, so a partial sum only grows, and so (rounding is
/// monotone) do the full form and normalize_log_prob()'s `shifted`. Such a component's
/// responsibility is flushed to an exact zero and left out of log p(x) either way, so
/// posteriors and log p(x) are bitwise those of the full sums; the log-probability itself is
/// not. The late columns are the long ones: stopping after a quarter of them skips 15/16 of the
/// multiply-adds.
template <typename Scalar, typename Mean>
Lanes<Scalar> full_quadratic(const Scalar* x, Index stride, const Mean& mu, const Scalar* factor_t, Index D,
                             Scalar* centered, Index begin = 0, Index end = -1,
                             Lanes<Scalar> sum = Lanes<Scalar>::Zero(), Scalar constant = 0,
                             const Lanes<Scalar>* best = nullptr, Scalar log_floor = 0) {
  using Map = Eigen::Map<const Lanes<Scalar>>;
  using AlignedMap = Eigen::Map<const Lanes<Scalar>, Eigen::AlignedMax>;
  constexpr Index L = kLanes<Scalar>;
  if (end < 0) end = D;
  for (Index d = 0; d < end; ++d)
    Eigen::Map<Lanes<Scalar>, Eigen::AlignedMax>(centered + d * L) = Map(x + d * stride) - mu[d];
  for (Index j = begin; j < end; ++j) {
    const Scalar* u = factor_t + j * D;
    Lanes<Scalar> y = Lanes<Scalar>::Zero();
    for (Index d = 0; d <= j; ++d) y += AlignedMap(centered + d * L) * u[d];
    sum += y.square();
    if (best && (j + 1) % kPruneColumns == 0 && j + 1 < end && certainly_flushed(sum, constant, *best, log_floor)) break;
  }
  return sum;
}

/// Lanes whose early stop is decided together: four packets (32 rows of doubles; 64 floats, a
/// whole group). A form stops only where every lane of it is certainly flushed, and the more
/// lanes, the rarer that is: on the handbook's digits at K = 150, 90% of single rows' forms
/// could stop after 8 columns, 0.1% of 64-row groups'. Two packets stopped more often but ran
/// the forms that go on less efficiently (W3 4% slower per iteration).
template <typename Scalar>
constexpr Index kStopLanes = std::min<Index>(kLanes<Scalar>, 4 * Eigen::internal::packet_traits<Scalar>::size);

/// Features from which the early stop is decided for each kStopLanes lanes apart. With fewer,
/// the continued columns are few and the 64-lane kernel keeps them (W2, D = 16, measured 3-6%
/// slower per iteration through the grouped path).
constexpr Index kStopFeatures = 32;

/// full_quadratic() with `best` for the kStopLanes lanes at x (row stride `stride`) from column
/// `begin` on, their partial forms in `total` (P packets), which receive the rest: T columns at a
/// time (T independent chains of multiply-adds per packet, where the 64-lane kernel has eight
/// packets), checked for the early stop after each T. T is 4, and 6 with AVX-512's 32 registers
/// (24 accumulators: 4 loads and 6 broadcasts per 24 multiply-adds; W3 5% faster per iteration,
/// the W5 digits' fits unchanged; 8 spilled). Every sum takes the operations of full_quadratic()
/// in its order, so a form that does not stop is bitwise the same.
template <int P, typename Packet, typename Scalar, typename Mean>
void stopped_quadratic(const Scalar* x, Index stride, const Mean& mu, const Scalar* factor_t, Index D,
                       Scalar* centered, Index begin, Packet (&total)[P], const Packet& constant,
                       const Packet (&best)[P], const Packet& log_floor) {
  using namespace Eigen::internal;
  constexpr Index width = unpacket_traits<Packet>::size, S = P * width;
  constexpr int T = sizeof(Packet) >= 64 ? 6 : 4;  // columns at a time
  // Features are centred as the columns reach them: most forms stop after a few columns.
  Index centred = 0;
  const auto centre = [&](Index upto) {
    for (; centred < upto; ++centred)
      GAUSSMIX_UNROLL for (int p = 0; p < P; ++p)
        pstore(centered + centred * S + p * width,
               psub(ploadu<Packet>(x + centred * stride + p * width), pset1<Packet>(mu[centred])));
  };
  Index j0 = begin;
  for (; j0 + T <= D; j0 += T) {
    centre(j0 + T);
    Packet y[P][T];
    GAUSSMIX_UNROLL for (int p = 0; p < P; ++p)
      GAUSSMIX_UNROLL for (int t = 0; t < T; ++t) y[p][t] = pset1<Packet>(Scalar(0));
    const Scalar* u = factor_t + j0 * D;  // column j0 + t of U at u + t * D
    for (Index d = 0; d <= j0; ++d)
      GAUSSMIX_UNROLL for (int p = 0; p < P; ++p) {
        const Packet value = pload<Packet>(centered + d * S + p * width);
        GAUSSMIX_UNROLL for (int t = 0; t < T; ++t) y[p][t] = pmadd(value, pset1<Packet>(u[t * D + d]), y[p][t]);
      }
    GAUSSMIX_UNROLL for (int first = 1; first < T; ++first)  // the triangle: column j0 + t takes d <= j0 + t
      GAUSSMIX_UNROLL for (int p = 0; p < P; ++p) {
        const Packet value = pload<Packet>(centered + (j0 + first) * S + p * width);
        GAUSSMIX_UNROLL for (int t = first; t < T; ++t) y[p][t] = pmadd(value, pset1<Packet>(u[t * D + j0 + first]), y[p][t]);
      }
    GAUSSMIX_UNROLL for (int t = 0; t < T; ++t)
      GAUSSMIX_UNROLL for (int p = 0; p < P; ++p) total[p] = pmadd(y[p][t], y[p][t], total[p]);
    if (j0 + T < D && packets_flushed(total, constant, best, log_floor)) return;
  }
  centre(D);
  for (; j0 < D; ++j0) {  // the last columns, one at a time
    const Scalar* u = factor_t + j0 * D;
    GAUSSMIX_UNROLL for (int p = 0; p < P; ++p) {
      Packet y = pset1<Packet>(Scalar(0));
      for (Index d = 0; d <= j0; ++d) y = pmadd(pload<Packet>(centered + d * S + p * width), pset1<Packet>(u[d]), y);
      total[p] = pmadd(y, y, total[p]);
    }
  }
}

/// sum_d ((x_d - mu_d) s_d)² for one group of lanes: the diagonal factor's quadratic form, from
/// the transposed block at `x` (row stride `stride`), the mean `mu` and the factor `s` (D
/// contiguous values each). The accumulators are explicit packets, one per SIMD register of the
/// group: kept in registers, not in the returned array, which the compiler would otherwise
/// store back on every feature (seen in perf annotate; with the other diag changes a W4
/// iteration went from 0.38 to 0.29 s in native A/B runs).
template <typename Scalar>
Lanes<Scalar> diagonal_quadratic(const Scalar* x, Index stride, const Scalar* mu, const Scalar* s, Index D) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr Index width = Eigen::internal::packet_traits<Scalar>::size;
  constexpr Index packets = kLanes<Scalar> / width;
  Packet sum[packets];
  for (Index p = 0; p < packets; ++p) sum[p] = Eigen::internal::pset1<Packet>(Scalar(0));
  for (Index d = 0; d < D; ++d) {
    const Packet mean = Eigen::internal::pset1<Packet>(mu[d]), scale = Eigen::internal::pset1<Packet>(s[d]);
    const Scalar* row = x + d * stride;
    for (Index p = 0; p < packets; ++p) {
      const Packet y = Eigen::internal::pmul(Eigen::internal::psub(Eigen::internal::ploadu<Packet>(row + p * width), mean), scale);
      sum[p] = Eigen::internal::pmadd(y, y, sum[p]);
    }
  }
  Lanes<Scalar> out;
  for (Index p = 0; p < packets; ++p) Eigen::internal::pstoreu(out.data() + p * width, sum[p]);
  return out;
}

/// ||(x - mu_k)ᵀ U_k||² of one row in long double, whose exponent range holds the square of
/// any difference of finite doubles times any finite factor: the fallback for rows whose
/// quadratic form overflows the data's type.
template <typename Scalar, typename Row>
long double exact_quadratic(const Model<Scalar>& model, const Row& x, Index k) {
  const Index D = model.n_features();
  const auto& U = model.precisions_cholesky();
  const auto mu = model.means().row(k);
  long double sum = 0.0L;
  switch (model.covariance_type()) {
    case CovarianceType::full:
    case CovarianceType::tied: {
      const Index first = model.covariance_type() == CovarianceType::full ? k * D : 0;
      for (Index j = 0; j < D; ++j) {
        long double y = 0.0L;
        for (Index d = 0; d <= j; ++d)
          y += (static_cast<long double>(x[d]) - mu[d]) * static_cast<long double>(U(first + d, j));
        sum += y * y;
      }
      break;
    }
    case CovarianceType::diag:
    case CovarianceType::spherical:
      for (Index d = 0; d < D; ++d) {
        const Scalar s = model.covariance_type() == CovarianceType::diag ? U(k, d) : U(k, 0);
        const long double y = (static_cast<long double>(x[d]) - mu[d]) * static_cast<long double>(s);
        sum += y * y;
      }
      break;
  }
  return sum;
}

/// Rows of the block whose log-probabilities are NaN (an overflowing quadratic form: inf - inf,
/// inf * 0) or -inf for every component (a point so far from every component that each density
/// underflows): recomputed in long double and stored relative to their largest entry, the
/// offset kept in ws.far_rows. Their responsibilities are then the true posterior, finite and
/// summing to one, and their log-density is finite or -inf, never NaN.
template <typename Scalar, typename Rows>
void rescore_far_rows(const Model<Scalar>& model, const Eigen::MatrixBase<Rows>& X_blk, Workspace<Scalar>& ws) {
  const Index K = model.n_components();
  std::vector<long double> log_prob(K);
  for (Index i = 0; i < X_blk.rows(); ++i) {
    bool far = true, nan = false;
    for (Index k = 0; k < K; ++k) {
      const Scalar value = ws.log_prob(i, k);
      nan = nan || std::isnan(value);
      far = far && value == -std::numeric_limits<Scalar>::infinity();
    }
    if (!far && !nan) continue;
    long double top = -std::numeric_limits<long double>::infinity();
    for (Index k = 0; k < K; ++k) {
      log_prob[k] = static_cast<long double>(model.log_normalizers()[k]) - 0.5L * exact_quadratic(model, X_blk.row(i), k);
      top = std::max(top, log_prob[k]);
    }
    for (Index k = 0; k < K; ++k) ws.log_prob(i, k) = static_cast<Scalar>(log_prob[k] - top);
    ws.far_rows.emplace_back(i, static_cast<double>(top));
  }
}

/// log pi_k + log N(x_i | k) for the rows of X_blk into ws.log_prob, except for the rows listed
/// in ws.far_rows (see rescore_far_rows()). `for_posteriors`: the values only feed
/// normalize_log_prob() with `log_floor`, and a full or tied form may stop early where its
/// responsibility is certainly flushed (see full_quadratic()).
template <typename Scalar, typename Rows>
void weighted_log_prob(const Model<Scalar>& model, const Eigen::MatrixBase<Rows>& X_blk, Workspace<Scalar>& ws,
                       bool for_posteriors, Scalar log_floor = subnormal_log_floor<Scalar>()) {
  const Index rows = X_blk.rows(), D = model.n_features(), K = model.n_components();
  const CovarianceType type = model.covariance_type();
  const auto& means = model.means();
  const auto& U = model.precisions_cholesky();
  load_transposed(X_blk, ws);
  const Scalar* x = ws.transposed.data();
  const Index stride = ws.transposed.cols();
  if (type == CovarianceType::spherical)
    ws.scale = U.col(0).replicate(1, D);
  else if (type == CovarianceType::diag)
    ws.scale = U;
  ws.shape_log_prob(rows, K);
  reserve(ws.lanes, D, kLanes<Scalar>);
  const bool dense = type == CovarianceType::full || type == CovarianceType::tied;
  const Scalar* factors_t = model.precisions_cholesky_transposed().data();
  const Index factor_size = type == CovarianceType::full ? D * D : 0;  // tied: one shared factor
  ws.far_rows.clear();
  // Group of rows outer, components inner: the group's D * kLanes values stay in L1 while every
  // component's factor streams past them.
  const bool prune = for_posteriors && dense && D > kPruneColumns && K > 1;
  using namespace Eigen::internal;
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr Index width = Eigen::internal::packet_traits<Scalar>::size, S = kStopLanes<Scalar>, P = S / width;
  const Packet floor = Eigen::internal::pset1<Packet>(log_floor);
  if (prune) {
    reserve(ws.partial, kLanes<Scalar>, K);
    ws.promising.resize(K);
  }
  NextRowsPrefetch next_rows(X_blk, (rows + kLanes<Scalar> - 1) / kLanes<Scalar> * K);
  for (Index i = 0; i < rows; i += kLanes<Scalar>) {
    const Index n = std::min(kLanes<Scalar>, rows - i);
    const auto store = [&](Index k, const Lanes<Scalar>& log_prob) {
      Eigen::Map<Vector<Scalar>>(ws.log_prob.col(k).data() + i, n) = log_prob.head(n);
    };
    const auto constant = [&](Index k) { return static_cast<Scalar>(model.log_normalizers()[k]); };
    if (!prune) {
      for (Index k = 0; k < K; ++k) {
        next_rows.step();
        const auto mu = means.row(k);
        const Lanes<Scalar> quadratic =
            dense ? full_quadratic(x + i, stride, mu, factors_t + k * factor_size, D, ws.lanes.data())
                  : diagonal_quadratic(x + i, stride, mu.data(), ws.scale.row(k).data(), D);
        store(k, constant(k) - Scalar(0.5) * quadratic);
      }
      continue;
    }
    // Early stop (see full_quadratic()): the first kPruneColumns columns of every component for
    // the whole group of lanes; then in full the components that these partial forms make most
    // likely for some row, so that each lane's `best` is (nearly) its largest; then the others,
    // most of them stopped with no further work. With many features, for each kStopLanes lanes
    // apart (stopped_quadratic()).
    for (Index k = 0; k < K; ++k) {
      next_rows.step();
      ws.partial.col(k) = full_quadratic(x + i, stride, means.row(k), factors_t + k * factor_size, D,
                                         ws.lanes.data(), 0, kPruneColumns);
    }
    // Each row's likeliest component by its form extrapolated from the first columns (the
    // partial form's bound would pick components of small covariance, whose large constants the
    // later columns take back).
    const Scalar extrapolate = Scalar(-0.5) * static_cast<Scalar>(D) / static_cast<Scalar>(kPruneColumns);
    const auto mark_promising = [&](Index first_lane, Index end_lane) {
      std::fill(ws.promising.begin(), ws.promising.end(), 0);
      for (Index lane = first_lane; lane < end_lane; ++lane) {
        Index top = 0;
        Scalar top_estimate = constant(0) + extrapolate * ws.partial(lane, 0);
        for (Index k = 1; k < K; ++k) {
          const Scalar estimate = constant(k) + extrapolate * ws.partial(lane, k);
          if (estimate > top_estimate) top = k, top_estimate = estimate;
        }
        ws.promising[top] = 1;
      }
    };
    if (D < kStopFeatures) {
      mark_promising(0, n);
      Lanes<Scalar> best = Lanes<Scalar>::Constant(-std::numeric_limits<Scalar>::infinity());
      for (const bool first_round : {true, false})
        for (Index k = 0; k < K; ++k) {
          if (static_cast<bool>(ws.promising[k]) != first_round) continue;
          const Lanes<Scalar> partial = ws.partial.col(k);
          const Lanes<Scalar> quadratic =
              certainly_flushed(partial, constant(k), best, log_floor)
                  ? partial
                  : full_quadratic(x + i, stride, means.row(k), factors_t + k * factor_size, D, ws.lanes.data(),
                                   kPruneColumns, D, partial, constant(k), &best, log_floor);
          const Lanes<Scalar> log_prob = constant(k) - Scalar(0.5) * quadratic;
          best = best.max(log_prob);  // a stopped form is far below best: no change
          store(k, log_prob);
        }
      continue;
    }
    for (Index g = 0; g < n; g += S) {
      const Index m = std::min(S, n - g);  // rows of this group of lanes; the rest is padding
      mark_promising(g, g + m);
      // Padding lanes start at +inf: certainly flushed, so they never keep a form going.
      Packet best[P];
      for (Index p = 0; p < P; ++p)
        best[p] = pselect(pcmp_lt(plset<Packet>(static_cast<Scalar>(p * width)), pset1<Packet>(static_cast<Scalar>(m))),
                          pset1<Packet>(-std::numeric_limits<Scalar>::infinity()),
                          pset1<Packet>(std::numeric_limits<Scalar>::infinity()));
      for (const bool first_round : {true, false})
        for (Index k = 0; k < K; ++k) {
          if (static_cast<bool>(ws.promising[k]) != first_round) continue;
          const Packet level = pset1<Packet>(constant(k));
          Packet total[P];
          for (Index p = 0; p < P; ++p) total[p] = ploadu<Packet>(ws.partial.col(k).data() + g + p * width);
          if (!packets_flushed(total, level, best, floor))
            stopped_quadratic(x + i + g, stride, means.row(k), factors_t + k * factor_size, D, ws.lanes.data(),
                              kPruneColumns, total, level, best, floor);
          Scalar log_prob[S];
          for (Index p = 0; p < P; ++p) {
            const Packet value = pmadd(pset1<Packet>(Scalar(-0.5)), total[p], level);
            best[p] = pmax(best[p], value);  // a stopped form is far below best: no change
            pstoreu(log_prob + p * width, value);
          }
          std::copy(log_prob, log_prob + m, ws.log_prob.col(k).data() + i + g);
        }
    }
  }
  // Overflowing quadratic forms show as NaN or as -inf beside a finite constant. Checked in a
  // pass of its own: a test inside the loop above costs W3 (D = 64) about 10% of its time.
  bool overflow = false;
  for (Index k = 0; k < K && !overflow; ++k) {
    const auto column = ws.log_prob.col(k).array();
    // minCoeff<PropagateNaN> is vectorised and NaN when any entry is: one test for both.
    overflow = std::isfinite(model.log_normalizers()[k])
                   ? !(column.template minCoeff<Eigen::PropagateNaN>() > -std::numeric_limits<Scalar>::infinity())
                   : column.isNaN().any();
  }
  if (overflow) rescore_far_rows(model, X_blk, ws);
}

/// exp(shifted) for shifted <= 0 (a log-probability minus its row's largest), flushed to an exact
/// zero below exp(log_least) and below the smallest normal number `least`: the one flushing rule
/// of normalize_log_prob() and small_dense_posteriors(). A packet whose lanes all lie below
/// log_least skips its exponential. `AllNormal` when exp(log_least) is a normal number (a fit's
/// floor, see normal_floor()): every kept value then is, and the second test is left out.
template <bool AllNormal = false, typename Packet>
EIGEN_ALWAYS_INLINE Packet flushed_exp(const Packet& shifted, const Packet& least, const Packet& log_least) {
  using namespace Eigen::internal;
  const Packet kept = pcmp_le(log_least, shifted);
  if (!any_lane(kept)) return pset1<Packet>(typename unpacket_traits<Packet>::type(0));
  const Packet value = exp_nonpositive(pmax(shifted, log_least));
  if constexpr (AllNormal) return pand(kept, value);
  return pand(pand(kept, pcmp_le(least, value)), value);
}

/// Whether exp(log_floor) lies safely above the smallest normal number of Scalar (with a margin
/// for exp()'s rounding), as fit_log_floor()'s 2^-100 does for float and double.
template <typename Scalar>
bool normal_floor(Scalar log_floor) {
  return log_floor > subnormal_log_floor<Scalar>() + Scalar(1);
}

/// Turns ws.log_prob into responsibilities in place and ws.log_norm into log p(x) by a
/// max-shifted log-sum-exp per row, one packet of rows at a time through every component. Three
/// loops (exponentials and their sums, logarithms and inverses, scaling) rather than one:
/// each has independent iterations that the CPU overlaps, where one loop's chain from exp to sum
/// to log to division to product was latency-bound (W1, K = 4).
///
/// Responsibilities below exp(log_floor) of their row's largest become exact zeros, and with
/// any floor those below the smallest normal number: subnormals would slow every later product
/// by orders of magnitude, and zeros let accumulate_transposed() skip rows and components.
/// exp() only sees arguments in [log_floor, 0], within the range exp_nonpositive() is made for;
/// a packet whose arguments all lie below is zeroed without it.
///
/// Without `scale`, the last loop is left to the statistics (ws.unscaled): ws.log_prob keeps
/// exp(log_prob - max) and ws.total their rows' factors, which accumulate_pass() folds into the
/// rows' weights, where they cost one multiplication already made (W4: a pass over the block's
/// responsibilities fewer).
template <typename Scalar>
void normalize_log_prob(Workspace<Scalar>& ws, Scalar log_floor = subnormal_log_floor<Scalar>(), bool scale = true) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  const Index K = ws.log_prob.cols(), rows = ws.log_prob.rows(), packed = rows / width * width;
  const Scalar smallest = std::numeric_limits<Scalar>::min();
  const Packet least = pset1<Packet>(smallest), log_least = pset1<Packet>(log_floor);
  Scalar* log_prob = ws.log_prob.data();  // column k at log_prob + k * columns
  const Index columns = ws.log_prob.outerStride();
  ws.log_norm.resize(rows);
  ws.log_norm_summed = false;
  ws.total.resize(rows);
  Scalar* norm = ws.log_norm.data();
  Scalar* total = ws.total.data();
  const auto exponentials = [&](auto all_normal) {
    for (Index i = 0; i < packed; i += width) {
      Packet top = ploadu<Packet>(log_prob + i);
      for (Index k = 1; k < K; ++k) top = pmax(top, ploadu<Packet>(log_prob + k * columns + i));
      Packet sum = pset1<Packet>(Scalar(0));
      for (Index k = 0; k < K; ++k) {
        Scalar* r = log_prob + k * columns + i;
        const Packet value = flushed_exp<decltype(all_normal)::value>(psub(ploadu<Packet>(r), top), least, log_least);
        pstoreu(r, value);
        sum = padd(sum, value);
      }
      pstoreu(norm + i, top);
      pstoreu(total + i, sum);
    }
  };
  if (normal_floor(log_floor))
    exponentials(std::true_type{});
  else
    exponentials(std::false_type{});
  for (Index i = packed; i < rows; ++i) {
    Scalar top = log_prob[i];
    for (Index k = 1; k < K; ++k) top = std::max(top, log_prob[k * columns + i]);
    total[i] = 0;
    for (Index k = 0; k < K; ++k) {
      Scalar& r = log_prob[k * columns + i];
      const Scalar shifted = r - top;
      r = shifted < log_floor ? Scalar(0) : std::exp(shifted);
      if (r < smallest) r = Scalar(0);
      total[i] += r;
    }
    norm[i] = top;
  }
  // log p(x) and 1 / sum
  for (Index i = 0; i < packed; i += width) {
    const Packet sum = ploadu<Packet>(total + i);
    pstoreu(norm + i, padd(ploadu<Packet>(norm + i), log_normal(sum)));
    pstoreu(total + i, pdiv(pset1<Packet>(Scalar(1)), sum));
  }
  for (Index i = packed; i < rows; ++i) {
    norm[i] += std::log(total[i]);
    total[i] = Scalar(1) / total[i];
  }
  ws.unscaled = !scale;
  if (scale)
    for (Index k = 0; k < K; ++k) ws.log_prob.col(k).array() *= ws.total.array();
  for (const auto& [row, offset] : ws.far_rows) norm[row] = static_cast<Scalar>(norm[row] + offset);
}

/// The sum over packets of rows of log p(x) = top + log(total), with one logarithm per `span`
/// packets: their totals, each in [1, K], are multiplied together (span keeps the product finite)
/// and the sums flushed to double. For an E-step that needs the log-likelihood but not each
/// row's log p(x).
template <typename Packet>
struct LogNormSum {
  using Scalar = typename Eigen::internal::unpacket_traits<Packet>::type;
  Packet tops = Eigen::internal::pset1<Packet>(Scalar(0)), product = Eigen::internal::pset1<Packet>(Scalar(1));
  int count = 0, span = 1;
  double sum = 0.0;

  explicit LogNormSum(Index K) {
    const int bits = std::ilogb(static_cast<double>(std::max<Index>(K, 1))) + 1;  // K < 2^bits
    // Sums of tops over at most 64 packets of doubles, 8 of floats: a few units of their rounding.
    span = std::clamp((std::numeric_limits<Scalar>::max_exponent - 2) / bits, 1, sizeof(Scalar) == 8 ? 64 : 8);
  }
  EIGEN_ALWAYS_INLINE void add(const Packet& top, const Packet& total) {
    tops = Eigen::internal::padd(tops, top);
    product = Eigen::internal::pmul(product, total);
    if (++count == span) flush();
  }
  void flush() {
    if (count == 0) return;
    sum += static_cast<double>(Eigen::internal::predux(tops)) +
           static_cast<double>(Eigen::internal::predux(log_normal(product)));
    tops = Eigen::internal::pset1<Packet>(Scalar(0));
    product = Eigen::internal::pset1<Packet>(Scalar(1));
    count = 0;
  }
};

/// The E-step of one block for full or tied covariances with Features = D <= 4, in one pass per
/// packet of rows: the K quadratic forms with the centred features and every factor entry in
/// registers, then the log-sum-exp and the responsibilities while the packet's K values are in
/// L1. It leaves what weighted_log_prob() and normalize_log_prob() leave (X_blkᵀ in
/// ws.transposed, responsibilities in ws.log_prob, log p(x) in ws.log_norm), by the same
/// formulas and flushing, equal to rounding. At such small D the two-kernel path spent more on
/// moving log-probabilities between its loops than on its exponentials (W1, K = 4: 52% of an
/// iteration in normalize_log_prob()); with this kernel a W1 iteration takes 0.73 of its time
/// (one thread, interleaved A/B runs of native builds).
///
/// With `summed`, only the sum of log p(x) over the block is kept (ws.log_norm_summed and
/// ws.log_norm_sum), with one logarithm per many rows instead of one per row (LogNormSum; W1,
/// K = 4: the logarithm was about a tenth of an E-step).
///
/// Returns false, having written nothing that is kept, when some log-probability is NaN or -inf
/// (overflowing forms, far rows): the caller then takes the general path, which rescores them.
template <int Features, typename Scalar, typename Rows>
bool small_dense_posteriors(const Model<Scalar>& model, const Eigen::MatrixBase<Rows>& X_blk, Workspace<Scalar>& ws,
                            Scalar log_floor, bool summed) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  constexpr Index D = Features;
  const Index rows = X_blk.rows(), K = model.n_components(), packed = rows / width * width;
  const Index factor_size = model.covariance_type() == CovarianceType::full ? D * D : 0;
  const Scalar* factors_t = model.precisions_cholesky_transposed().data();
  const Scalar* means = model.means().data();
  const Vector<double>& constants = model.log_normalizers();
  const Scalar smallest = std::numeric_limits<Scalar>::min();
  const Packet least = pset1<Packet>(smallest), log_least = pset1<Packet>(log_floor);
  const Packet minus_half = pset1<Packet>(Scalar(-0.5)), one = pset1<Packet>(Scalar(1));
  const Packet minus_infinity = pset1<Packet>(-std::numeric_limits<Scalar>::infinity());
  load_transposed(X_blk, ws);
  const Scalar* x = ws.transposed.data();
  const Index stride = ws.transposed.cols();
  ws.shape_log_prob(rows, K);
  ws.log_norm.resize(rows);
  ws.log_norm_summed = false;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // as for PacketBlock above
#endif
  LogNormSum<Packet> log_norm_sum(K);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  ws.far_rows.clear();
  reserve(ws.partial, width, K);  // the last, partial packet (the early stop's buffer is unused at D <= 4)
  // The least log-probability that is not an overflow: any finite value for a component with a
  // finite constant, -inf too for one of weight zero (constant -inf); NaN never.
  ws.lowest.resize(K);
  Scalar* lowest = ws.lowest.data();
  for (Index k = 0; k < K; ++k)
    lowest[k] = std::isfinite(constants[k]) ? std::numeric_limits<Scalar>::lowest() : -std::numeric_limits<Scalar>::infinity();
  Packet valid = pcmp_eq(one, one);
  // P packets of rows from i, (i + p * width) into out + k * out_stride + p * width and
  // norm + p * width. Two packets at a time give the CPU two independent exponentials per
  // component to overlap, and share each broadcast of a mean, factor or coefficient between them.
  const auto packets = [&](auto count, auto all_normal, Index i, Scalar* out, Index out_stride,
                           Scalar* norm) GAUSSMIX_INLINE_LAMBDA {
    constexpr int P = decltype(count)::value;
    Packet centred[P][D], top[P];
    for (int p = 0; p < P; ++p) {
      for (Index d = 0; d < D; ++d) centred[p][d] = ploadu<Packet>(x + d * stride + i + p * width);
      top[p] = minus_infinity;
    }
    for (Index k = 0; k < K; ++k) {
      const Scalar* mu = means + k * D;
      const Scalar* u = factors_t + k * factor_size;  // row j: column j of U
      const Packet constant = pset1<Packet>(static_cast<Scalar>(constants[k])), floor = pset1<Packet>(lowest[k]);
      for (int p = 0; p < P; ++p) {
        Packet c[D];
        for (Index d = 0; d < D; ++d) c[d] = psub(centred[p][d], pset1<Packet>(mu[d]));
        Packet sum = pset1<Packet>(Scalar(0));
        for (Index j = 0; j < D; ++j) {
          Packet y = pmul(c[0], pset1<Packet>(u[j * D]));
          for (Index d = 1; d <= j; ++d) y = pmadd(c[d], pset1<Packet>(u[j * D + d]), y);
          sum = pmadd(y, y, sum);
        }
        const Packet log_prob = pmadd(minus_half, sum, constant);
        valid = pand(valid, pcmp_le(floor, log_prob));
        top[p] = pmax(top[p], log_prob);
        pstoreu(out + k * out_stride + p * width, log_prob);
      }
    }
    Packet total[P];
    for (int p = 0; p < P; ++p) {
      valid = pand(valid, pcmp_lt(minus_infinity, top[p]));
      total[p] = pset1<Packet>(Scalar(0));
    }
    for (Index k = 0; k < K; ++k)
      for (int p = 0; p < P; ++p) {
        Scalar* r = out + k * out_stride + p * width;
        const Packet value = flushed_exp<decltype(all_normal)::value>(psub(ploadu<Packet>(r), top[p]), least, log_least);
        pstoreu(r, value);
        total[p] = padd(total[p], value);
      }
    Packet inverse[P];
    for (int p = 0; p < P; ++p) {
      if (norm)
        pstoreu(norm + p * width, padd(top[p], log_normal(total[p])));
      else
        log_norm_sum.add(top[p], total[p]);
      inverse[p] = pdiv(one, total[p]);
    }
    for (Index k = 0; k < K; ++k)
      for (int p = 0; p < P; ++p) {
        Scalar* r = out + k * out_stride + p * width;
        pstoreu(r, pmul(ploadu<Packet>(r), inverse[p]));
      }
  };
  using Two = std::integral_constant<int, 2>;
  using One = std::integral_constant<int, 1>;
  Scalar* log_prob = ws.log_prob.data();
  const Index columns = ws.log_prob.outerStride();
  Scalar* norm_rows = summed ? nullptr : ws.log_norm.data();
  Index i = 0;
  NextRowsPrefetch next_rows(X_blk, packed / (2 * width));
  const auto whole_packets = [&](auto all_normal) {
    for (; i + 2 * width <= packed; i += 2 * width) {
      next_rows.step();
      packets(Two{}, all_normal, i, log_prob + i, columns, norm_rows ? norm_rows + i : nullptr);
    }
    for (; i < packed; i += width) packets(One{}, all_normal, i, log_prob + i, columns, norm_rows ? norm_rows + i : nullptr);
  };
  if (normal_floor(log_floor))
    whole_packets(std::true_type{});
  else
    whole_packets(std::false_type{});
  log_norm_sum.flush();
  if (packed < rows) {
    // The padding of ws.transposed is zero: its lanes are computed, checked and dropped.
    Scalar norm[width];
    const Packet before = valid;
    valid = pcmp_eq(one, one);
    packets(One{}, std::false_type{}, packed, ws.partial.data(), width, norm);
    const Index n = rows - packed;
    const Packet live = pcmp_lt(plset<Packet>(Scalar(0)), pset1<Packet>(static_cast<Scalar>(n)));
    valid = pand(before, por(valid, pandnot(pcmp_eq(one, one), live)));  // the padding lanes count as valid
    for (Index k = 0; k < K; ++k)
      for (Index r = 0; r < n; ++r) log_prob[k * columns + packed + r] = ws.partial(r, k);
    for (Index r = 0; r < n; ++r) {
      ws.log_norm[packed + r] = norm[r];
      log_norm_sum.sum += static_cast<double>(norm[r]);
    }
  }
  ws.log_norm_summed = summed;
  ws.log_norm_sum = log_norm_sum.sum;
  return !any_lane(pandnot(pcmp_eq(one, one), valid));
}

/// small_dense_posteriors() when the model is full or tied with D <= 4; false otherwise.
template <typename Scalar, typename Rows>
bool small_dense_posteriors(const Model<Scalar>& model, const Eigen::MatrixBase<Rows>& X_blk, Workspace<Scalar>& ws,
                            Scalar log_floor = subnormal_log_floor<Scalar>(), bool summed = false) {
  const CovarianceType type = model.covariance_type();
  if (type != CovarianceType::full && type != CovarianceType::tied) return false;
  switch (model.n_features()) {
    case 1: return small_dense_posteriors<1>(model, X_blk, ws, log_floor, summed);
    case 2: return small_dense_posteriors<2>(model, X_blk, ws, log_floor, summed);
    case 3: return small_dense_posteriors<3>(model, X_blk, ws, log_floor, summed);
    case 4: return small_dense_posteriors<4>(model, X_blk, ws, log_floor, summed);
    default: return false;
  }
}

/// out[a * Cols + b] = sum_i y_(a, i) y_(b, i) for Rows rows from `first` and Cols rows from
/// `second` of one array Y (row stride `stride`) over n columns, a multiple of the packet width:
/// one tile of Y Yᵀ, whose shared dimension is contiguous. Rows * Cols accumulators (12 of AVX2's
/// 16 registers at 4 x 3) take 7 loads per 12 multiply-adds, so the tile runs at FMA speed where
/// a product of two rows at a time (2 loads per multiply-add) is bound by loads, and a GEMM call
/// on operands this small by its packing.
template <int Rows, int Cols, typename Scalar>
void gram_tile(const Scalar* first, const Scalar* second, Index stride, Index n, Scalar* out) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  Packet sum[Rows][Cols];
  for (int a = 0; a < Rows; ++a)
    for (int b = 0; b < Cols; ++b) sum[a][b] = pset1<Packet>(Scalar(0));
  for (Index i = 0; i < n; i += width) {
    Packet column[Cols];
    for (int b = 0; b < Cols; ++b) column[b] = ploadu<Packet>(second + b * stride + i);
    for (int a = 0; a < Rows; ++a) {
      const Packet row = ploadu<Packet>(first + a * stride + i);
      for (int b = 0; b < Cols; ++b) sum[a][b] = pmadd(row, column[b], sum[a][b]);
    }
  }
  for (int a = 0; a < Rows; ++a)
    for (int b = 0; b < Cols; ++b) out[a * Cols + b] = predux(sum[a][b]);
}

/// gram += Y Yᵀ for Y (D, n) with row stride `stride` and n a multiple of kSumLanes: a block's
/// weighted second moment, its lower triangle in tiles of 4 x 3 (edge tiles smaller) summed in
/// the data's type, each entry once, and mirrored to the upper triangle.
template <typename Scalar, typename Gram>
void add_gram(const Scalar* y, Index stride, Index D, Index n, Gram& gram) {
  constexpr int kRows = 4, kCols = 3;
  Scalar tile[kRows * kCols];
  for (Index a0 = 0; a0 < D; a0 += kRows) {
    const int rows = static_cast<int>(std::min<Index>(kRows, D - a0));
    for (Index b0 = 0; b0 < a0 + rows; b0 += kCols) {
      const int cols = static_cast<int>(std::min<Index>(kCols, a0 + rows - b0));
      const Scalar* first = y + a0 * stride;
      const Scalar* second = y + b0 * stride;
      // Full tiles use the 4 x 3 kernel; edge tiles the kernel of their own shape (the rows
      // and columns past the edge are not read).
      switch (rows * 4 + cols) {
        case 4 * 4 + 3: gram_tile<4, 3>(first, second, stride, n, tile); break;
        case 4 * 4 + 2: gram_tile<4, 2>(first, second, stride, n, tile); break;
        case 4 * 4 + 1: gram_tile<4, 1>(first, second, stride, n, tile); break;
        case 3 * 4 + 3: gram_tile<3, 3>(first, second, stride, n, tile); break;
        case 3 * 4 + 2: gram_tile<3, 2>(first, second, stride, n, tile); break;
        case 3 * 4 + 1: gram_tile<3, 1>(first, second, stride, n, tile); break;
        case 2 * 4 + 3: gram_tile<2, 3>(first, second, stride, n, tile); break;
        case 2 * 4 + 2: gram_tile<2, 2>(first, second, stride, n, tile); break;
        case 2 * 4 + 1: gram_tile<2, 1>(first, second, stride, n, tile); break;
        case 1 * 4 + 3: gram_tile<1, 3>(first, second, stride, n, tile); break;
        case 1 * 4 + 2: gram_tile<1, 2>(first, second, stride, n, tile); break;
        default: gram_tile<1, 1>(first, second, stride, n, tile); break;
      }
      for (int a = 0; a < rows; ++a)
        for (int b = 0; b < cols && b0 + b <= a0 + a; ++b) {
          const double value = static_cast<double>(tile[a * cols + b]);
          gram(a0 + a, b0 + b) += value;
          if (b0 + b != a0 + a) gram(b0 + b, a0 + a) += value;
        }
    }
  }
}

/// Row stride of the rows add_gram_of_rows() reads: D rounded up to whole packets and to 8, so
/// that every packet and every row of a tile lies inside it (zeros past D).
template <typename Scalar>
Index gram_stride(Index D) {
  const Index step = std::max<Index>(8, Eigen::internal::packet_traits<Scalar>::size);
  return (D + step - 1) / step * step;
}

/// tile += Y_(:, a0..a0+8)ᵀ Y_(:, b0..b0+Packets*width) for the n rows of Y (row stride
/// `stride`): each row adds the outer product of 8 of its values, broadcast, and Packets packets
/// of it, the accumulators in registers all along; no horizontal sums.
template <int Packets, typename Scalar>
void gram_rows_tile(const Scalar* y, Index stride, Index n, Index a0, Index b0, Scalar* out) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  Packet sum[8][Packets];
  for (int a = 0; a < 8; ++a)
    for (int p = 0; p < Packets; ++p) sum[a][p] = pset1<Packet>(Scalar(0));
  for (Index j = 0; j < n; ++j) {
    const Scalar* row = y + j * stride;
    Packet column[Packets];
    for (int p = 0; p < Packets; ++p) column[p] = ploadu<Packet>(row + b0 + p * width);
    for (int a = 0; a < 8; ++a) {
      const Packet value = pset1<Packet>(row[a0 + a]);
      for (int p = 0; p < Packets; ++p) sum[a][p] = pmadd(value, column[p], sum[a][p]);
    }
  }
  for (int a = 0; a < 8; ++a)
    for (int p = 0; p < Packets; ++p) pstoreu(out + a * Packets * width + p * width, sum[a][p]);
}

/// gram += Yᵀ Y for Y (n, D) row by row, row stride gram_stride(D) with zeros past D: the
/// second moment of a component's few gathered rows. add_gram() runs its sums along the rows,
/// each entry ending in a horizontal sum; with the 13-40 rows a W3 component keeps of a block
/// (D = 64) those sums cost more than the products. Here rows are the loop and features the
/// lanes: every entry is computed (both triangles, which leaves nothing to mirror) and added to
/// gram a packet at a time.
template <typename Scalar, typename Gram>
void add_gram_of_rows(const Scalar* y, Index n, Index D, Gram& gram) {
  constexpr Index width = Eigen::internal::packet_traits<Scalar>::size;
  const Index stride = gram_stride<Scalar>(D);
  Scalar tile[8 * 2 * width];
  for (Index a0 = 0; a0 < D; a0 += 8) {
    for (Index b0 = 0; b0 < D; b0 += 2 * width) {
      const bool two = b0 + 2 * width <= stride;
      const Index cols = std::min<Index>(two ? 2 * width : width, D - b0), tile_cols = two ? 2 * width : width;
      if (two)
        gram_rows_tile<2>(y, stride, n, a0, b0, tile);
      else
        gram_rows_tile<1>(y, stride, n, a0, b0, tile);
      for (Index a = 0; a < std::min<Index>(8, D - a0); ++a)
        gram.row(a0 + a).segment(b0, cols) +=
            Eigen::Map<const Vector<Scalar>>(tile + a * tile_cols, cols).template cast<double>().transpose();
    }
  }
}

/// sum_i r_i (x_i - s) and sum_i r_i (x_i - s)² over n rows (a multiple of kSumLanes), in the
/// data's type, returned as double: one fused pass, four independent chains of packets each,
/// so that the adds' latency (not their rate) does not set the speed.
template <typename Scalar>
std::pair<double, double> centred_moments(const Scalar* x, const Scalar* r, Scalar s, Index n) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr Index width = Eigen::internal::packet_traits<Scalar>::size, chains = 4;
  Packet first[chains], second[chains];
  for (Index c = 0; c < chains; ++c) first[c] = second[c] = Eigen::internal::pset1<Packet>(Scalar(0));
  const Packet shift = Eigen::internal::pset1<Packet>(s);
  const auto add = [&](Index i, Index c) {
    const Packet centred = Eigen::internal::psub(Eigen::internal::ploadu<Packet>(x + i), shift);
    const Packet weighted = Eigen::internal::pmul(Eigen::internal::ploadu<Packet>(r + i), centred);
    first[c] = Eigen::internal::padd(first[c], weighted);
    second[c] = Eigen::internal::pmadd(weighted, centred, second[c]);
  };
  Index i = 0;
  for (; i + chains * width <= n; i += chains * width)
    for (Index c = 0; c < chains; ++c) add(i + c * width, c);
  for (; i < n; i += width) add(i, 0);
  for (Index c = 1; c < chains; ++c) {
    first[0] = Eigen::internal::padd(first[0], first[c]);
    second[0] = Eigen::internal::padd(second[0], second[c]);
  }
  return {static_cast<double>(Eigen::internal::predux(first[0])), static_cast<double>(Eigen::internal::predux(second[0]))};
}

/// Components whose diag or spherical moments are summed in one pass over each feature's values.
constexpr int kMomentGroup = 4;

/// centred_moments() of Group components at once over the same n values of one feature (n a
/// multiple of kSumLanes): each value is loaded once for all of them, where one component at a
/// time loads it again from L2 for every component (W4: the block is 128 KiB). first and
/// second receive each component's two sums.
template <int Group, typename Scalar>
void grouped_moments(const Scalar* x, const Scalar* const* r, const Scalar* s, Index n, double* first,
                     double* second) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  Packet f[Group], q[Group], shift[Group];
  for (int c = 0; c < Group; ++c) {
    f[c] = q[c] = pset1<Packet>(Scalar(0));
    shift[c] = pset1<Packet>(s[c]);
  }
  for (Index i = 0; i < n; i += width) {
    const Packet value = ploadu<Packet>(x + i);
    for (int c = 0; c < Group; ++c) {
      const Packet centred = psub(value, shift[c]);
      const Packet weighted = pmul(ploadu<Packet>(r[c] + i), centred);
      f[c] = padd(f[c], weighted);
      q[c] = pmadd(weighted, centred, q[c]);
    }
  }
  for (int c = 0; c < Group; ++c) {
    first[c] = static_cast<double>(predux(f[c]));
    second[c] = static_cast<double>(predux(q[c]));
  }
}

/// The statistics of one component over a block of transposed rows when D = Features <= 4
/// (full and tied): N, S1 and the lower triangle of S2 in one pass over the rows, every sum in a
/// packet of its own. At such small D the general path's separate passes (sum, count, gather,
/// centre, weight, then a dot product per pair of features) cost more than the arithmetic.
template <int Features, typename Scalar>
void add_small_moments(const Scalar* x, Index stride, const Scalar* r, const Scalar* weight, const Scalar* s,
                       Index rows, Index k, SufficientStatistics& stats) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  constexpr int pairs = Features * (Features + 1) / 2;
  Packet count = pset1<Packet>(Scalar(0)), first[Features], second[pairs], shift[Features];
  for (int d = 0; d < Features; ++d) {
    first[d] = count;
    shift[d] = pset1<Packet>(s[d]);
  }
  for (int p = 0; p < pairs; ++p) second[p] = count;
  Index i = 0;
  for (; i + width <= rows; i += width) {
    Packet resp = ploadu<Packet>(r + i);
    if (weight) resp = pmul(resp, ploadu<Packet>(weight + i));
    Packet centred[Features], weighted[Features];
    for (int d = 0; d < Features; ++d) {
      centred[d] = psub(ploadu<Packet>(x + d * stride + i), shift[d]);
      weighted[d] = pmul(resp, centred[d]);
      first[d] = padd(first[d], weighted[d]);
    }
    count = padd(count, resp);
    for (int a = 0, p = 0; a < Features; ++a)
      for (int b = 0; b <= a; ++b, ++p) second[p] = pmadd(weighted[a], centred[b], second[p]);
  }
  Scalar n = predux(count), f[Features], q[pairs];
  for (int d = 0; d < Features; ++d) f[d] = predux(first[d]);
  for (int p = 0; p < pairs; ++p) q[p] = predux(second[p]);
  for (; i < rows; ++i) {  // the last rows, one at a time
    const Scalar resp = weight ? r[i] * weight[i] : r[i];
    Scalar centred[Features];
    for (int d = 0; d < Features; ++d) {
      centred[d] = x[d * stride + i] - s[d];
      f[d] += resp * centred[d];
    }
    n += resp;
    for (int a = 0, p = 0; a < Features; ++a)
      for (int b = 0; b <= a; ++b, ++p) q[p] += resp * centred[a] * centred[b];
  }
  stats.resp_sum[k] += n;
  const Index first_row = stats.covariance_type == CovarianceType::full ? k * Features : 0;
  for (int d = 0; d < Features; ++d) stats.first(k, d) += f[d];
  for (int a = 0, p = 0; a < Features; ++a)
    for (int b = 0; b <= a; ++b, ++p) {
      stats.second(first_row + a, b) += q[p];
      if (b != a) stats.second(first_row + b, a) += q[p];
    }
}

/// add_small_moments() for a run-time D <= 4.
template <typename Scalar>
void add_small_moments_of(Index D, const Scalar* x, Index stride, const Scalar* r, const Scalar* weight,
                          const Scalar* s, Index rows, Index k, SufficientStatistics& stats) {
  switch (D) {
    case 1: add_small_moments<1>(x, stride, r, weight, s, rows, k, stats); break;
    case 2: add_small_moments<2>(x, stride, r, weight, s, rows, k, stats); break;
    case 3: add_small_moments<3>(x, stride, r, weight, s, rows, k, stats); break;
    default: add_small_moments<4>(x, stride, r, weight, s, rows, k, stats); break;
  }
}

/// Rows kept[0..n_kept) of the block in ws.transposed into ws.kept (D, n), and their
/// resp[kept[j]] (1 without resp) into ws.kept_resp; zero from n_kept to n. Feature by feature:
/// each feature's kept values are written contiguously and read from one contiguous row of
/// ws.transposed. Row by row (a column of ws.kept at a time) writes D lines a row apart for
/// every kept row, which cost a diag W4 iteration more than its E-step.
template <typename Scalar>
void gather_rows(Workspace<Scalar>& ws, const Index* kept, Index n_kept, Index n, const Scalar* resp) {
  const Index D = ws.transposed.rows();
  reserve(ws.kept, D, n);
  if (ws.kept_resp.size() < n) ws.kept_resp.resize(n);
  for (Index d = 0; d < D; ++d) {
    const Scalar* from = ws.transposed.row(d).data();
    Scalar* to = ws.kept.row(d).data();
    for (Index j = 0; j < n_kept; ++j) to[j] = from[kept[j]];
  }
  for (Index j = 0; j < n_kept; ++j) ws.kept_resp[j] = resp ? resp[kept[j]] : Scalar(1);
  ws.kept.middleCols(n_kept, n - n_kept).setZero();
  ws.kept_resp.segment(n_kept, n - n_kept).setZero();
}

/// The full / tied moments of component k over the n columns of X_k (D, n), rows transposed,
/// with weighted responsibilities r_k (n a multiple of kSumLanes, zeros in the padding). One
/// array, (x_i - s_k) sqrt(w_i r_ik), on both sides of the second moment's product: half the
/// cache of a weighted and a centred copy, and one pass fewer to write them.
template <typename Scalar, typename Rows, typename Resp>
void add_dense_moments(const Rows& X_k, const Resp& r_k, Index k, const Matrix<Scalar>& shift,
                       SufficientStatistics& stats, Workspace<Scalar>& ws) {
  const Index D = X_k.rows(), n = X_k.cols();
  reserve(ws.scaled, D, n);
  if (ws.root.size() < n) ws.root.resize(n);
  auto root = ws.root.head(n);
  root = r_k.cwiseSqrt();
  auto scaled = ws.scaled.leftCols(n);
  scaled = (X_k.colwise() - shift.row(k).transpose()).array().rowwise() * root.transpose().array();
  stats.first.row(k) += (scaled * root).template cast<double>().transpose();
  const Index first_row = stats.covariance_type == CovarianceType::full ? k * D : 0;
  auto second = stats.second.middleRows(first_row, D);
  add_gram(scaled.data(), ws.scaled.cols(), D, n, second);
}

/// Rows above which a component's gathered rows go to add_dense_moments() (sums along rows)
/// rather than add_dense_moments_of_rows(), whose full square costs about twice the products of
/// add_gram()'s triangle but no horizontal sums: those cost about as much as 12 packets of
/// products per entry (W3, D = 64: the same speed from 48 to 512 rows on Zen 4; most
/// components keep 13-40 of a block's rows).
template <typename Scalar>
constexpr Index kRowGramRows = 12 * Eigen::internal::packet_traits<Scalar>::size;

/// add_dense_moments() for the n rows own[0..n) of `block`, with weighted responsibilities
/// resp[own[j]]: each row read in place, centred, scaled by sqrt(w_i r_ik) into ws.kept_scaled,
/// then add_gram_of_rows().
template <typename Scalar>
void add_dense_moments_of_rows(const RowMajorRows<Scalar>& block, const Index* own, Index n, const Scalar* resp,
                               Index k, const Matrix<Scalar>& shift, SufficientStatistics& stats,
                               Workspace<Scalar>& ws) {
  const Index D = shift.cols(), stride = gram_stride<Scalar>(D);
  if (ws.kept_scaled.size() < n * stride) ws.kept_scaled.resize(n * stride);
  ws.first_sum.setZero(D);
  const auto s = shift.row(k).array();
  for (Index j = 0; j < n; ++j) {
    const Scalar r = resp ? resp[own[j]] : Scalar(1), root = std::sqrt(r);
    Eigen::Map<Eigen::Array<Scalar, 1, Eigen::Dynamic>> y(ws.kept_scaled.data() + j * stride, stride);
    y.head(D) = (Eigen::Map<const Eigen::Array<Scalar, 1, Eigen::Dynamic>>(block.data + own[j] * block.stride, D) - s) * root;
    y.tail(stride - D).setZero();
    ws.first_sum += y.head(D).transpose() * root;
  }
  stats.first.row(k) += ws.first_sum.template cast<double>().matrix().transpose();
  const Index first_row = stats.covariance_type == CovarianceType::full ? k * D : 0;
  auto second = stats.second.middleRows(first_row, D);
  add_gram_of_rows(ws.kept_scaled.data(), n, D, second);
}

/// out = r (times weight when given) over `rows` values, returning their sum and how many are
/// nonzero, in one vectorised pass (the sum in the data's type, as every sum within a block).
/// Three passes, one of them a float-to-double cast that did not vectorise, took 19% of a
/// float32 W4 iteration.
template <typename Scalar>
std::pair<double, Index> copy_responsibilities(const Scalar* r, const Scalar* weight, Index rows, Scalar* out) {
  using namespace Eigen::internal;
  using Packet = typename packet_traits<Scalar>::type;
  constexpr Index width = packet_traits<Scalar>::size;
  const Packet zero = pset1<Packet>(Scalar(0)), one = pset1<Packet>(Scalar(1));
  Packet sum = zero, zeros = zero;  // zeros: a count, exact in the data's type (rows < 2^24)
  Index i = 0;
  for (; i + width <= rows; i += width) {
    Packet value = ploadu<Packet>(r + i);
    if (weight) value = pmul(value, ploadu<Packet>(weight + i));
    pstoreu(out + i, value);
    sum = padd(sum, value);
    zeros = padd(zeros, pand(pcmp_eq(value, zero), one));
  }
  Scalar total = predux(sum);
  Index n_zero = static_cast<Index>(predux(zeros));
  for (; i < rows; ++i) {
    out[i] = weight ? r[i] * weight[i] : r[i];
    total += out[i];
    n_zero += out[i] == Scalar(0);
  }
  return {static_cast<double>(total), rows - n_zero};
}

/// Adds the statistics of the block in ws.transposed (`rows` rows) with responsibilities `resp`
/// (rows, K) and optional weights. `shift` is stats.shift in the data's type. Sums run in the
/// data's type within the block and in double across blocks.
///
/// Only rows with a nonzero responsibility enter a component's sums. With separated components
/// most of a block's responsibilities are exact zeros (normalize_log_prob() flushes what would be
/// subnormal), so each component's rows are gathered first and the second moments, the costly
/// half of an EM iteration, cost in proportion to the rows a component actually owns.
/// diag and spherical statistics gather a component's rows only when fewer than 1 / kGatherRatio
/// of the block's are kept (accumulate_transposed()).
constexpr Index kGatherRatio = 8;

template <typename Scalar, typename Resp>
void accumulate_transposed(Index rows, const Resp& resp, const Scalar* weight, const Matrix<Scalar>& shift,
                           SufficientStatistics& stats, Workspace<Scalar>& ws, const RowMajorRows<Scalar>& block = {}) {
  using Block = Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>>;
  const Index D = shift.cols(), K = shift.rows(), padded = padded_rows<Scalar>(rows);
  const CovarianceType type = stats.covariance_type;
  if ((type == CovarianceType::full || type == CovarianceType::tied) && D <= 4) {
    const Scalar* x = ws.transposed.data();
    const Index stride = ws.transposed.cols();
    for (Index k = 0; k < K; ++k) {
      const Scalar* r = resp.col(k).data();
      const Scalar* s = shift.row(k).data();
      add_small_moments_of(D, x, stride, r, weight, s, rows, k, stats);
    }
    return;
  }
  ws.resp.setZero(padded);
  const bool dense = type == CovarianceType::full || type == CovarianceType::tied;
  if (!dense) {
    // Each component's w_i r_ik goes straight into the group's next column; zero in the padding.
    reserve(ws.group_resp, padded, kMomentGroup);
    ws.group_resp.bottomRows(padded - rows).setZero();
    ws.group.clear();
  }
  // The diag / spherical moments of the components in ws.group, kMomentGroup at a time.
  const auto sum_group = [&]() {
    const Index members = static_cast<Index>(ws.group.size());
    const Scalar* r[kMomentGroup];
    Scalar s[kMomentGroup];
    double first[kMomentGroup], second[kMomentGroup];
    for (Index c = 0; c < members; ++c) r[c] = ws.group_resp.col(c).data();
    for (Index d = 0; d < D; ++d) {
      for (Index c = 0; c < members; ++c) s[c] = shift(ws.group[c], d);
      const Scalar* x = ws.transposed.row(d).data();
      switch (members) {
        case 4: grouped_moments<4>(x, r, s, padded, first, second); break;
        case 3: grouped_moments<3>(x, r, s, padded, first, second); break;
        case 2: grouped_moments<2>(x, r, s, padded, first, second); break;
        default: grouped_moments<1>(x, r, s, padded, first, second); break;
      }
      for (Index c = 0; c < members; ++c) {
        stats.first(ws.group[c], d) += first[c];
        stats.second(ws.group[c], d) += second[c];
      }
    }
    ws.group.clear();
  };
  for (Index k = 0; k < K; ++k) {
    Scalar* const resp_k = dense ? ws.resp.data() : ws.group_resp.col(static_cast<Index>(ws.group.size())).data();
    // The rows of k: the whole block, or its rows with r_ik > 0 gathered into ws.kept. Counted
    // first, so that a block that k shares with every row, as overlapping components do,
    // builds no index.
    const auto [total, n_kept] = copy_responsibilities(resp.col(k).data(), weight, rows, resp_k);
    if (total == 0.0) continue;  // nothing of this block belongs to k
    stats.resp_sum[k] += total;
    // Sums run over whole groups of kSumLanes; the padding holds zero responsibilities.
    // Gathering costs a scalar copy per kept value. Full and tied sums do D / 2 multiply-adds
    // per value, so it pays whenever a row is left out; diag and spherical sums a few vector
    // operations, so only when nearly all rows are (W4 gathered every block: the copies took
    // 48% of an iteration; with this rule 0.37 -> 0.15 s, native A/B runs on Zen 4).
    const bool gather = dense ? n_kept < rows : n_kept * kGatherRatio < rows;
    if (!dense && !gather) {  // summed with others over all of the block's rows
      ws.group.push_back(k);
      if (static_cast<int>(ws.group.size()) == kMomentGroup) sum_group();
      continue;
    }
    const Index n = gather ? (n_kept + kSumLanes<Scalar> - 1) / kSumLanes<Scalar> * kSumLanes<Scalar> : padded;
    if (gather) {
      ws.kept_rows.resize(rows);
      for (Index i = 0, j = 0; i < rows; ++i) {  // branch-free compaction
        ws.kept_rows[j] = i;
        j += resp_k[i] != Scalar(0);
      }
      if (dense && block.data && n_kept <= kRowGramRows<Scalar>) {
        add_dense_moments_of_rows(block, ws.kept_rows.data(), n_kept, resp_k, k, shift, stats, ws);
        continue;
      }
      gather_rows(ws, ws.kept_rows.data(), n_kept, n, resp_k);
    }
    const Matrix<Scalar>& source = gather ? ws.kept : ws.transposed;
    const Block X_k(source.data(), D, n, Eigen::OuterStride<>(source.cols()));
    const Scalar* r = gather ? ws.kept_resp.data() : resp_k;
    const auto r_k = Eigen::Map<const Vector<Scalar>>(r, n);

    if (type == CovarianceType::full || type == CovarianceType::tied) {
      add_dense_moments(X_k, r_k, k, shift, stats, ws);
    } else {
      for (Index d = 0; d < D; ++d) {
        const auto [first, second] = centred_moments(X_k.row(d).data(), r, shift(k, d), n);
        stats.first(k, d) += first;
        stats.second(k, d) += second;
      }
    }
  }
  if (!dense && !ws.group.empty()) sum_group();
}

/// accumulate_labelled() for diag and spherical: every row's D values straight from X_blk, in
/// row order, into its label's sums in the data's type (ws.first_sum, ws.second_sum: K x D).
/// Each label's rows are summed in increasing order, as one label at a time would; reading them
/// label by label instead scattered the block's reads, which then missed cache on most lines
/// (76% of W4's statistics from labels).
template <typename Scalar, typename Rows>
void accumulate_labelled_diagonal(const Rows& X_blk, const LabelVector::Scalar* labels, const Scalar* weight,
                                  const Matrix<Scalar>& shift, SufficientStatistics& stats, Workspace<Scalar>& ws) {
  const Index rows = X_blk.rows(), D = shift.cols(), K = shift.rows();
  ws.first_sum.setZero(K * D);
  ws.second_sum.setZero(K * D);
  ws.label_total.setZero(K);
  Scalar* __restrict first = ws.first_sum.data();
  Scalar* __restrict second = ws.second_sum.data();
  for (Index i = 0; i < rows; ++i) {
    const Index k = labels[i];
    const Scalar* x = X_blk.data() + i * X_blk.outerStride();
    const Scalar* s = shift.row(k).data();
    const Scalar w = weight ? weight[i] : Scalar(1);
    ws.label_total[k] += static_cast<double>(w);
    Scalar* __restrict f = first + k * D;
    Scalar* __restrict q = second + k * D;
    for (Index d = 0; d < D; ++d) {
      const Scalar centred = x[d] - s[d];
      f[d] += w * centred;
      q[d] += w * centred * centred;
    }
  }
  for (Index k = 0; k < K; ++k) {
    if (ws.label_total[k] == 0.0) continue;
    stats.resp_sum[k] += ws.label_total[k];
    stats.first.row(k) += ws.first_sum.segment(k * D, D).template cast<double>().matrix().transpose();
    stats.second.row(k) += ws.second_sum.segment(k * D, D).template cast<double>().matrix().transpose();
  }
}

/// The statistics of hard responsibilities: row i of the block X_blk (row-major) wholly in
/// component labels[i], with weight w_i (1 without weights). What accumulate_transposed() sums
/// from one-hot responsibilities, without them: the rows are grouped by label in one counting
/// pass, so that each component reads its own rows only. K passes over a block's one-hot
/// columns took 62 ms of W4's 0.2 s k-means start.
template <typename Scalar, typename Rows>
void accumulate_labelled(const Rows& X_blk, const LabelVector::Scalar* labels, const Scalar* weight,
                         const Matrix<Scalar>& shift, SufficientStatistics& stats, Workspace<Scalar>& ws) {
  const Index rows = X_blk.rows(), D = shift.cols(), K = shift.rows();
  const bool dense = stats.covariance_type == CovarianceType::full || stats.covariance_type == CovarianceType::tied;
  if (dense && D <= 4) {
    // add_small_moments() over all rows, each component's responsibilities 0 or w_i: at such
    // small D a pass over the block costs less than gathering a component's rows.
    load_transposed(X_blk, ws);
    ws.resp.resize(rows);
    for (Index k = 0; k < K; ++k) {
      for (Index i = 0; i < rows; ++i) ws.resp[i] = labels[i] == k ? (weight ? weight[i] : Scalar(1)) : Scalar(0);
      const Scalar* x = ws.transposed.data();
      const Index stride = ws.transposed.cols();
      const Scalar* s = shift.row(k).data();
      add_small_moments_of<Scalar>(D, x, stride, ws.resp.data(), nullptr, s, rows, k, stats);
    }
    return;
  }
  if (!dense) {
    accumulate_labelled_diagonal(X_blk, labels, weight, shift, stats, ws);
    return;
  }
  ws.label_start.assign(static_cast<std::size_t>(K + 1), 0);
  for (Index i = 0; i < rows; ++i) ++ws.label_start[labels[i] + 1];
  for (Index k = 0; k < K; ++k) ws.label_start[k + 1] += ws.label_start[k];
  ws.kept_rows.resize(rows);
  // Each label's start is its cursor: afterwards label_start[k] is where label k + 1 begins.
  for (Index i = 0; i < rows; ++i) ws.kept_rows[ws.label_start[labels[i]]++] = i;
  // The block is transposed only for a component with too many rows to sum row by row.
  const RowMajorRows<Scalar> block = row_major_rows(X_blk);
  bool transposed = false;
  // The rows are read by label, out of order, which the hardware does not prefetch: the block
  // after this one is prefetched a slice per component (W2's statistics from labels -15%).
  NextRowsPrefetch next_rows(X_blk, K);
  for (Index k = 0; k < K; ++k) {
    next_rows.step();
    const Index from = k == 0 ? 0 : ws.label_start[k - 1];
    const Index* own = ws.kept_rows.data() + from;
    const Index n_k = ws.label_start[k] - from;
    double total = static_cast<double>(n_k);
    if (weight) {
      total = 0.0;
      for (Index j = 0; j < n_k; ++j) total += static_cast<double>(weight[own[j]]);
    }
    if (total == 0.0) continue;
    stats.resp_sum[k] += total;
    if (block.data && n_k <= kRowGramRows<Scalar>) {
      add_dense_moments_of_rows(block, own, n_k, weight, k, shift, stats, ws);
      continue;
    }
    if (!transposed) load_transposed(X_blk, ws);
    transposed = true;
    const Index n = (n_k + kSumLanes<Scalar> - 1) / kSumLanes<Scalar> * kSumLanes<Scalar>;
    gather_rows(ws, own, n_k, n, weight);
    using Block = Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>>;
    const Block X_k(ws.kept.data(), D, n, Eigen::OuterStride<>(ws.kept.cols()));
    add_dense_moments(X_k, Eigen::Map<const Vector<Scalar>>(ws.kept_resp.data(), n), k, shift, stats, ws);
  }
}

/// The blocks, threads and per-thread statistics of one pass over X about `shift` (K, D):
/// `add_block(ws, stats, X_blk, begin, weight)` adds a block's statistics and returns whether
/// it also scored the block (log p(x) in ws.log_norm, or summed), whose log-likelihood is then
/// summed too. The result is buffers.partial[0]; the buffers are reused, so repeated passes
/// allocate nothing.
template <typename Scalar, typename AddBlock>
void pass_over_blocks(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight, CovarianceType type,
                      const Matrix<Scalar>& shift, PassBuffers<Scalar>& buffers, AddBlock&& add_block) {
  const Index rows = block_rows(X.cols());
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
    const Scalar* weight = weighted ? sample_weight.data() + begin : nullptr;
    const bool scored = add_block(ws, stats, X.middleRows(begin, end - begin), begin, weight);
    if (weighted) {  // rows' log p(x) needed: never a summed block
      const auto w = sample_weight.segment(begin, end - begin).template cast<double>();
      if (scored) stats.log_likelihood_sum += ws.log_norm.template cast<double>().dot(w);
      stats.weight_sum += w.sum();
    } else {
      if (scored)
        stats.log_likelihood_sum += ws.log_norm_summed ? ws.log_norm_sum : ws.log_norm.template cast<double>().sum();
      stats.weight_sum += static_cast<double>(end - begin);
    }
  });
  for (int t = 1; t < n_threads; ++t) buffers.partial[0].merge(buffers.partial[t]);
}

/// The one accumulator of statistics (pass_over_blocks()), each block's responsibilities
/// written into ws.log_prob (rows, K) by `responsibilities(ws, X_blk, begin)`. When that
/// callback also scored the block (the E-step) it returns true, having left X_blkᵀ in
/// ws.transposed and log p(x) in ws.log_norm.
template <typename Scalar, typename Responsibilities>
void accumulate_pass(MatrixCRef<Scalar> X, VectorCRef<Scalar> sample_weight, CovarianceType type,
                     const Matrix<Scalar>& shift, PassBuffers<Scalar>& buffers, Responsibilities&& responsibilities) {
  pass_over_blocks<Scalar>(X, sample_weight, type, shift, buffers,
                           [&](Workspace<Scalar>& ws, SufficientStatistics& stats, const auto& X_blk, Index begin,
                               const Scalar* weight) {
                             ws.unscaled = false;
                             const bool scored = responsibilities(ws, X_blk, begin);
                             if (!scored) load_transposed(X_blk, ws);
                             const Scalar* row_weight = weight;
                             if (ws.unscaled) {  // exp(log_prob - max): divided by the row's sum here
                               if (weight)
                                 ws.total.array() *= Eigen::Map<const Vector<Scalar>>(weight, X_blk.rows()).array();
                               row_weight = ws.total.data();
                             }
                             accumulate_transposed(X_blk.rows(), ws.log_prob, row_weight, shift, stats, ws,
                                                   row_major_rows(X_blk));
                             return scored;
                           });
}

/// The same statistics for hard responsibilities, row i wholly in component labels[i]
/// (accumulate_labelled()).
template <typename Scalar>
void accumulate_labels_pass(MatrixCRef<Scalar> X, const LabelVector& labels, VectorCRef<Scalar> sample_weight,
                            CovarianceType type, const Matrix<Scalar>& shift, PassBuffers<Scalar>& buffers) {
  pass_over_blocks<Scalar>(X, sample_weight, type, shift, buffers,
                           [&](Workspace<Scalar>& ws, SufficientStatistics& stats, const auto& X_blk, Index begin,
                               const Scalar* weight) {
                             accumulate_labelled(X_blk, labels.data() + begin, weight, shift, stats, ws);
                             return false;
                           });
}

}  // namespace gaussmix::detail
