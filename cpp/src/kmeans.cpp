// k-means for initialising EM: greedy k-means++ seeding and Lloyd's iterations, blocked and
// parallel like the E-step.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "checks.hpp"
#include "gaussmix/detail/random.hpp"
#include "gaussmix/fit.hpp"
#include "parallel.hpp"

namespace gaussmix {

namespace {

template <typename Scalar>
Vector<double> weights_or_ones(VectorCRef<Scalar> sample_weight, Index n) {
  if (sample_weight.size() == 0) return Vector<double>::Ones(n);
  return sample_weight.template cast<double>();
}

/// Index i with probability proportional to mass[i], by a linear scan of the cumulative sum.
Index draw_proportional(const Vector<double>& mass, double total, detail::Random& rng) {
  const double target = rng.uniform() * total;
  double running = 0.0;
  Index last_positive = 0;
  for (Index i = 0; i < mass.size(); ++i) {
    if (mass[i] <= 0.0) continue;
    running += mass[i];
    last_positive = i;
    if (running > target) return i;
  }
  return last_positive;  // rounding left target just above the sum
}

// Templated on the center's expression so that a row of a matrix is not copied (and allocated)
// once per sample.
template <typename Scalar, typename Center>
double squared_distance(const MatrixCRef<Scalar>& X, Index i, const Eigen::MatrixBase<Center>& center) {
  return (X.row(i).template cast<double>() - center).squaredNorm();
}

/// Candidates scored together: one SIMD register of double lanes on AVX-512.
constexpr Index kCandidateGroup = 8;
using CandidateLanes = Eigen::Array<double, kCandidateGroup, 1>;

/// Scores one group of k-means++ candidates on rows [begin, end) of X: adds to `potential` each
/// candidate's sum_i w_i min(closest_i, d_i²), with d_i² = ||x||² + ||c||² - 2 x.c clipped at
/// zero, and writes the d_i² to `kept` ((end - begin) x kCandidateGroup, row-major) unless it is
/// null. `centers_t` holds the group transposed, (D, kCandidateGroup) row-major, zero-padded.
/// Eight rows at a time, so that each broadcast of x_id feeds one FMA into each of eight
/// independent accumulators and X is read once, with no packing: k-means++ scores only a
/// handful of candidates per step, too few for a GEMM's packing to pay.
template <typename Scalar>
void score_candidates(const MatrixCRef<Scalar>& X, Index begin, Index end, const double* centers_t,
                      const CandidateLanes& center_norms, const Vector<double>& row_norms,
                      const Vector<double>& closest, const Vector<double>& weight, CandidateLanes& potential,
                      double* kept) {
  using Map = Eigen::Map<const CandidateLanes>;
  constexpr Index kRows = 8;
  const Index D = X.cols();
  const auto finish = [&](Index i, const CandidateLanes& dot) {
    const CandidateLanes distance = (row_norms[i] + center_norms - 2.0 * dot).max(0.0);
    potential += weight[i] * distance.min(closest[i]);
    if (kept) Eigen::Map<CandidateLanes>(kept + (i - begin) * kCandidateGroup) = distance;
  };
  Index i = begin;
  for (; i + kRows <= end; i += kRows) {
    CandidateLanes acc[kRows];
    for (auto& a : acc) a.setZero();
    for (Index d = 0; d < D; ++d) {
      const CandidateLanes c = Map(centers_t + d * kCandidateGroup);
      for (Index r = 0; r < kRows; ++r) acc[r] += static_cast<double>(X(i + r, d)) * c;
    }
    for (Index r = 0; r < kRows; ++r) finish(i + r, acc[r]);
  }
  for (; i < end; ++i) {
    CandidateLanes acc = CandidateLanes::Zero();
    for (Index d = 0; d < D; ++d) acc += static_cast<double>(X(i, d)) * Map(centers_t + d * kCandidateGroup);
    finish(i, acc);
  }
}

}  // namespace

template <typename Scalar>
std::vector<Index> kmeans_plusplus(MatrixCRef<Scalar> X, Index n_clusters, std::uint64_t seed,
                                   VectorCRef<Scalar> sample_weight) {
  const char* caller = "kmeans_plusplus()";
  detail::require_data<Scalar>(X, caller);
  detail::require(n_clusters >= 1 && n_clusters <= X.rows(), caller,
                  "n_clusters must be in [1, n_samples = " + std::to_string(X.rows()) + "], got " +
                      std::to_string(n_clusters));
  detail::require_sample_weight<Scalar>(sample_weight, X.rows(), caller);
  const Index n = X.rows();
  const Vector<double> weight = weights_or_ones<Scalar>(sample_weight, n);
  detail::Random rng(seed);
  const Index rows = detail::block_rows(X.cols());
  // Greedy k-means++ (as scikit-learn): try 2 + log k candidates, keep the one that lowers the
  // potential sum_i w_i d_i^2 most.
  const Index n_trials = 2 + static_cast<Index>(std::log(static_cast<double>(n_clusters)));
  // Each step is one short pass over X; below a few million flops a second thread costs more in
  // start-up and barriers than it saves.
  const int n_threads = n * X.cols() * n_trials < (Index(1) << 19) ? 1 : detail::threads_for(n, rows);

  // Distances by ||x||^2 + ||c||^2 - 2 x.c: seeding only samples proportionally to them, so the
  // expansion's rounding (clipped at zero) does no harm.
  const Vector<double> row_norms = X.template cast<double>().rowwise().squaredNorm();
  std::vector<Index> chosen{draw_proportional(weight, weight.sum(), rng)};
  Vector<double> closest(n);  // squared distance to the nearest chosen center
  detail::for_each_block(n, rows, n_threads, [&](int, Index begin, Index end) {
    const Eigen::RowVectorXd center = X.row(chosen[0]).template cast<double>();
    for (Index i = begin; i < end; ++i) closest[i] = squared_distance(X, i, center);
  });

  const Index n_groups = (n_trials + kCandidateGroup - 1) / kCandidateGroup;
  // Candidates transposed in groups of kCandidateGroup, (D, kCandidateGroup) each, zero-padded.
  std::vector<Matrix<double>> groups_t(n_groups, Matrix<double>(X.cols(), kCandidateGroup));
  Eigen::ArrayXd candidate_norms(n_groups * kCandidateGroup);
  std::vector<Index> candidate_rows(n_trials);
  std::vector<Eigen::ArrayXd> thread_potential(n_threads, Eigen::ArrayXd(n_groups * kCandidateGroup));
  // With one group and up to 16 MiB of distances, the pass keeps them and the winner's update of
  // `closest` needs no second pass over X.
  const bool keep = n_groups == 1 && n * kCandidateGroup * Index(sizeof(double)) <= (Index(16) << 20);
  Matrix<double> kept(keep ? n : 0, kCandidateGroup);
  std::vector<Vector<Scalar>> winner_dots(keep ? 0 : n_threads);
  std::vector<double> cumulative(n);
  for (Index c = 1; c < n_clusters; ++c) {
    double running = 0.0;
    for (Index i = 0; i < n; ++i) cumulative[i] = running += weight[i] * closest[i];
    const double potential = running;
    for (auto& group_t : groups_t) group_t.setZero();
    candidate_norms.setZero();
    for (Index t = 0; t < n_trials; ++t) {
      if (potential > 0.0) {
        // The first sample whose cumulative mass exceeds a uniform draw; zero-mass samples
        // never are, since their cumulative value equals their predecessor's.
        const double target = rng.uniform() * potential;
        const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
        candidate_rows[t] = std::min<Index>(it - cumulative.begin(), n - 1);
      } else {
        // All remaining mass on already chosen points (duplicates): any weighted point will do.
        candidate_rows[t] = draw_proportional(weight, weight.sum(), rng);
      }
      groups_t[t / kCandidateGroup].col(t % kCandidateGroup) = X.row(candidate_rows[t]).template cast<double>().transpose();
      candidate_norms[t] = row_norms[candidate_rows[t]];
    }
    for (auto& p : thread_potential) p.setZero();
    detail::for_each_block(n, rows, n_threads, [&](int thread, Index begin, Index end) {
      for (Index g = 0; g < n_groups; ++g) {
        CandidateLanes part = CandidateLanes::Zero();
        score_candidates(X, begin, end, groups_t[g].data(), candidate_norms.segment<kCandidateGroup>(g * kCandidateGroup),
                         row_norms, closest, weight, part, keep ? kept.row(begin).data() : nullptr);
        thread_potential[thread].segment<kCandidateGroup>(g * kCandidateGroup) += part;
      }
    });
    Eigen::ArrayXd trial_potential = Eigen::ArrayXd::Zero(n_trials);
    for (const auto& p : thread_potential) trial_potential += p.head(n_trials);
    Index best = 0;
    trial_potential.minCoeff(&best);
    chosen.push_back(candidate_rows[best]);
    if (keep) {
      for (Index i = 0; i < n; ++i) closest[i] = std::min(closest[i], kept(i, best));
      continue;
    }
    // One matrix-vector product per block (in the data's type): a dot product per row would
    // spend more on its horizontal sum than on the multiply-adds.
    const Vector<Scalar> winner = groups_t[best / kCandidateGroup].col(best % kCandidateGroup).template cast<Scalar>();
    const double winner_norm = candidate_norms[best];
    detail::for_each_block(n, rows, n_threads, [&](int thread, Index begin, Index end) {
      auto& dots = winner_dots[thread];
      dots.noalias() = X.middleRows(begin, end - begin) * winner;
      for (Index i = begin; i < end; ++i)
        closest[i] = std::min(closest[i], std::max(0.0, row_norms[i] + winner_norm - 2.0 * dots[i - begin]));
    });
  }
  return chosen;
}

template <typename Scalar>
KMeansResult<Scalar> kmeans(MatrixCRef<Scalar> X, Index n_clusters, std::uint64_t seed,
                            VectorCRef<Scalar> sample_weight, int max_iter, double tol) {
  const char* caller = "kmeans()";
  detail::require(max_iter >= 1, caller, "max_iter must be >= 1");
  detail::require(tol >= 0.0, caller, "tol must be >= 0");
  const std::vector<Index> seeds = kmeans_plusplus(X, n_clusters, seed, sample_weight);
  const Index n = X.rows(), D = X.cols(), K = n_clusters;
  const Vector<double> weight = weights_or_ones<Scalar>(sample_weight, n);

  Matrix<double> centers(K, D);
  for (Index k = 0; k < K; ++k) centers.row(k) = X.row(seeds[k]).template cast<double>();

  // scikit-learn's tolerance: tol times the mean variance of the features.
  const Eigen::RowVectorXd mean = X.template cast<double>().colwise().mean();
  const double tolerance =
      tol * (X.template cast<double>().rowwise() - mean).array().square().colwise().mean().mean();

  const Index rows = detail::block_rows(D);
  const int n_threads = detail::threads_for(n, rows);
  struct Partial {
    Matrix<double> sums;
    Vector<double> counts;
    double inertia;
    Index changed;
  };
  std::vector<Partial> partial(n_threads);
  std::vector<Matrix<Scalar>> scores(n_threads, Matrix<Scalar>(std::min(n, rows), K));  // reused every pass
  LabelVector labels = LabelVector::Constant(n, -1);
  Vector<double> distance(n);

  // Assigns every sample to its nearest center; accumulates weighted sums per cluster.
  const auto assign = [&]() {
    const Matrix<Scalar> centers_s = centers.cast<Scalar>();
    const Vector<Scalar> half_norms = Scalar(0.5) * centers_s.rowwise().squaredNorm();
    for (auto& p : partial) {
      p.sums = Matrix<double>::Zero(K, D);
      p.counts = Vector<double>::Zero(K);
      p.inertia = 0.0;
      p.changed = 0;
    }
    detail::for_each_block(n, rows, n_threads, [&](int thread, Index begin, Index end) {
      auto& p = partial[thread];
      // argmin_k ||x - c_k||^2 = argmax_k (x . c_k - ||c_k||^2 / 2): one matrix product per block.
      auto score = scores[thread].topRows(end - begin);
      score.noalias() = X.middleRows(begin, end - begin) * centers_s.transpose();
      score.rowwise() -= half_norms.transpose();
      for (Index i = begin; i < end; ++i) {
        // The largest score by a vectorised reduction, then its first position: maxCoeff(&index)
        // would compare one coefficient at a time.
        const auto row = score.row(i - begin);
        const Scalar top = row.maxCoeff();
        Index best = 0;
        while (row[best] != top) ++best;
        if (labels[i] != best) ++p.changed;
        labels[i] = best;
        distance[i] = squared_distance(X, i, centers.row(best));
        p.inertia += weight[i] * distance[i];
        p.counts[best] += weight[i];
        p.sums.row(best) += weight[i] * X.row(i).template cast<double>();
      }
    });
    Partial total = partial[0];
    for (int t = 1; t < n_threads; ++t) {
      total.sums += partial[t].sums;
      total.counts += partial[t].counts;
      total.inertia += partial[t].inertia;
      total.changed += partial[t].changed;
    }
    return total;
  };

  KMeansResult<Scalar> result;
  bool strict_convergence = false;
  Partial totals;
  for (int iter = 1; iter <= max_iter; ++iter) {
    totals = assign();
    result.n_iter = iter;
    Matrix<double> updated = centers;
    std::vector<Index> taken;
    for (Index k = 0; k < K; ++k) {
      if (totals.counts[k] > 0.0) {
        updated.row(k) = totals.sums.row(k) / totals.counts[k];
        continue;
      }
      // An empty cluster moves to the weighted sample farthest from its own center.
      Index far = -1;
      for (Index i = 0; i < n; ++i)
        if (weight[i] > 0.0 && std::find(taken.begin(), taken.end(), i) == taken.end() &&
            (far < 0 || distance[i] > distance[far]))
          far = i;
      if (far >= 0) {
        taken.push_back(far);
        updated.row(k) = X.row(far).template cast<double>();
      }
    }
    const double shift = (updated - centers).squaredNorm();
    centers = updated;
    if (totals.changed == 0) {
      strict_convergence = true;
      break;
    }
    if (shift <= tolerance) break;
  }
  // Labels must belong to the final centers.
  if (!strict_convergence) totals = assign();
  result.centers = centers.cast<Scalar>();
  result.labels = labels;
  result.inertia = totals.inertia;
  return result;
}

template std::vector<Index> kmeans_plusplus<float>(MatrixCRef<float>, Index, std::uint64_t, VectorCRef<float>);
template std::vector<Index> kmeans_plusplus<double>(MatrixCRef<double>, Index, std::uint64_t, VectorCRef<double>);
template KMeansResult<float> kmeans<float>(MatrixCRef<float>, Index, std::uint64_t, VectorCRef<float>, int, double);
template KMeansResult<double> kmeans<double>(MatrixCRef<double>, Index, std::uint64_t, VectorCRef<double>, int, double);

}  // namespace gaussmix
