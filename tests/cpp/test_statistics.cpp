// The E-step's blocked, shifted statistics against a naive two-pass computation, merging, and
// the M-step's parameters.

#include "check.hpp"
#include "testdata.hpp"

#include <Eigen/QR>
#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

using namespace gaussmix;

namespace {

// Responsibilities with exact zeros in every pattern the accumulator meets (a component with no
// rows in a block, with all of them, with a scattered few) against per-row sums in long double.
template <typename Scalar>
void check_sparse_responsibilities(Index D, CovarianceType type) {
  const Index N = 2500, K = 4;
  std::mt19937_64 rng(D * 7 + static_cast<int>(type));
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Matrix<Scalar> X(N, D), resp = Matrix<Scalar>::Zero(N, K), shift(K, D);
  Vector<Scalar> weight(N);
  for (Index i = 0; i < N; ++i) {
    for (Index d = 0; d < D; ++d) X(i, d) = static_cast<Scalar>(3.0 + normal(rng));
    weight[i] = static_cast<Scalar>(0.5 + uniform(rng));
    resp(i, 0) = static_cast<Scalar>(uniform(rng));                          // every row
    if (i % 97 == 3 || i % 211 == 0) resp(i, 1) = static_cast<Scalar>(uniform(rng));  // a scattered few
    if (i >= 600 && i < 1400) resp(i, 2) = static_cast<Scalar>(uniform(rng));        // whole blocks, none in others
  }                                                                         // component 3: no rows at all
  for (Index k = 0; k < K; ++k)
    for (Index d = 0; d < D; ++d) shift(k, d) = static_cast<Scalar>(3.0 + 0.1 * k - 0.05 * d);
  const SufficientStatistics stats = statistics_from_responsibilities<Scalar>(X, resp, weight, type, shift);
  const double tol = std::is_same_v<Scalar, float> ? 2e-5 : 1e-11;
  for (Index k = 0; k < K; ++k) {
    long double n = 0.0L;
    std::vector<long double> first(D, 0.0L), second(D * D, 0.0L);
    for (Index i = 0; i < N; ++i) {
      const long double r = static_cast<long double>(resp(i, k)) * weight[i];
      n += r;
      for (Index a = 0; a < D; ++a) {
        const long double ca = static_cast<long double>(X(i, a)) - shift(k, a);
        first[a] += r * ca;
        for (Index b = 0; b < D; ++b) second[a * D + b] += r * ca * (static_cast<long double>(X(i, b)) - shift(k, b));
      }
    }
    CHECK(check::close(stats.resp_sum[k], static_cast<double>(n), tol, 1e-300));
    for (Index a = 0; a < D; ++a) {
      CHECK(check::close(stats.first(k, a), static_cast<double>(first[a]), tol, tol * (1.0 + static_cast<double>(n))));
      if (type == CovarianceType::diag)
        CHECK(check::close(stats.second(k, a), static_cast<double>(second[a * D + a]), tol, 1e-300));
      if (type == CovarianceType::full)
        for (Index b = 0; b < D; ++b)
          CHECK(check::close(stats.second(k * D + a, b), static_cast<double>(second[a * D + b]), tol,
                             tol * (1.0 + static_cast<double>(n))));
    }
  }
}

// The precision factor of Model::from_covariances (the M-step's factorisation) against an
// independent one: cov = L Lᵀ by Cholesky–Banachiewicz in long double, then U = L⁻ᵀ by back
// substitution on Lᵀ. Well and badly conditioned covariances, sizes around the kernels' blocks.
void check_precision_factors() {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (Index D : {1, 2, 3, 7, 16, 41, 70}) {
    for (double condition : {1.0, 1e8}) {
      Eigen::MatrixXd A(D, D);
      for (Index i = 0; i < D; ++i)
        for (Index j = 0; j < D; ++j) A(i, j) = normal(rng);
      // Eigenvalues spread geometrically from 1 to 1 / condition, on a random orthogonal basis.
      const Eigen::MatrixXd Q = Eigen::HouseholderQR<Eigen::MatrixXd>(A).householderQ();
      Eigen::VectorXd spectrum(D);
      for (Index i = 0; i < D; ++i) spectrum[i] = std::pow(condition, -static_cast<double>(i) / std::max<Index>(D - 1, 1));
      Eigen::MatrixXd cov = Q * spectrum.asDiagonal() * Q.transpose();
      cov = (0.5 * (cov + cov.transpose())).eval();
      const Model<double> model = Model<double>::from_covariances(CovarianceType::full, Vector<double>::Ones(1),
                                                                  Matrix<double>::Zero(1, D), cov);
      const Matrix<double>& U = model.precisions_cholesky();
      std::vector<long double> L(D * D, 0.0L), Ut(D * D, 0.0L);
      for (Index i = 0; i < D; ++i)
        for (Index j = 0; j <= i; ++j) {
          long double sum = cov(i, j);
          for (Index k = 0; k < j; ++k) sum -= L[i * D + k] * L[j * D + k];
          L[i * D + j] = i == j ? std::sqrt(sum) : sum / L[j * D + j];
        }
      // Lᵀ U = I column by column (U upper): U(i, c) = (δ_ic - sum_{k>i} L(k, i) U(k, c)) / L(i, i).
      for (Index c = 0; c < D; ++c)
        for (Index i = c; i >= 0; --i) {
          long double sum = i == c ? 1.0L : 0.0L;
          for (Index k = i + 1; k <= c; ++k) sum -= L[k * D + i] * Ut[k * D + c];
          Ut[i * D + c] = sum / L[i * D + i];
        }
      // U's entries reach sqrt(condition); rounding cov perturbs U by up to condition times that
      // relative to eps (the bound both factorisations meet, not a property of either).
      const double tolerance = 8.0 * 2.2e-16 * static_cast<double>(D) * std::pow(condition, 1.5);
      for (Index i = 0; i < D; ++i)
        for (Index j = 0; j < D; ++j) {
          if (j < i) CHECK(U(i, j) == 0.0);
          const double error = std::abs(U(i, j) - static_cast<double>(Ut[i * D + j]));
          CHECK(error <= tolerance);
        }
      // Back from the factor (Model::from_precisions_cholesky, the rebuild of a model to score):
      // cov = (U Uᵀ)⁻¹ = VᵀV against V = U⁻¹ by back substitution in long double, then VᵀV.
      const Model<double> rebuilt = Model<double>::from_precisions_cholesky(
          CovarianceType::full, Vector<double>::Ones(1), Matrix<double>::Zero(1, D), U);
      std::vector<long double> V(D * D, 0.0L);  // V(i, c), upper
      for (Index c = 0; c < D; ++c)
        for (Index i = c; i >= 0; --i) {
          long double sum = i == c ? 1.0L : 0.0L;
          for (Index k = i + 1; k <= c; ++k) sum -= static_cast<long double>(U(i, k)) * V[k * D + c];
          V[i * D + c] = sum / U(i, i);
        }
      // cov's entries are at most 1; rounding U perturbs cov by about condition times eps.
      const double cov_tolerance = 8.0 * 2.2e-16 * static_cast<double>(D) * condition;
      for (Index a = 0; a < D; ++a)
        for (Index b = 0; b < D; ++b) {
          long double sum = 0.0L;
          for (Index k = 0; k <= std::min(a, b); ++k) sum += V[k * D + a] * V[k * D + b];
          CHECK(std::abs(rebuilt.covariances()(a, b) - static_cast<double>(sum)) <= cov_tolerance);
          CHECK(rebuilt.covariances()(a, b) == rebuilt.covariances()(b, a));
        }
    }
  }
  // Not positive definite: an exception, never a factor with NaN.
  Eigen::MatrixXd indefinite = Eigen::MatrixXd::Identity(5, 5);
  indefinite(3, 3) = -1e-3;
  CHECK_THROWS(NumericalError, Model<double>::from_covariances(CovarianceType::full, Vector<double>::Ones(1),
                                                               Matrix<double>::Zero(1, 5), indefinite));
  Eigen::MatrixXd singular = Eigen::MatrixXd::Ones(4, 4);
  CHECK_THROWS(NumericalError, Model<double>::from_covariances(CovarianceType::full, Vector<double>::Ones(1),
                                                               Matrix<double>::Zero(1, 4), singular));
}

// The M-step factors many full components a SIMD lane each: every factor must equal the one
// factored alone (Model::from_covariances), whatever the component's position among the lane
// groups and the ones left over, and one singular component anywhere must throw.
void check_lane_factorisation() {
  const Index K = 19, D = 13, N = 4000;  // 19: whole groups of 2, 4 and 8 lanes and leftovers
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix<double> X(N, D), shift = Matrix<double>::Zero(K, D);
  LabelVector labels(N);
  for (Index i = 0; i < N; ++i) {
    labels[i] = i % K;
    for (Index d = 0; d < D; ++d) X(i, d) = normal(rng) * (1.0 + 0.3 * d) + 2.0 * labels[i] + (d == 0 ? 5.0 * (i % K) : 0.0);
  }
  const SufficientStatistics stats = statistics_from_labels<double>(X, labels, Vector<double>(), CovarianceType::full, shift);
  const Model<double> model = maximization_step<double>(stats, 1e-6);
  const Model<double> alone = Model<double>::from_covariances(CovarianceType::full, model.weights(), model.means(),
                                                              model.covariances());
  const double scale = alone.precisions_cholesky().cwiseAbs().maxCoeff();
  CHECK((model.precisions_cholesky() - alone.precisions_cholesky()).cwiseAbs().maxCoeff() <= 1e-12 * scale);
  // The spent model's storage, reused, gives the same model.
  Model<double> spent = maximization_step<double>(stats, 1e-6);
  const Model<double> again = maximization_step<double>(stats, 1e-6, std::move(spent));
  CHECK(again.precisions_cholesky() == model.precisions_cholesky() && again.covariances() == model.covariances());
  CHECK(again.precisions_cholesky_transposed() == model.precisions_cholesky_transposed());
  // One component on a single row (a zero covariance, no regularisation), at each position.
  for (Index bad : {Index(0), Index(5), Index(17)}) {
    LabelVector one = labels;
    for (Index i = 0; i < N; ++i)
      if (one[i] == bad) one[i] = (bad + 1) % K;
    one[bad] = bad;
    const SufficientStatistics singular = statistics_from_labels<double>(X, one, Vector<double>(), CovarianceType::full, shift);
    CHECK_THROWS(NumericalError, maximization_step<double>(singular, 0.0));
  }
}

// The fit's E-step drops responsibilities below 2^-100 of their row's largest (with overlap
// most pairs). Against every term kept, in long double from the model's own factors: the counts,
// moments and log-likelihood agree to rounding. `empty`: two components lie so far from the data
// that nearly all of their responsibilities are such terms (about e^-76, normal numbers in float
// too), and their counts, made of little else, must still be theirs, not zero.
template <typename Scalar>
void check_dropped_responsibilities(CovarianceType type, Index D, bool empty) {
  const Index K = 4;
  Vector<double> weights = Vector<double>::Constant(K, 0.25);
  Matrix<double> means = Matrix<double>::Zero(K, D);
  const double positions[K] = {0.0, 6.0, 12.0, 30.0};  // log ratios near -18, -72 and -450
  for (Index k = 0; k < K; ++k) means(k, 0) = positions[k];
  Matrix<double> covariances(covariance_rows(type, K, D), covariance_cols(type, D));
  for (Index k = 0; k < K; ++k) {
    if (type == CovarianceType::full) {
      Eigen::MatrixXd c = Eigen::MatrixXd::Identity(D, D);
      for (Index d = 1; d < D; ++d) c(d, d - 1) = c(d - 1, d) = 0.3;
      covariances.middleRows(k * D, D) = c;
    } else {
      covariances.row(k).setConstant(1.0 + 0.1 * k);
    }
  }
  const Model<double> truth = Model<double>::from_covariances(type, weights, means, covariances);
  Matrix<double> drawn = truth.sample(3000, 11 + D).X;
  if (empty) {  // data tightly about component 0 (sd 0.1), components 2 and 3 where that puts
    std::mt19937_64 rng(D);  // their log ratios to it near -76 and -78, within float's range
    std::normal_distribution<double> normal(0.0, 0.1);
    for (Index i = 0; i < drawn.rows(); ++i)
      for (Index d = 0; d < D; ++d) drawn(i, d) = normal(rng);
    means(2, 0) = type == CovarianceType::full ? 11.2 : 13.5;
    means(3, 0) = type == CovarianceType::full ? 11.6 : 14.2;
  }
  const Model<Scalar> model =
      Model<Scalar>::from_covariances(type, weights.cast<Scalar>(), means.cast<Scalar>(), covariances.cast<Scalar>());
  const Matrix<Scalar> X = drawn.cast<Scalar>();
  const SufficientStatistics stats = expectation_step(model, X);

  const Index N = X.rows();
  const auto& U = model.precisions_cholesky();
  std::vector<long double> constant(K), log_prob(K), n(K, 0.0L), first(K * D, 0.0L), second(K * D * D, 0.0L);
  for (Index k = 0; k < K; ++k) {
    constant[k] = std::log(static_cast<long double>(model.weights()[k])) - 0.5L * D * std::log(2.0L * 3.14159265358979323846L);
    for (Index d = 0; d < D; ++d)
      constant[k] += std::log(static_cast<long double>(type == CovarianceType::full ? U(k * D + d, d) : U(k, d)));
  }
  long double log_likelihood = 0.0L;
  for (Index i = 0; i < N; ++i) {
    long double top = -INFINITY;
    for (Index k = 0; k < K; ++k) {
      long double q = 0.0L;
      for (Index j = 0; j < D; ++j) {
        long double y = 0.0L;
        if (type == CovarianceType::full)
          for (Index d = 0; d <= j; ++d)
            y += (static_cast<long double>(X(i, d)) - model.means()(k, d)) * static_cast<long double>(U(k * D + d, j));
        else
          y = (static_cast<long double>(X(i, j)) - model.means()(k, j)) * static_cast<long double>(U(k, j));
        q += y * y;
      }
      log_prob[k] = constant[k] - 0.5L * q;
      top = std::max(top, log_prob[k]);
    }
    long double total = 0.0L;
    for (Index k = 0; k < K; ++k) total += std::exp(log_prob[k] - top);
    log_likelihood += top + std::log(total);
    for (Index k = 0; k < K; ++k) {
      const long double r = std::exp(log_prob[k] - top) / total;
      n[k] += r;
      for (Index a = 0; a < D; ++a) {
        const long double ca = static_cast<long double>(X(i, a)) - model.means()(k, a);
        first[k * D + a] += r * ca;
        for (Index b = 0; b < D; ++b)
          second[(k * D + a) * D + b] += r * ca * (static_cast<long double>(X(i, b)) - model.means()(k, b));
      }
    }
  }
  const double tol = std::is_same_v<Scalar, float> ? 2e-5 : 1e-11;
  CHECK(check::close(stats.log_likelihood_sum, static_cast<double>(log_likelihood), tol));
  for (Index k = 0; k < K; ++k) {
    CHECK(stats.resp_sum[k] > 0.0);
    CHECK(check::close(stats.resp_sum[k], static_cast<double>(n[k]), tol));
    // Moments against their own scale: the count times the largest centred value.
    const long double scale = n[k] * 16.0L;
    for (Index a = 0; a < D; ++a) {
      CHECK(check::close(stats.first(k, a), static_cast<double>(first[k * D + a]), tol, tol * static_cast<double>(scale)));
      for (Index b = 0; b < D; ++b) {
        const double expected = static_cast<double>(second[(k * D + a) * D + b]);
        const double atol = tol * static_cast<double>(scale * 16.0L);
        if (type == CovarianceType::full) CHECK(check::close(stats.second(k * D + a, b), expected, tol, atol));
        if (type == CovarianceType::diag && a == b) CHECK(check::close(stats.second(k, a), expected, tol, atol));
      }
    }
  }
}

}  // namespace

// Statistics of hard labels (the k-means start's) against per-row sums in long double, for
// every covariance type, with and without weights: a component with no rows, a zero weight,
// labels in runs and scattered, over several blocks.
template <typename Scalar>
void check_labelled_statistics(Index D, CovarianceType type, bool weighted) {
  const Index N = 5000, K = 7;
  std::mt19937_64 rng(static_cast<std::uint64_t>(D * 10 + static_cast<int>(type)));
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix<Scalar> X(N, D);
  LabelVector labels(N);
  Vector<Scalar> weight(weighted ? N : 0);
  for (Index i = 0; i < N; ++i) {
    labels[i] = i < 1200 ? (i / 300) % K : static_cast<Index>(rng() % K);
    if (labels[i] == 5) labels[i] = 6;  // component 5 has no rows
    for (Index d = 0; d < D; ++d) X(i, d) = static_cast<Scalar>(normal(rng) + 3.0 * labels[i] + 100.0);
    if (weighted) weight[i] = i % 13 == 0 ? Scalar(0) : static_cast<Scalar>(0.5 + (i % 5) * 0.25);
  }
  Matrix<Scalar> shift(K, D);
  for (Index k = 0; k < K; ++k)
    for (Index d = 0; d < D; ++d) shift(k, d) = static_cast<Scalar>(100.0 + 3.0 * k + 0.1 * d);
  const SufficientStatistics stats = statistics_from_labels<Scalar>(X, labels, weight, type, shift);

  using Long = long double;
  std::vector<Long> count(K, 0.0L), first(K * D, 0.0L), second(K * D * D, 0.0L);
  for (Index i = 0; i < N; ++i) {
    const Index k = labels[i];
    const Long w = weighted ? static_cast<Long>(weight[i]) : 1.0L;
    count[k] += w;
    for (Index a = 0; a < D; ++a) {
      const Long ca = static_cast<Long>(X(i, a)) - static_cast<Long>(shift(k, a));
      first[k * D + a] += w * ca;
      for (Index b = 0; b < D; ++b)
        second[(k * D + a) * D + b] += w * ca * (static_cast<Long>(X(i, b)) - static_cast<Long>(shift(k, b)));
    }
  }
  const double tol = std::is_same_v<Scalar, float> ? 1e-4 : 1e-10;
  CHECK(stats.covariance_type == type);
  for (Index k = 0; k < K; ++k) {
    CHECK(std::abs(stats.resp_sum[k] - static_cast<double>(count[k])) <= tol * (1.0 + static_cast<double>(count[k])));
    for (Index a = 0; a < D; ++a) {
      const double scale = 1.0 + std::sqrt(static_cast<double>(count[k] * second[(k * D + a) * D + a]));
      CHECK(std::abs(stats.first(k, a) - static_cast<double>(first[k * D + a])) <= tol * scale);
    }
  }
  for (Index a = 0; a < D; ++a)
    for (Index b = 0; b < D; ++b) {
      Long all = 0.0L, scale = 1.0L;
      for (Index k = 0; k < K; ++k) {
        all += second[(k * D + a) * D + b];
        scale += second[(k * D + a) * D + a] + second[(k * D + b) * D + b];
      }
      for (Index k = 0; k < K; ++k) {
        const double want = static_cast<double>(second[(k * D + a) * D + b]);
        const double err_scale = tol * static_cast<double>(1.0L + second[(k * D + a) * D + a] + second[(k * D + b) * D + b]);
        if (type == CovarianceType::full) CHECK(std::abs(stats.second(k * D + a, b) - want) <= err_scale);
        if ((type == CovarianceType::diag || type == CovarianceType::spherical) && a == b)
          CHECK(std::abs(stats.second(k, a) - want) <= err_scale);
      }
      if (type == CovarianceType::tied)
        CHECK(std::abs(stats.second(a, b) - static_cast<double>(all)) <= tol * static_cast<double>(scale));
    }
}

int main() {
  for (Index D : {1, 2, 4, 5, 33})
    for (auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical})
      for (const bool weighted : {false, true}) {
        check_labelled_statistics<double>(D, type, weighted);
        check_labelled_statistics<float>(D, type, weighted);
      }
  for (const bool empty : {false, true})
    for (Index D : {3, 12})
      for (auto type : {CovarianceType::full, CovarianceType::diag}) {
        check_dropped_responsibilities<double>(type, D, empty);
        check_dropped_responsibilities<float>(type, D, empty);
      }
  check_precision_factors();
  check_lane_factorisation();
  // 9, 17, 64: the row-major second moments of few rows (add_gram_of_rows()) with partial and
  // whole tiles of 8 features and one or two packets.
  for (Index D : {1, 2, 3, 4, 5, 9, 17, 33, 64})
    for (auto type : {CovarianceType::full, CovarianceType::diag}) {
      check_sparse_responsibilities<double>(D, type);
      check_sparse_responsibilities<float>(D, type);
    }
  for (auto type : {CovarianceType::full, CovarianceType::tied, CovarianceType::diag, CovarianceType::spherical}) {
    const Model<double> model = testdata::three_blobs(type);
    const Sample<double> drawn = model.sample(3000, 7);
    const Matrix<double>& X = drawn.X;
    Vector<double> weight = Vector<double>::LinSpaced(X.rows(), 0.5, 2.0);

    const SufficientStatistics stats = expectation_step(model, X, weight);

    // Naive: responsibilities first, then plain sums about each mean.
    const Matrix<double> resp = model.predict_proba(X);
    const Index K = 3, D = 2;
    for (Index k = 0; k < K; ++k) {
      const Vector<double> wr = resp.col(k).cwiseProduct(weight);
      CHECK_CLOSE(stats.resp_sum[k], wr.sum(), 1e-12);
      const Matrix<double> centered = X.rowwise() - model.means().row(k);
      const Eigen::RowVectorXd first = wr.transpose() * centered;
      CHECK((stats.first.row(k) - first).norm() <= 1e-9 * (1.0 + first.norm()));
      const Eigen::MatrixXd second = centered.transpose() * wr.asDiagonal() * centered;
      if (type == CovarianceType::full)
        CHECK((stats.second.middleRows(k * D, D) - second).norm() <= 1e-9 * second.norm());
      if (type == CovarianceType::diag || type == CovarianceType::spherical)
        CHECK((stats.second.row(k).transpose() - second.diagonal()).norm() <= 1e-9 * second.norm());
    }
    CHECK_CLOSE(stats.weight_sum, weight.sum(), 1e-12);
    CHECK_CLOSE(stats.mean_log_likelihood(), model.score(X, weight), 1e-12);

    // Two halves merged equal the whole.
    SufficientStatistics head = expectation_step(model, X.topRows(1000), weight.head(1000));
    head.merge(expectation_step(model, X.bottomRows(2000), weight.tail(2000)));
    CHECK((head.second - stats.second).norm() <= 1e-10 * stats.second.norm());
    CHECK_CLOSE(head.log_likelihood_sum, stats.log_likelihood_sum, 1e-12);

    // M-step: means are the responsibility-weighted averages.
    const Model<double> next = maximization_step<double>(stats, 1e-6);
    for (Index k = 0; k < K; ++k) {
      const Vector<double> wr = resp.col(k).cwiseProduct(weight);
      const Eigen::RowVectorXd mean = (wr.transpose() * X) / wr.sum();
      CHECK((next.means().row(k) - mean).norm() <= 1e-9 * mean.norm());
    }
    CHECK_CLOSE(next.weights().sum(), 1.0, 1e-12);

    // The accumulator fed the posteriors gives the E-step's sums; fed labels, sums per label.
    const SufficientStatistics from_resp =
        statistics_from_responsibilities<double>(X, resp, weight, type, model.means());
    CHECK((from_resp.second - stats.second).norm() <= 1e-9 * stats.second.norm());
    CHECK((from_resp.resp_sum - stats.resp_sum).norm() <= 1e-9 * stats.resp_sum.norm());
    const LabelVector labels = model.predict(X);
    const SufficientStatistics hard = statistics_from_labels<double>(X, labels, weight, type, model.means());
    for (Index k = 0; k < K; ++k) {
      double n = 0.0;
      Eigen::RowVectorXd first = Eigen::RowVectorXd::Zero(D);
      for (Index i = 0; i < X.rows(); ++i)
        if (labels[i] == k) n += weight[i], first += weight[i] * (X.row(i) - model.means().row(k));
      CHECK_CLOSE(hard.resp_sum[k], n, 1e-12);
      CHECK((hard.first.row(k) - first).norm() <= 1e-9 * (1.0 + first.norm()));
    }

    // Recentred statistics equal those accumulated about the new shift directly.
    const Matrix<double> moved = model.means().array() + 0.75;
    const SufficientStatistics direct = statistics_from_responsibilities<double>(X, resp, weight, type, moved);
    const SufficientStatistics recentred = stats.recentred(moved);
    CHECK((recentred.first - direct.first).norm() <= 1e-9 * direct.first.norm());
    CHECK((recentred.second - direct.second).norm() <= 1e-9 * direct.second.norm());
    CHECK_THROWS(InvalidArgument, stats.recentred(Matrix<double>::Zero(2, 2)));

    // The EM driver over a source of statistics equals fit() from the same start.
    FitOptions options;
    options.n_components = K;
    options.covariance_type = type;
    options.tol = 1e-10;
    options.max_iter = 30;
    SufficientStatistics held;
    int calls = 0;
    const StatisticsSource<double> halves = [&](const Model<double>& m) -> const SufficientStatistics& {
      ++calls;
      held = expectation_step(m, X.topRows(1234), weight.head(1234));
      held.merge(expectation_step(m, X.bottomRows(X.rows() - 1234), weight.tail(X.rows() - 1234)));
      return held;
    };
    const FitResult<double> driven = em_fit<double>(halves, [&](std::uint64_t) { return model; }, options);
    const FitResult<double> direct_fit = fit_from<double>(model, X, options, weight);
    CHECK(driven.n_iter == direct_fit.n_iter && calls == driven.n_iter);
    CHECK((driven.model.means() - direct_fit.model.means()).norm() <= 1e-10 * direct_fit.model.means().norm());
    CHECK_CLOSE(driven.lower_bound, direct_fit.lower_bound, 1e-10);
  }
  // Diag and spherical moments of overlapping components, summed kMomentGroup at a time and the
  // remainder alone (K = 7: a group of 4 and one of 3), against plain sums of the posteriors.
  for (auto type : {CovarianceType::diag, CovarianceType::spherical}) {
    const Index K = 7, D = 3;
    std::mt19937_64 rng(29);
    std::normal_distribution<double> normal(0.0, 1.0);
    Matrix<double> means(K, D), covariances(covariance_rows(type, K, D), covariance_cols(type, D));
    for (Index k = 0; k < K; ++k) {
      for (Index d = 0; d < D; ++d) means(k, d) = 5.0 + 0.7 * normal(rng);
      for (Index c = 0; c < covariances.cols(); ++c) covariances(k, c) = 1.0 + 0.1 * (k + c);
    }
    const Model<double> model =
        Model<double>::from_covariances(type, Vector<double>::Constant(K, 1.0 / K), means, covariances);
    const Matrix<double> X = model.sample(2000, 5).X;
    const SufficientStatistics stats = expectation_step(model, X);
    const Matrix<double> resp = model.predict_proba(X);
    for (Index k = 0; k < K; ++k) {
      const Matrix<double> centered = X.rowwise() - model.means().row(k);
      CHECK_CLOSE(stats.resp_sum[k], resp.col(k).sum(), 1e-12);
      const Eigen::RowVectorXd first = resp.col(k).transpose() * centered;
      const Eigen::RowVectorXd second = resp.col(k).transpose() * centered.array().square().matrix();
      CHECK((stats.first.row(k) - first).norm() <= 1e-10 * (1.0 + first.norm()));
      CHECK((stats.second.row(k) - second).norm() <= 1e-10 * second.norm());
    }
  }
  // Statistics about different shifts refuse to merge.
  const auto a = expectation_step(testdata::three_blobs(), testdata::three_blobs().sample(10, 1).X);
  SufficientStatistics b = a;
  b.shift(0, 0) += 1.0;
  CHECK_THROWS(InvalidArgument, b.merge(a));
  // Labels outside [0, K) and negative responsibilities are refused.
  const Matrix<double> Xs = testdata::three_blobs().sample(10, 1).X;
  const Matrix<double> centers = testdata::three_blobs().means();
  CHECK_THROWS(InvalidArgument, statistics_from_labels<double>(Xs, LabelVector::Constant(10, 3), Vector<double>(),
                                                                CovarianceType::full, centers));
  CHECK_THROWS(InvalidArgument, statistics_from_responsibilities<double>(Xs, -Matrix<double>::Ones(10, 3),
                                                                          Vector<double>(), CovarianceType::full, centers));
  return check::finish("test_statistics");
}
