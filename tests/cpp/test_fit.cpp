// EM end to end: recovery of a known mixture, closed forms, monotone lower bound, weights.

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.hpp"
#include "gaussmix/detail/random.hpp"
#include "testdata.hpp"

using namespace gaussmix;

int main() {
  const Model<double> truth = testdata::three_blobs();
  const Sample<double> drawn = truth.sample(20000, 42);

  // Recovery from the default k-means initialisation.
  FitOptions options;
  options.n_components = 3;
  options.seed = 3;
  const FitResult<double> result = fit<double>(drawn.X, options);
  CHECK(result.converged);
  const Model<double>& model = result.model;
  for (Index k = 0; k < 3; ++k) {
    Index j = 0;
    (model.means().rowwise() - truth.means().row(k)).rowwise().norm().minCoeff(&j);
    CHECK((model.means().row(j) - truth.means().row(k)).norm() < 0.1);
    CHECK(std::abs(model.weights()[j] - truth.weights()[k]) < 0.02);
    CHECK((model.covariances().middleRows(j * 2, 2) - truth.covariances().middleRows(k * 2, 2)).norm() < 0.15);
  }
  // Seeded from a larger count's k-means++ rows (same seed, same trials per step): the same fit,
  // restart by restart (InitialParameters::kmeans_seeds, the sweep's shared seeding).
  {
    FitOptions seeded = options;
    seeded.n_components = 9;
    seeded.n_init = 2;
    seeded.kmeans_sample_size = 0;
    const Matrix<double> few = drawn.X.topRows(3000);
    CHECK(kmeans_plusplus_trials(9) == kmeans_plusplus_trials(14));
    InitialParameters<double> init;
    init.kmeans_seeds.resize(2, 14);
    for (Index i = 0; i < 2; ++i) {
      const std::vector<Index> rows = kmeans_plusplus<double>(few, 14, detail::derive_seed(seeded.seed, i));
      for (Index k = 0; k < 14; ++k) init.kmeans_seeds(i, k) = rows[k];
    }
    const FitResult<double> plain = fit<double>(few, seeded), shared = fit<double>(few, seeded, Vector<double>(), init);
    CHECK(plain.model.means() == shared.model.means());
    CHECK(plain.lower_bound == shared.lower_bound && plain.inits.size() == 2 && shared.inits.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) CHECK(plain.inits[i].lower_bound == shared.inits[i].lower_bound);
    init.kmeans_seeds.col(3).setConstant(7);  // other rows: another start
    CHECK(fit<double>(few, seeded, Vector<double>(), init).lower_bound != plain.lower_bound);
  }
  // The lower bound never decreases.
  for (std::size_t i = 1; i < result.lower_bounds.size(); ++i)
    CHECK(result.lower_bounds[i] >= result.lower_bounds[i - 1] - 1e-12);
  CHECK_CLOSE(result.lower_bound, result.lower_bounds.back(), 0.0);
  // Labels agree with the generating components (up to renaming).
  const LabelVector labels = model.predict(drawn.X);
  Index agree = 0;
  for (Index i = 0; i < labels.size(); ++i) {
    Index j = 0;
    (model.means().rowwise() - truth.means().row(drawn.labels[i])).rowwise().norm().minCoeff(&j);
    agree += labels[i] == j;
  }
  CHECK(agree > 0.99 * labels.size());

  // Same seed, same fit; every initialisation method converges near the truth.
  const FitResult<double> again = fit<double>(drawn.X, options);
  CHECK(again.model.means() == model.means());
  for (auto init : {InitMethod::kmeans_plusplus, InitMethod::random_from_data, InitMethod::random}) {
    FitOptions other = options;
    other.init = init;
    other.n_init = 3;
    other.max_iter = 500;
    other.tol = 1e-6;  // random responsibilities start all components alike: EM creeps at first
    const FitResult<double> r = fit<double>(drawn.X, other);
    CHECK(r.inits.size() == 3);
    CHECK(r.lower_bound > result.lower_bound - 1e-3);
  }

  // One component: the sample mean and the biased sample covariance plus reg_covar.
  FitOptions single;
  single.n_components = 1;
  single.reg_covar = 1e-3;
  const FitResult<double> one = fit<double>(drawn.X, single);
  const Eigen::RowVectorXd mean = drawn.X.colwise().mean();
  const Matrix<double> centered = drawn.X.rowwise() - mean;
  Eigen::MatrixXd cov = centered.transpose() * centered / double(drawn.X.rows());
  cov.diagonal().array() += 1e-3;
  CHECK((one.model.means().row(0) - mean).norm() < 1e-10);
  CHECK((Eigen::MatrixXd(one.model.covariances()) - cov).norm() < 1e-9);

  // Integer sample weights equal repeated rows; zero weights equal dropped rows.
  const Matrix<double> small = drawn.X.topRows(300);
  Vector<double> weight(300);
  for (Index i = 0; i < 300; ++i) weight[i] = double(i % 3);  // 0, 1, 2
  Matrix<double> repeated(300, 2);
  Index rows = 0;
  for (Index i = 0; i < 300; ++i)
    for (int r = 0; r < int(weight[i]); ++r) repeated.row(rows++) = small.row(i);
  repeated.conservativeResize(rows, 2);
  InitialParameters<double> init{truth.weights(), truth.means(), truth.precisions()};
  options.tol = 1e-10;
  options.max_iter = 50;
  const FitResult<double> weighted = fit<double>(small, options, weight, init);
  const FitResult<double> expanded = fit<double>(repeated, options, Vector<double>(), init);
  CHECK(weighted.n_iter == expanded.n_iter);
  CHECK((weighted.model.means() - expanded.model.means()).norm() < 1e-9);
  CHECK((weighted.model.covariances() - expanded.model.covariances()).norm() < 1e-9);
  CHECK_CLOSE(weighted.lower_bound, expanded.lower_bound, 1e-10);

  // float32 data is fitted in float32 and lands near the float64 fit.
  options = FitOptions();
  options.n_components = 3;
  options.seed = 3;
  const FitResult<float> result32 = fit<float>(drawn.X.cast<float>(), options);
  CHECK(result32.converged);
  CHECK(std::abs(result32.lower_bound - result.lower_bound) < 1e-3);

  // Warm start continues from a model and converges immediately at a fixed point.
  const FitResult<double> resumed = fit_from(result.model, drawn.X, options, Vector<double>(), result.lower_bound);
  CHECK(resumed.converged && resumed.n_iter <= 2);

  // k-means alone separates the blobs.
  const KMeansResult<double> km = kmeans<double>(drawn.X, 3, 11);
  CHECK(km.labels.size() == drawn.X.rows());
  CHECK(km.inertia > 0 && km.n_iter >= 1);

  // k-means++ chooses exactly the seeds of a plain reference implementation (same draws, exact
  // distances), whether it keeps the candidates' distances (small N) or recomputes the winner's
  // (N above 2^18 rows), and with more than eight candidates per step (K > e^6), which are
  // scored in several groups.
  const auto reference_seeds = [](const Matrix<double>& X, Index K, std::uint64_t seed) {
    detail::Random rng(seed);
    const Index n = X.rows(), trials = 2 + static_cast<Index>(std::log(static_cast<double>(K)));
    std::vector<Index> chosen{std::min<Index>(static_cast<Index>(rng.uniform() * n), n - 1)};
    Eigen::ArrayXd closest = (X.rowwise() - X.row(chosen[0])).rowwise().squaredNorm();
    while (static_cast<Index>(chosen.size()) < K) {
      std::vector<double> cumulative(n);
      double running = 0.0;
      for (Index i = 0; i < n; ++i) cumulative[i] = running += closest[i];
      Index best_row = -1;
      double best_potential = 0.0;
      Eigen::ArrayXd best_closest;
      for (Index t = 0; t < trials; ++t) {
        const double target = rng.uniform() * running;
        const Index row = std::min<Index>(std::upper_bound(cumulative.begin(), cumulative.end(), target) -
                                              cumulative.begin(), n - 1);
        const Eigen::ArrayXd updated = closest.min((X.rowwise() - X.row(row)).rowwise().squaredNorm().array());
        if (best_row < 0 || updated.sum() < best_potential) {
          best_row = row;
          best_potential = updated.sum();
          best_closest = updated;
        }
      }
      chosen.push_back(best_row);
      closest = best_closest;
    }
    return chosen;
  };
  for (auto [n, K] : {std::pair<Index, Index>{4000, 20}, {300000, 6}, {3000, 1200}}) {
    const Matrix<double> points = Matrix<double>::Random(n, 3);
    CHECK(kmeans_plusplus<double>(points, K, 17) == reference_seeds(points, K, 17));
  }

  // The k-means initialisation is the M-step of the k-means labels: weighted cluster means and
  // covariances (+ reg_covar), for every covariance type. 2000 rows: one k-means run
  // (kmeans_start_runs()), the restarts are checked below.
  CHECK(kmeans_start_runs(2000, 4, FitOptions::kAutomaticSample) == 1);
  const Matrix<double> X = drawn.X.topRows(2000);
  const Vector<double> w = (Vector<double>::Random(X.rows()).array() + 1.5).matrix();
  for (auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical}) {
    FitOptions init;
    init.n_components = 4;
    init.covariance_type = type;
    init.max_iter = 0;
    init.reg_covar = 1e-4;
    init.seed = 5;
    const Model<double> start = fit<double>(X, init, w).model;
    const KMeansResult<double> clusters = kmeans<double>(X, 4, detail::derive_seed(5, 0), w);
    Matrix<double> pooled = Matrix<double>::Zero(2, 2);
    double total = w.sum();
    for (Index k = 0; k < 4; ++k) {
      double mass = 0.0;
      Eigen::RowVector2d mean = Eigen::RowVector2d::Zero();
      for (Index i = 0; i < X.rows(); ++i)
        if (clusters.labels[i] == k) mass += w[i], mean += w[i] * X.row(i);
      mean /= mass;
      Matrix<double> scatter = Matrix<double>::Zero(2, 2);
      for (Index i = 0; i < X.rows(); ++i)
        if (clusters.labels[i] == k) scatter += w[i] * (X.row(i) - mean).transpose() * (X.row(i) - mean);
      pooled += scatter;
      CHECK_CLOSE(start.weights()[k], mass / total, 1e-12);
      CHECK((start.means().row(k) - mean).norm() < 1e-12 * (1.0 + mean.norm()));
      const Matrix<double> cov = scatter / mass + 1e-4 * Matrix<double>::Identity(2, 2);
      if (type == CovarianceType::full)
        CHECK((start.covariances().middleRows(k * 2, 2) - cov).norm() < 1e-10);
      else if (type == CovarianceType::diag)
        CHECK((start.covariances().row(k).transpose() - cov.diagonal()).norm() < 1e-10);
      else if (type == CovarianceType::spherical)
        CHECK_CLOSE(start.covariances()(k, 0), cov.diagonal().mean(), 1e-10);
    }
    if (type == CovarianceType::tied)
      CHECK((start.covariances() - (pooled / total + 1e-4 * Matrix<double>::Identity(2, 2))).norm() < 1e-10);
  }

  // Lloyd's iterations (which skip the product for rows their distance bounds settle) match a
  // plain Lloyd written here: same seeding, every distance computed, scikit-learn's stopping
  // rules (no label changed, or the centers moved less than tol times the mean variance).
  const auto reference_lloyd = [](const Matrix<double>& X, const std::vector<Index>& seeds, double tol) {
    const Index n = X.rows(), D = X.cols(), K = static_cast<Index>(seeds.size());
    Matrix<double> centers(K, D);
    for (Index k = 0; k < K; ++k) centers.row(k) = X.row(seeds[k]);
    const double tolerance = tol * ((X.rowwise() - X.colwise().mean()).array().square().colwise().sum() /
                                    static_cast<double>(n)).mean();
    LabelVector labels = LabelVector::Constant(n, -1);
    const auto nearest = [&](Index i) {
      Index best = 0;
      for (Index k = 1; k < K; ++k)
        if ((X.row(i) - centers.row(k)).squaredNorm() < (X.row(i) - centers.row(best)).squaredNorm()) best = k;
      return best;
    };
    int n_iter = 0;
    bool strict = false;
    for (int iter = 1; iter <= 300; ++iter) {
      n_iter = iter;
      Index changed = 0;
      for (Index i = 0; i < n; ++i) {
        const Index best = nearest(i);
        changed += best != labels[i];
        labels[i] = best;
      }
      Matrix<double> updated = Matrix<double>::Zero(K, D);
      Vector<double> count = Vector<double>::Zero(K);
      for (Index i = 0; i < n; ++i) updated.row(labels[i]) += X.row(i), count[labels[i]] += 1.0;
      for (Index k = 0; k < K; ++k) updated.row(k) = count[k] > 0 ? Eigen::RowVectorXd(updated.row(k) / count[k])
                                                                   : Eigen::RowVectorXd(centers.row(k));
      const double moved = (updated - centers).squaredNorm();
      centers = updated;
      if (changed == 0) {
        strict = true;
        break;
      }
      if (moved <= tolerance) break;
    }
    if (!strict)
      for (Index i = 0; i < n; ++i) labels[i] = nearest(i);
    return std::make_pair(KMeansResult<double>{centers, labels, 0.0, n_iter}, strict);
  };
  // Rows of X32 whose label is not their nearest final center, up to float rounding.
  const auto misplaced_rows = [](const Matrix<float>& X32, const KMeansResult<float>& result) {
    const Matrix<double> centers32 = result.centers.cast<double>();
    Index misplaced = 0;
    for (Index i = 0; i < X32.rows(); ++i) {
      const Eigen::RowVectorXd x = X32.row(i).cast<double>();
      const double own = (x - centers32.row(result.labels[i])).squaredNorm();
      const double best = (centers32.rowwise() - x).rowwise().squaredNorm().minCoeff();
      misplaced += own > best + 1e-3 * (1.0 + best);
    }
    return misplaced;
  };
  // D = 12: the product and the distance bounds; D = 2, 5: exact distances (nearest_center()).
  for (const Index D : {Index(12), Index(2), Index(5)}) {
    // Overlapping blobs, so that Lloyd runs many iterations and rows change clusters late.
    detail::Random rng(91);
    const Index n = 3000, K = 40;
    Matrix<double> blobs(n, D);
    for (Index i = 0; i < n; ++i)
      for (Index d = 0; d < D; ++d) blobs(i, d) = rng.normal() + 3.0 * static_cast<double>((i * 7 + d) % 5);
    blobs.array() += 1e3;  // far from the origin: the bounds work about the data's mean
    for (std::uint64_t seed : {3u, 8u}) {
      const KMeansResult<double> ours = kmeans<double>(blobs, K, seed);
      const auto [plain, strict] = reference_lloyd(blobs, kmeans_plusplus<double>(blobs, K, seed), 1e-4);
      CHECK(ours.n_iter == plain.n_iter && ours.n_iter > 5);
      CHECK(ours.labels == plain.labels);
      CHECK((ours.centers - plain.centers).norm() < 1e-9 * plain.centers.norm());
      double inertia = 0.0;
      for (Index i = 0; i < n; ++i) inertia += (blobs.row(i) - plain.centers.row(plain.labels[i])).squaredNorm();
      CHECK_CLOSE(ours.inertia, inertia, 1e-9);
      (void)strict;
    }
    // float32: every label is its row's nearest final center, up to float rounding.
    const Matrix<float> blobs32 = blobs.cast<float>();
    const KMeansResult<float> ours32 = kmeans<float>(blobs32, K, 5);
    CHECK(misplaced_rows(blobs32, ours32) == 0 && ours32.n_iter > 5);
  }
  // Too many rows times clusters for distance bounds (n K > 2^20, D < 32): every row's center
  // comes from first_largest_product() on each iteration, K not a multiple of its group of
  // centers, D not of a packet, the last block partial.
  {
    detail::Random rng(17);
    const Index n = 8300, D = 9, K = 129;
    Matrix<double> blobs(n, D);
    for (Index i = 0; i < n; ++i)
      for (Index d = 0; d < D; ++d) blobs(i, d) = 0.3 * rng.normal() + 4.0 * static_cast<double>((i * 13 + d * 7) % 11);
    blobs.array() -= 500.0;
    const KMeansResult<double> ours = kmeans<double>(blobs, K, 4);
    const auto [plain, strict] = reference_lloyd(blobs, kmeans_plusplus<double>(blobs, K, 4), 1e-4);
    CHECK(ours.n_iter == plain.n_iter && ours.n_iter > 1);
    CHECK(ours.labels == plain.labels);
    CHECK((ours.centers - plain.centers).norm() < 1e-9 * plain.centers.norm());
    const Matrix<float> blobs32 = blobs.cast<float>();
    CHECK(misplaced_rows(blobs32, kmeans<float>(blobs32, K, 4)) == 0);
    (void)strict;
  }
  // Restarted starts (8000 rows, 8 clusters: 3 runs): Lloyd's iterations went on over all rows
  // (each mean is, to Lloyd's tolerance, the centroid of the rows nearest to it), and over 12
  // seeds their inertia is 2% below that of one k-means run from the same seeds, on average.
  {
    CHECK(kmeans_start_runs(8000, 8, FitOptions::kAutomaticSample) == 3);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal(0.0, 1.0);
    Matrix<double> blobs(8000, 2);
    for (Index i = 0; i < blobs.rows(); ++i) {
      const Index c = i % 11 < 4 ? 0 : i % 8;  // unequal clusters on a ring
      blobs(i, 0) = 6.0 * std::cos(0.785 * c) + normal(rng);
      blobs(i, 1) = 6.0 * std::sin(0.785 * c) + normal(rng);
    }
    const auto inertia_of = [&](const Matrix<double>& centers, LabelVector& labels) {
      double total = 0.0;
      labels.resize(blobs.rows());
      for (Index i = 0; i < blobs.rows(); ++i) {
        Index j = 0;
        total += (centers.rowwise() - blobs.row(i)).rowwise().squaredNorm().minCoeff(&j);
        labels[i] = j;
      }
      return total;
    };
    double restarted = 0.0, single = 0.0;
    for (std::uint64_t seed = 0; seed < 12; ++seed) {
      FitOptions init;
      init.n_components = 8;
      init.max_iter = 0;
      init.seed = seed;
      const Model<double> start = fit<double>(blobs, init).model;
      LabelVector labels;
      restarted += inertia_of(start.means(), labels);
      for (Index k = 0; k < 8; ++k) {
        Eigen::RowVector2d centroid = Eigen::RowVector2d::Zero();
        Index count = 0;
        for (Index i = 0; i < blobs.rows(); ++i)
          if (labels[i] == k) centroid += blobs.row(i), ++count;
        CHECK(count > 0 && (start.means().row(k) - centroid / count).norm() < 0.05);
      }
      single += inertia_of(kmeans<double>(blobs, 8, detail::derive_seed(seed, 0)).centers, labels);
    }
    CHECK(restarted < 0.98 * single);  // measured: 0.948
  }
  return check::finish("test_fit");
}
